using System.Collections.Concurrent;
using System.Globalization;
using System.Net;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using System.Text.Json;
using System.Text.Json.Nodes;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Trousseau.Tests.Integration.Infrastructure;

namespace Trousseau.Tests.Integration.Vault;

/// <summary>
/// A stand-in for HashiCorp Vault (no Vault binary can be installed here), on real Kestrel, following Vault's
/// documented HTTP API: Transit (keys of every community type, derived, convergent, exportable: those that encrypt do,
/// those that cannot refuse as Vault does; ciphertext <c>vault:vN:</c> + base64 of nonce ‖ ciphertext ‖ tag, or RSA-OAEP;
/// batch_input; rotate; <c>keys/NAME/config</c> with min_decryption_version, min_encryption_version and
/// deletion_allowed, versions below min_decryption_version archived as Vault archives them; key deletion), token
/// lookup-self and renew-self with TTL and max TTL, enabling a secrets engine (<c>sys/mounts/PATH</c>, answered as for
/// a path in use), Kubernetes and AppRole login only where those methods are
/// mounted (<c>auth/MOUNT/login</c>; anything else is a token-checked path, as in Vault; each mount has its own roles;
/// a Kubernetes login answers the service account's namespace and name in <c>auth.metadata</c>, as Vault does, and
/// refuses an empty role or JWT with 400 "missing role" / "missing jwt"; a role may issue batch tokens, which are
/// not renewable; an
/// AppRole secret id good for a number of uses is refused once they are used up, as with Vault's
/// <c>secret_id_num_uses</c>), token revoke-self (a batch token refused, as Vault cannot revoke one), policies that deny a path,
/// sys/health, an encrypt for a missing key created on the spot or, for a token that may update but not create
/// (<see cref="DenyCreate"/>), refused 403 as Vault's existence check has it, and <c>{"errors":[...]}</c> bodies with Vault's status codes. Every answer with a body but errors has
/// Vault's envelope (request_id, lease fields, data, wrap_info, warnings, auth, mount_type); batch results, datakey,
/// decrypt's error texts and their order follow Vault's Transit source (<see cref="VaultApiShapeTests"/> checks the
/// shapes, against a real Vault as well when one is configured). Every request is recorded with the
/// status it got (<see cref="Requests"/>), so tests count retries, logins and refusals where Vault would see them.
/// Fault switches: seal, latency, 5xx, revoke every token, any status or body on chosen paths (<see cref="Fault"/>),
/// answers held back on chosen paths until the test lets them go, before or after the request is carried out
/// (<see cref="Hold"/>).
/// </summary>
internal sealed class VaultTestServer : IAsyncDisposable
{
    private static readonly string[] DefaultPolicies = ["default"];

    /// <summary>sys/health leaves cluster_name and cluster_id out while the node is sealed, as Vault does.</summary>
    private static readonly JsonSerializerOptions HealthJson = new(JsonSerializerDefaults.Web) { DefaultIgnoreCondition = System.Text.Json.Serialization.JsonIgnoreCondition.WhenWritingNull };

    private readonly WebApplication _app;
    private readonly ConcurrentDictionary<string, TokenEntry> _tokens = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<string, TransitKey> _keys = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<(string Mount, string Role), KubernetesRole> _kubernetesRoles = new();
    private readonly ConcurrentDictionary<string, AppRoleSecret> _appRoles = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<string, List<KvVersion>> _kv = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<string, bool> _forbiddenPaths = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<string, bool> _createDenied = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<string, string> _authMounts = new(StringComparer.Ordinal);
    private readonly List<VaultRequest> _requests = [];
    private readonly List<string> _issued = [];
    private readonly List<string> _namespaces = [];
    private int _failures;
    private (int Status, string Error) _failure = (500, "internal error");
    private long _transitCalls;
    private long _held;
    private long _abandoned;

    private VaultTestServer(WebApplication app)
    {
        _app = app;
        RootToken = "hvs.root-" + Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(12));
        _tokens[RootToken] = new TokenEntry(null, null, Renewable: false, TimeSpan.Zero, Path: "auth/token/root", Policies: ["root"], IssuedAt: DateTimeOffset.UtcNow);
    }

    public Uri Address { get; private set; } = null!;

    public string RootToken { get; }

    /// <summary>While true, every endpoint but sys/health answers 503 "Vault is sealed", and health says sealed.</summary>
    public bool Sealed { get; set; }

    /// <summary>The <c>X-Vault-Namespace</c> header of every request so far, in order (empty when absent).</summary>
    public IReadOnlyList<string> Namespaces
    {
        get
        {
            lock (_namespaces)
            {
                return [.. _namespaces];
            }
        }
    }

    /// <summary>The clock token TTLs run on; a test that drives time itself shares its clock with the provider.</summary>
    public TimeProvider Clock { get; set; } = TimeProvider.System;

    /// <summary>When set, sys/health answers this status (429 standby, 501 not initialized, ...).</summary>
    public int? HealthStatus { get; set; }

    /// <summary>Added to every answer.</summary>
    public TimeSpan Latency { get; set; }

    /// <summary>
    /// While set, every request but sys/health whose path matches is answered with the fault's status, Vault's
    /// <c>{"errors":[...]}</c> body and, when given, <c>Retry-After</c> (as a rate-limit quota's 429 is); null
    /// answers normally again.
    /// </summary>
    public VaultFault? Fault { get; set; }

    /// <summary>
    /// While set, every request whose path matches waits, before it is answered, until the hold's task completes;
    /// null answers at once again.
    /// </summary>
    public VaultHold? Hold { get; set; }

    /// <summary>
    /// While set, every request but sys/health is answered as a standby node without request forwarding answers it:
    /// 307, no body, and <c>Location</c> naming the same path and query at this address, the active node's.
    /// </summary>
    public Uri? RedirectTo { get; set; }

    /// <summary>How many requests <see cref="Hold"/> has held back so far, counted as each arrives.</summary>
    public long Held => Interlocked.Read(ref _held);

    /// <summary>How many requests <see cref="Hold"/> held back were abandoned by their client (cancelled, or the connection closed) before their answer.</summary>
    public long Abandoned => Interlocked.Read(ref _abandoned);

    /// <summary>Every token issued so far but the root token (revoked ones included), to check they leak nowhere.</summary>
    public IReadOnlyCollection<string> IssuedTokens
    {
        get
        {
            lock (_issued)
            {
                return [.. _issued];
            }
        }
    }

    /// <summary>Every request answered so far, in order: method, path (without <c>/v1/</c>) and status.</summary>
    public IReadOnlyList<VaultRequest> Requests
    {
        get
        {
            lock (_requests)
            {
                return [.. _requests];
            }
        }
    }

    /// <summary>Transit encrypt and decrypt calls so far (batch calls count once).</summary>
    public long TransitCalls => Interlocked.Read(ref _transitCalls);

    public static async Task<VaultTestServer> StartAsync(IssuedCertificate? certificate = null)
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        if (certificate is null)
        {
            builder.WebHost.UseUrls("http://127.0.0.1:0");
        }
        else
        {
            var served = X509Certificate2.CreateFromPem(certificate.CertificatePem, certificate.KeyPem);
            builder.WebHost.ConfigureKestrel(kestrel => kestrel.Listen(IPAddress.Loopback, 0, listen => listen.UseHttps(served)));
        }

        var app = builder.Build();
        var server = new VaultTestServer(app);
        app.Run(server.HandleAsync);
        await app.StartAsync();
        var address = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.Single();
        server.Address = new Uri(address);
        return server;
    }

    /// <summary>
    /// The next <paramref name="count"/> requests answer <paramref name="status"/> with Vault's error body saying
    /// <paramref name="error"/>: 500 "internal error" unless given.
    /// </summary>
    public void FailNext(int count, int status = 500, string error = "internal error")
    {
        _failure = (status, error);
        Interlocked.Exchange(ref _failures, count);
    }

    /// <summary>Revokes every token but the root token, as <c>vault token revoke</c> would.</summary>
    public void RevokeAllTokens()
    {
        foreach (var token in _tokens.Keys.Where(t => t != RootToken))
        {
            _tokens.TryRemove(token, out _);
        }
    }

    /// <summary>A token with a TTL, as an operator would create with <c>vault token create -ttl</c>.</summary>
    public string CreateToken(TimeSpan ttl, TimeSpan maxTtl, bool renewable = true) => Issue(ttl, maxTtl, renewable, batch: false);

    /// <summary>
    /// A Kubernetes auth role, with the method mounted at <paramref name="mount"/> as <c>vault auth enable
    /// -path=MOUNT kubernetes</c> would, that admits <paramref name="jwt"/> as the service account
    /// <paramref name="serviceAccountNamespace"/>/<paramref name="serviceAccountName"/> (as Kubernetes' TokenReview
    /// would tell Vault). Called again for the same role, it admits one more token, with the last TTLs given. With
    /// <paramref name="batchTokens"/> the role issues batch tokens (<c>token_type=batch</c>): not renewable.
    /// </summary>
    public void AddKubernetesRole(
        string role,
        string jwt,
        TimeSpan ttl,
        TimeSpan maxTtl,
        string mount = "kubernetes",
        string serviceAccountNamespace = "default",
        string serviceAccountName = "default",
        bool batchTokens = false)
    {
        _authMounts[mount] = "kubernetes";
        var entry = _kubernetesRoles.AddOrUpdate(
            (mount, role),
            _ => new KubernetesRole(ttl, maxTtl, batchTokens, new(StringComparer.Ordinal)),
            (_, existing) => existing with { Ttl = ttl, MaxTtl = maxTtl, BatchTokens = batchTokens });
        entry.Accounts[jwt] = new ServiceAccount(serviceAccountNamespace, serviceAccountName);
    }

    /// <summary>
    /// Makes every role refuse <paramref name="jwt"/> from now on, as Kubernetes' TokenReview refuses a projected
    /// service-account token that expired after kubelet rotated it: Vault answers such a login 403.
    /// </summary>
    public void RejectServiceAccountToken(string jwt)
    {
        foreach (var role in _kubernetesRoles.Values)
        {
            role.Accounts.TryRemove(jwt, out _);
        }
    }

    /// <summary>
    /// An AppRole role, with the method mounted at <c>approle</c> as <c>vault auth enable approle</c> would, and a
    /// secret id for it: good for <paramref name="secretIdNumUses"/> logins (as <c>vault write
    /// auth/approle/role/NAME/secret-id secret_id_num_uses=N</c> makes one), or for any number when 0. Its tokens
    /// live <paramref name="ttl"/> (20 minutes unless given), renewable up to <paramref name="maxTtl"/> (1 hour), as the
    /// role's <c>token_ttl</c> and <c>token_max_ttl</c> set them.
    /// </summary>
    public void AddAppRole(string roleId, string secretId, int secretIdNumUses = 0, TimeSpan? ttl = null, TimeSpan? maxTtl = null)
    {
        _authMounts["approle"] = "approle";
        _appRoles[roleId] = new AppRoleSecret(secretId, secretIdNumUses, ttl ?? TimeSpan.FromMinutes(20), maxTtl ?? TimeSpan.FromHours(1));
    }

    /// <summary>Whether <paramref name="token"/> is still good: issued, not revoked and not expired.</summary>
    public bool IsLive(string token) => _tokens.TryGetValue(token, out var entry) && (entry.ExpiresAt is not { } expires || expires > Clock.GetUtcNow());

    /// <summary>
    /// Turns every fault switch off and the clock back to the system's, so that a test that failed half-way leaves
    /// nothing on for the next test on a shared server.
    /// </summary>
    public void ClearFaults()
    {
        Sealed = false;
        RedirectTo = null;
        Latency = TimeSpan.Zero;
        Fault = null;
        Hold = null;
        HealthStatus = null;
        Clock = TimeProvider.System;
        FailNext(0);
    }

    /// <summary>Requests so far whose path (without <c>/v1/</c>) contains <paramref name="pathContains"/>, answered <paramref name="status"/> when given.</summary>
    public int Count(string pathContains, int? status = null) =>
        Requests.Count(r => r.Path.Contains(pathContains, StringComparison.Ordinal) && (status is null || r.Status == status));

    /// <summary>Creates a Transit key, as <c>vault write -f transit/keys/NAME</c> would.</summary>
    public void CreateKey(string name) => _keys.TryAdd(name, new TransitKey());

    /// <summary>
    /// Makes <paramref name="path"/> (for example <c>transit/encrypt/KEY</c> or <c>secret/data/app</c>) answer 403 to
    /// every token but the root token, as a policy without it would.
    /// </summary>
    public void Forbid(string path) => _forbiddenPaths[path] = true;

    /// <summary>
    /// Gives every token but the root token <c>update</c> without <c>create</c> on <paramref name="path"/>, as the
    /// least-privilege policy in Trousseau's docs does for <c>transit/encrypt/KEY</c>. Vault's Transit encrypt has an
    /// existence check (<c>pathEncryptExistenceCheck</c>): for a key that does not exist the request is a create, which
    /// such a policy refuses with 403 "permission denied" before Transit sees it; a token that may create (the root
    /// token, or any token on a path not named here) has the key created on the spot (an upsert), as Vault does.
    /// </summary>
    public void DenyCreate(string path) => _createDenied[path] = true;

    /// <summary>Lets every token call <paramref name="path"/> again, as adding it to the tokens' policy would (<see cref="Forbid"/>).</summary>
    public void Allow(string path) => _forbiddenPaths.TryRemove(path, out _);

    public async ValueTask DisposeAsync() => await _app.DisposeAsync();

    /// <summary>Vault's token prefixes: <c>hvs.</c> for service tokens, <c>hvb.</c> for batch tokens.</summary>
    private static string NewToken(bool batch = false) => (batch ? "hvb." : "hvs.") + Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(16));

    /// <summary>
    /// A token that lives <paramref name="ttl"/>. A batch token (<c>token_type=batch</c>) is never renewable: Vault's
    /// login answer says <c>renewable: false</c>, and renew-self answers 400 "batch tokens cannot be renewed".
    /// </summary>
    private string Issue(TimeSpan ttl, TimeSpan maxTtl, bool renewable, bool batch, string path = "auth/token/create", IReadOnlyDictionary<string, string>? meta = null)
    {
        var token = NewToken(batch);
        lock (_issued)
        {
            _issued.Add(token);
        }

        var now = Clock.GetUtcNow();
        _tokens[token] = new TokenEntry(now + ttl, now + maxTtl, renewable && !batch, ttl, path, DefaultPolicies, now, batch, meta);
        return token;
    }

    private async Task HandleAsync(HttpContext context)
    {
        var arrived = DateTimeOffset.UtcNow;
        try
        {
            if (Hold is { Answered: true } late && (context.Request.Path.Value ?? "").Contains(late.PathContains, StringComparison.Ordinal))
            {
                await AnswerLateAsync(context, late.Release);
            }
            else
            {
                await AnswerAsync(context);
            }
        }
        finally
        {
            lock (_requests)
            {
                _requests.Add(new VaultRequest(context.Request.Method, (context.Request.Path.Value ?? "").Replace("/v1/", "", StringComparison.Ordinal), context.Response.StatusCode, arrived));
            }
        }
    }

    /// <summary>Carries the request out at once and sends its answer once <paramref name="release"/> completes.</summary>
    private async Task AnswerLateAsync(HttpContext context, Task release)
    {
        var body = context.Response.Body;
        using var answer = new MemoryStream();
        context.Response.Body = answer;
        try
        {
            await AnswerAsync(context);
            Interlocked.Increment(ref _held);
            await WaitForReleaseAsync(context, release);
        }
        finally
        {
            context.Response.Body = body;
        }

        answer.Position = 0;
        await answer.CopyToAsync(body, context.RequestAborted);
    }

    /// <summary>Waits until <paramref name="release"/> completes, counting the request in <see cref="Abandoned"/> when its client leaves first.</summary>
    private async Task WaitForReleaseAsync(HttpContext context, Task release)
    {
        try
        {
            await release.WaitAsync(context.RequestAborted);
        }
        catch (OperationCanceledException) when (context.RequestAborted.IsCancellationRequested)
        {
            Interlocked.Increment(ref _abandoned);
            throw;
        }
    }

    private async Task AnswerAsync(HttpContext context)
    {
        if (Latency > TimeSpan.Zero)
        {
            await Task.Delay(Latency, context.RequestAborted);
        }

        var path = context.Request.Path.Value ?? "";
        if (Hold is { Answered: false } hold && path.Contains(hold.PathContains, StringComparison.Ordinal))
        {
            Interlocked.Increment(ref _held);
            await WaitForReleaseAsync(context, hold.Release);
        }

        var method = context.Request.Method;
        lock (_namespaces)
        {
            _namespaces.Add(context.Request.Headers["X-Vault-Namespace"].ToString());
        }

        if (path == "/v1/sys/health")
        {
            // Vault's sys/health body: a sealed or uninitialized node also reports itself sealed and standby.
            var initialized = HealthStatus != 501;
            var isSealed = Sealed || !initialized;
            context.Response.StatusCode = Sealed ? 503 : HealthStatus ?? 200;
            await context.Response.WriteAsJsonAsync(new
            {
                initialized,
                @sealed = isSealed,
                standby = isSealed || HealthStatus is 429 or 473,
                performance_standby = HealthStatus == 473,
                replication_performance_mode = "disabled",
                replication_dr_mode = "disabled",
                server_time_utc = DateTimeOffset.UtcNow.ToUnixTimeSeconds(),
                version = "1.20.0",
                enterprise = false,
                cluster_name = isSealed ? null : "vault-cluster-trousseau-test",
                cluster_id = isSealed ? null : "8f4b1c9e-1c7a-4d4e-9a3b-2f6c0d9e7a51",
                echo_duration_ms = 0,
                clock_skew_ms = 0,
                replication_primary_canary_age_ms = 0,
            }, HealthJson);
            return;
        }

        if (Sealed)
        {
            await ErrorAsync(context, 503, "Vault is sealed");
            return;
        }

        if (RedirectTo is { } active)
        {
            context.Response.StatusCode = 307;
            context.Response.Headers.Location = new Uri(active, path + context.Request.QueryString).AbsoluteUri;
            return;
        }

        if (Fault is { } fault && (fault.PathContains is null || path.Contains(fault.PathContains, StringComparison.Ordinal)))
        {
            if (fault.RetryAfter is { } retryAfter)
            {
                context.Response.Headers.RetryAfter = ((int)retryAfter.TotalSeconds).ToString(CultureInfo.InvariantCulture);
            }

            if (fault.Body is { } raw)
            {
                context.Response.StatusCode = fault.Status;
                context.Response.ContentType = "application/json";
                await context.Response.WriteAsync(raw);
                return;
            }

            await ErrorAsync(context, fault.Status, fault.Error);
            return;
        }

        if (Volatile.Read(ref _failures) > 0 && Interlocked.Decrement(ref _failures) >= 0)
        {
            await ErrorAsync(context, _failure.Status, _failure.Error);
            return;
        }

        JsonObject body;
        try
        {
            body = context.Request.ContentLength is > 0 || context.Request.Headers.TransferEncoding.Count > 0
                ? JsonNode.Parse(await new StreamReader(context.Request.Body).ReadToEndAsync()) as JsonObject ?? []
                : [];
        }
        catch (JsonException)
        {
            await ErrorAsync(context, 400, "failed to parse JSON input");
            return;
        }

        var segments = path.Trim('/').Split('/');
        // Only a mounted auth method has a login path; any other path needs a token, as Vault's router has it.
        if (segments is ["v1", "auth", var authMount, "login"] && method is "POST" or "PUT" && _authMounts.TryGetValue(authMount, out var authType))
        {
            await (authType == "approle" ? AppRoleLoginAsync(context, body) : KubernetesLoginAsync(context, authMount, body));
            return;
        }

        var token = context.Request.Headers["X-Vault-Token"].ToString();
        if (!_tokens.TryGetValue(token, out var entry) || entry.ExpiresAt is { } expires && expires <= Clock.GetUtcNow())
        {
            // Vault adds "invalid token" to a refusal of a token it does not know (revoked, expired or made up),
            // not to one its policy denies nor to a request with no token at all.
            await ErrorAsync(context, 403, token.Length == 0 ? "permission denied" : "2 errors occurred:\n\t* permission denied\n\t* invalid token\n\n");
            return;
        }

        if (token != RootToken && _forbiddenPaths.ContainsKey(string.Join('/', segments.Skip(1))))
        {
            await ErrorAsync(context, 403, "permission denied");
            return;
        }

        switch (segments)
        {
            case ["v1", "auth", "token", "lookup-self"] when method == "GET":
                await EnvelopeAsync(context, "token", data: entry.Describe(token, Clock.GetUtcNow()));
                return;
            case ["v1", "auth", "token", "renew-self"] when method is "POST" or "PUT":
                await RenewAsync(context, token, entry);
                return;
            case ["v1", "auth", "token", "revoke-self"] when method is "POST" or "PUT":
                // Vault's token store (revokeCommon): a batch token is refused with 400; any other is revoked, 204 and
                // no body, and refused from then on as a token Vault does not know.
                if (entry.Batch)
                {
                    await ErrorAsync(context, 400, "batch tokens cannot be revoked");
                    return;
                }

                _tokens.TryRemove(token, out _);
                context.Response.StatusCode = 204;
                return;
            case ["v1", var mount, "encrypt", var name] when method is "POST" or "PUT" && mount != "auth":
                Interlocked.Increment(ref _transitCalls);
                if (token != RootToken && !_keys.ContainsKey(name) && _createDenied.ContainsKey(string.Join('/', segments.Skip(1))))
                {
                    // Vault's ACL checks the create capability that the existence check asked for, before Transit runs.
                    await ErrorAsync(context, 403, "permission denied");
                    return;
                }

                await EncryptAsync(context, name, body);
                return;
            case ["v1", var mount, "decrypt", var name] when method is "POST" or "PUT" && mount != "auth":
                Interlocked.Increment(ref _transitCalls);
                await DecryptAsync(context, name, body);
                return;
            case ["v1", var mount, "data", ..] when segments.Length > 3 && mount != "auth":
                await KeyValueAsync(context, string.Join('/', segments.Skip(1)), body);
                return;
            case ["v1", var mount, "rewrap", var name] when method is "POST" or "PUT" && mount != "auth":
                await RewrapAsync(context, name, body);
                return;
            case ["v1", var mount, "datakey", var kind, var name] when method is "POST" or "PUT" && mount != "auth":
                Interlocked.Increment(ref _transitCalls);
                await DataKeyAsync(context, kind, name, body);
                return;
            case ["v1", _, "keys", var name] when method == "GET":
                await ReadKeyAsync(context, name);
                return;
            case ["v1", _, "keys", var name] when method is "POST" or "PUT":
                await CreateKeyAsync(context, name, body);
                return;
            case ["v1", _, "keys", var name] when method == "DELETE":
                await DeleteKeyAsync(context, name);
                return;
            case ["v1", _, "keys", var name, "rotate"] when method is "POST" or "PUT":
                if (!_keys.TryGetValue(name, out var key))
                {
                    await ErrorAsync(context, 400, "key not found");
                    return;
                }

                key.Rotate();
                await DataAsync(context, key.Describe(name));
                return;
            case ["v1", _, "keys", var name, "config"] when method is "POST" or "PUT":
                await ConfigureKeyAsync(context, name, body);
                return;
            case ["v1", var mount, "encrypt" or "decrypt" or "rewrap", _] when mount != "auth":
            case ["v1", var dataKeyMount, "datakey", _, _] when dataKeyMount != "auth":
            case ["v1", _, "keys", _, "rotate" or "config"]:
                // The path exists but has no handler for this method: Vault's framework answers 405.
                await ErrorAsync(context, 405, "1 error occurred:\n\t* unsupported operation\n\n");
                return;
            case ["v1", "sys", "mounts", .. var mount] when method is "POST" or "PUT" && mount.Length > 0:
                // Transit and KV v2 answer at every mount already, as if enabled: Vault's answer to enabling one again.
                await ErrorAsync(context, 400, $"path is already in use at {string.Join('/', mount)}/");
                return;
            case ["v1", "auth", ..]:
                await ErrorAsync(context, 404, $"no handler for route \"{string.Join('/', segments.Skip(1))}\". route entry not found.");
                return;
            default:
                context.Response.StatusCode = 404;
                await context.Response.WriteAsJsonAsync(new { errors = Array.Empty<string>() });
                return;
        }
    }

    private async Task KeyValueAsync(HttpContext context, string path, JsonObject body)
    {
        if (context.Request.Method == "GET")
        {
            if (!_kv.TryGetValue(path, out var versions))
            {
                context.Response.StatusCode = 404;
                await context.Response.WriteAsJsonAsync(new { errors = Array.Empty<string>() });
                return;
            }

            KvVersion latest;
            int version;
            lock (versions)
            {
                (latest, version) = (versions[^1], versions.Count);
            }

            await EnvelopeAsync(context, "kv", data: new { data = latest.Data, metadata = KvMetadata(latest, version) });
            return;
        }

        var data = body["data"] as JsonObject;
        if (data is null)
        {
            await ErrorAsync(context, 400, "no data provided");
            return;
        }

        var list = _kv.GetOrAdd(path, _ => []);
        lock (list)
        {
            if (body["options"]?["cas"]?.GetValue<int>() is { } cas && cas != list.Count)
            {
                context.Response.StatusCode = 400;
            }
            else
            {
                list.Add(new KvVersion((JsonObject)data.DeepClone(), DateTimeOffset.UtcNow));
            }
        }

        if (context.Response.StatusCode == 400)
        {
            await ErrorAsync(context, 400, "check-and-set parameter did not match the current version");
            return;
        }

        KvVersion written;
        int number;
        lock (list)
        {
            (written, number) = (list[^1], list.Count);
        }

        await EnvelopeAsync(context, "kv", data: KvMetadata(written, number));
    }

    /// <summary>A KV v2 version's metadata, as Vault answers it on read (<c>data.metadata</c>) and on write (<c>data</c>).</summary>
    private static object KvMetadata(KvVersion version, int number) => new
    {
        created_time = version.Created.ToString("yyyy-MM-dd'T'HH:mm:ss.fffffff'Z'", CultureInfo.InvariantCulture),
        custom_metadata = (object?)null,
        deletion_time = "",
        destroyed = false,
        version = number,
    };

    private async Task RenewAsync(HttpContext context, string token, TokenEntry entry)
    {
        // Vault's ExpirationManager.renewAuthEntry: a batch token is refused before anything else is looked at.
        if (entry.Batch)
        {
            await ErrorAsync(context, 400, "batch tokens cannot be renewed");
            return;
        }

        // A token without a TTL (the root token) has no lease for Vault's expiration manager to find.
        if (entry.ExpiresAt is null)
        {
            await ErrorAsync(context, 400, "invalid lease ID");
            return;
        }

        if (!entry.Renewable)
        {
            await ErrorAsync(context, 400, "lease is not renewable");
            return;
        }

        var now = Clock.GetUtcNow();
        var expires = now + entry.Ttl;
        if (entry.MaxExpiresAt is { } max && expires > max)
        {
            expires = max;
        }

        _tokens[token] = entry with { ExpiresAt = expires, LastRenewal = now };
        await EnvelopeAsync(context, "token", auth: entry.Auth(token, expires - now));
    }

    private async Task KubernetesLoginAsync(HttpContext context, string mount, JsonObject body)
    {
        // The Kubernetes auth plugin's pathLogin, in its order: an empty role or jwt is 400 "missing role" / "missing
        // jwt", an unknown role 400 "invalid role name", a token TokenReview does not admit 403 "permission denied".
        var roleName = body["role"]?.GetValue<string>() ?? "";
        var jwt = body["jwt"]?.GetValue<string>() ?? "";
        if (roleName.Length == 0 || jwt.Length == 0)
        {
            await ErrorAsync(context, 400, roleName.Length == 0 ? "missing role" : "missing jwt");
            return;
        }

        if (!_kubernetesRoles.TryGetValue((mount, roleName), out var role))
        {
            await ErrorAsync(context, 400, $"invalid role name \"{roleName}\"");
            return;
        }

        if (!role.Accounts.TryGetValue(jwt, out var account))
        {
            await ErrorAsync(context, 403, "permission denied");
            return;
        }

        // Vault's documented answer: the service account TokenReview named, in auth.metadata.
        await IssueAsync(context, "kubernetes", $"auth/{mount}/login", role.Ttl, role.MaxTtl, role.BatchTokens, new Dictionary<string, string>
        {
            ["role"] = roleName,
            ["service_account_name"] = account.Name,
            ["service_account_namespace"] = account.Namespace,
            ["service_account_secret_name"] = "",
            ["service_account_uid"] = Guid.NewGuid().ToString(),
        });
    }

    private async Task AppRoleLoginAsync(HttpContext context, JsonObject body)
    {
        // Vault's answer to an unknown role, a wrong secret id and one whose uses are spent (Vault deletes it at its
        // last use, path_login.go) alike.
        var roleId = body["role_id"]?.GetValue<string>() ?? "";
        if (!_appRoles.TryGetValue(roleId, out var secret) || body["secret_id"]?.GetValue<string>() != secret.SecretId || !secret.TryUse())
        {
            await ErrorAsync(context, 400, "invalid role or secret ID");
            return;
        }

        await IssueAsync(context, "approle", "auth/approle/login", secret.Ttl, secret.MaxTtl, batch: false, new Dictionary<string, string> { ["role_name"] = "trousseau" });
    }

    /// <summary>A login's answer: Vault's envelope with <c>data</c> null and the new token in <c>auth</c>.</summary>
    private async Task IssueAsync(HttpContext context, string mountType, string path, TimeSpan ttl, TimeSpan maxTtl, bool batch, Dictionary<string, string> metadata)
    {
        var token = Issue(ttl, maxTtl, renewable: true, batch, path, metadata);
        await EnvelopeAsync(context, mountType, auth: _tokens[token].Auth(token, ttl));
    }

    private async Task EncryptAsync(HttpContext context, string name, JsonObject body)
    {
        if (body["batch_input"] is JsonArray { Count: 0 })
        {
            await ErrorAsync(context, 400, "missing batch input to process");
            return;
        }

        if (body["batch_input"] is JsonArray batch)
        {
            // An item without the field is no item at all: Vault fails the whole request while decoding the batch.
            if (MissingBatchField(batch, "plaintext", "missing plaintext to encrypt") is { } missing)
            {
                await ErrorAsync(context, 500, missing);
                return;
            }

            var batchKey = _keys.GetOrAdd(name, _ => new TransitKey());
            var sealedItems = batch.Select(item => Seal(batchKey, item?["plaintext"]?.GetValue<string>())).ToList();
            var results = sealedItems.Select((r, i) => r.Error is null
                ? (object)new { ciphertext = r.Ciphertext, key_version = r.KeyVersion, reference = Reference(batch[i]) }
                : new { error = r.Error, reference = Reference(batch[i]) }).ToList();
            await BatchAnswerAsync(context, body, sealedItems.Count(r => r.Error is null), sealedItems.Count(r => r.Error is not null), new { batch_results = results });
            return;
        }

        if (body["plaintext"] is null)
        {
            await ErrorAsync(context, 400, "missing plaintext to encrypt");
            return;
        }

        var key = _keys.GetOrAdd(name, _ => new TransitKey());
        var result = Seal(key, body["plaintext"]?.GetValue<string>());
        if (result.Error is { } error)
        {
            await ErrorAsync(context, 400, error);
            return;
        }

        await DataAsync(context, new { ciphertext = result.Ciphertext, key_version = result.KeyVersion });
    }

    private async Task DecryptAsync(HttpContext context, string name, JsonObject body)
    {
        if (body["batch_input"] is JsonArray { Count: 0 })
        {
            await ErrorAsync(context, 400, "missing batch input to process");
            return;
        }

        // Vault's order: the batch is decoded and the single ciphertext checked before the key is looked up.
        if (body["batch_input"] is JsonArray batch && MissingBatchField(batch, "ciphertext", "missing ciphertext to decrypt") is { } missing)
        {
            await ErrorAsync(context, 500, missing);
            return;
        }

        if (body["batch_input"] is null && string.IsNullOrEmpty(body["ciphertext"]?.GetValue<string>()))
        {
            await ErrorAsync(context, 400, "missing ciphertext to decrypt");
            return;
        }

        if (!_keys.TryGetValue(name, out var key))
        {
            await ErrorAsync(context, 400, "encryption key not found");
            return;
        }

        if (body["batch_input"] is JsonArray items)
        {
            var opened = items.Select(item => Open(key, item?["ciphertext"]?.GetValue<string>())).ToList();

            // A failed item still has its (empty) plaintext: only error is left out when empty.
            var results = opened.Select((r, i) => r.Error is null
                ? (object)new { plaintext = r.Plaintext, reference = Reference(items[i]) }
                : new { plaintext = "", error = r.Error, reference = Reference(items[i]) }).ToList();
            await BatchAnswerAsync(context, body, opened.Count(r => r.Error is null), opened.Count(r => r.Error is not null), new { batch_results = results }, opened.Count(r => r.Error == RsaDecryptFailure));
            return;
        }

        var (plaintext, failure) = Open(key, body["ciphertext"]?.GetValue<string>());
        if (failure is not null)
        {
            await RefuseCiphertextAsync(context, failure);
            return;
        }

        await DataAsync(context, new { plaintext });
    }

    private async Task RewrapAsync(HttpContext context, string name, JsonObject body)
    {
        if (string.IsNullOrEmpty(body["ciphertext"]?.GetValue<string>()))
        {
            await ErrorAsync(context, 400, "missing ciphertext to decrypt");
            return;
        }

        if (!_keys.TryGetValue(name, out var key))
        {
            await ErrorAsync(context, 400, "encryption key not found");
            return;
        }

        var (plaintext, failure) = Open(key, body["ciphertext"]?.GetValue<string>());
        if (failure is not null)
        {
            await RefuseCiphertextAsync(context, failure);
            return;
        }

        var result = Seal(key, plaintext);
        await DataAsync(context, new { ciphertext = result.Ciphertext, key_version = result.KeyVersion });
    }

    /// <summary>
    /// Transit's datakey, in Vault's order: <c>bits</c> (128, 256 or 512; 256 when absent), then the path's kind
    /// (<c>plaintext</c> answers the key too, <c>wrapped</c> only its ciphertext), then the key, which datakey never
    /// creates.
    /// </summary>
    private async Task DataKeyAsync(HttpContext context, string kind, string name, JsonObject body)
    {
        if (!TryReadInt(body, "bits", out var bits, out var invalid))
        {
            await ErrorAsync(context, 400, invalid);
            return;
        }

        if (bits is not (null or 128 or 256 or 512))
        {
            await ErrorAsync(context, 400, "invalid bit length");
            return;
        }

        if (kind is not ("plaintext" or "wrapped"))
        {
            await ErrorAsync(context, 400, "Invalid path, must be 'plaintext' or 'wrapped'");
            return;
        }

        if (!_keys.TryGetValue(name, out var key))
        {
            await ErrorAsync(context, 400, "encryption key not found");
            return;
        }

        var plaintext = Convert.ToBase64String(RandomNumberGenerator.GetBytes((bits ?? 256) / 8));
        var result = Seal(key, plaintext);
        if (result.Error is { } refused)
        {
            await ErrorAsync(context, 400, refused);
            return;
        }

        await DataAsync(context, kind == "plaintext"
            ? new { key_version = result.KeyVersion, ciphertext = result.Ciphertext, plaintext }
            : new { key_version = result.KeyVersion, ciphertext = result.Ciphertext });
    }

    private async Task ReadKeyAsync(HttpContext context, string name)
    {
        if (!_keys.TryGetValue(name, out var key))
        {
            context.Response.StatusCode = 404;
            await context.Response.WriteAsJsonAsync(new { errors = Array.Empty<string>() });
            return;
        }

        await DataAsync(context, key.Describe(name));
    }

    /// <summary>
    /// Vault's <c>pathPolicyWrite</c>: its parameters read and checked in its order (auto_rotate_period, convergent
    /// without derived, the type), then the key created, or the existing one answered with a warning, its settings
    /// unchanged.
    /// </summary>
    private async Task CreateKeyAsync(HttpContext context, string name, JsonObject body)
    {
        if (!TryReadBool(body, "derived", out var derived, out var invalid)
            || !TryReadBool(body, "convergent_encryption", out var convergent, out invalid)
            || !TryReadBool(body, "exportable", out var exportable, out invalid)
            || !TryReadBool(body, "allow_plaintext_backup", out var allowPlaintextBackup, out invalid)
            || !TryReadSeconds(body, "auto_rotate_period", out var autoRotate, out invalid))
        {
            await ErrorAsync(context, 400, invalid);
            return;
        }

        if (autoRotate is > 0 and < 3600)
        {
            await ErrorAsync(context, 400, "auto rotate period must be 0 to disable or at least an hour");
            return;
        }

        if (convergent == true && derived != true)
        {
            await ErrorAsync(context, 400, "convergent encryption requires derivation to be enabled");
            return;
        }

        var type = body["type"]?.GetValueKind() == JsonValueKind.String ? body["type"]!.GetValue<string>() : TransitKey.DefaultType;
        if (!TransitKey.Types.Contains(type, StringComparer.Ordinal))
        {
            await ErrorAsync(context, 400, $"unknown key type {type}");
            return;
        }

        var created = false;
        var key = _keys.GetOrAdd(name, _ =>
        {
            created = true;
            return new TransitKey(type, derived ?? false, convergent ?? false, exportable ?? false, allowPlaintextBackup ?? false, autoRotate ?? 0);
        });
        await DataAsync(context, key.Describe(name), created ? null : [$"key {name} already existed"]);
    }

    /// <summary>
    /// A duration parameter as Vault's framework reads one (<c>TypeDurationSecond</c>): a number of seconds, or a
    /// string holding one or a Go duration with one unit (<c>24h</c>, <c>90m</c>, <c>3600s</c>).
    /// </summary>
    private static bool TryReadSeconds(JsonObject body, string field, out long? seconds, out string error)
    {
        (seconds, error) = (null, "");
        if (!body.TryGetPropertyValue(field, out var node) || node is null)
        {
            return true;
        }

        var text = node.GetValueKind() == JsonValueKind.String ? node.GetValue<string>() : node.ToJsonString();
        var unit = text.Length > 0 ? text[^1] switch { 'h' => 3600, 'm' => 60, 's' => 1, _ => 0 } : 0;
        if (long.TryParse(unit == 0 ? text : text[..^1], NumberStyles.None, CultureInfo.InvariantCulture, out var parsed))
        {
            seconds = parsed * Math.Max(unit, 1);
            return true;
        }

        error = $"error converting input {node.ToJsonString()} for field \"{field}\"";
        return false;
    }

    private async Task DeleteKeyAsync(HttpContext context, string name)
    {
        // Vault's lock manager refuses with a plain error, which the delete handler wraps and its HTTP layer answers 400.
        if (!_keys.TryGetValue(name, out var key))
        {
            await ErrorAsync(context, 400, $"error deleting policy {name}: could not delete key; not found");
            return;
        }

        if (!key.DeletionAllowed)
        {
            await ErrorAsync(context, 400, $"error deleting policy {name}: deletion is not allowed for this key");
            return;
        }

        _keys.TryRemove(name, out _);
        context.Response.StatusCode = 204;
    }

    private async Task ConfigureKeyAsync(HttpContext context, string name, JsonObject body)
    {
        if (!_keys.TryGetValue(name, out var key))
        {
            await ErrorAsync(context, 400, $"no existing key named {name} could be found");
            return;
        }

        if (!TryReadInt(body, "min_decryption_version", out var minDecryption, out var invalid)
            || !TryReadInt(body, "min_encryption_version", out var minEncryption, out invalid)
            || !TryReadBool(body, "deletion_allowed", out var deletionAllowed, out invalid))
        {
            await ErrorAsync(context, 400, invalid);
            return;
        }

        var (error, warning) = key.Configure(minDecryption, minEncryption, deletionAllowed);
        if (error is not null)
        {
            await ErrorAsync(context, 400, error);
            return;
        }

        await DataAsync(context, key.Describe(name), warning is null ? null : [warning]);
    }

    /// <summary>An integer parameter as Vault's framework reads one: a JSON number or a string holding one.</summary>
    private static bool TryReadInt(JsonObject body, string field, out int? value, out string error)
    {
        (value, error) = (null, "");
        if (!body.TryGetPropertyValue(field, out var node) || node is null)
        {
            return true;
        }

        var text = node.GetValueKind() == JsonValueKind.String ? node.GetValue<string>() : node.ToJsonString();
        if (int.TryParse(text, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out var parsed))
        {
            value = parsed;
            return true;
        }

        error = $"error converting input {node.ToJsonString()} for field \"{field}\"";
        return false;
    }

    /// <summary>A boolean parameter as Vault's framework reads one: a JSON boolean or a string holding one.</summary>
    private static bool TryReadBool(JsonObject body, string field, out bool? value, out string error)
    {
        (value, error) = (null, "");
        if (!body.TryGetPropertyValue(field, out var node) || node is null)
        {
            return true;
        }

        var text = node.GetValueKind() == JsonValueKind.String ? node.GetValue<string>() : node.ToJsonString();
        if (bool.TryParse(text, out var parsed))
        {
            value = parsed;
            return true;
        }

        error = $"error converting input {node.ToJsonString()} for field \"{field}\"";
        return false;
    }

    /// <summary>
    /// Vault's error for a batch one of whose items lacks <paramref name="field"/> (its batch decoder's, wrapped as an
    /// internal error, which Vault answers 500), or null when every item has it.
    /// </summary>
    private static string? MissingBatchField(JsonArray batch, string field, string what)
    {
        var missing = batch.Select((item, i) => (item as JsonObject)?.ContainsKey(field) == true ? null : $"* '[{i}].{field}' {what}").OfType<string>().Order(StringComparer.Ordinal).ToList();
        return missing.Count == 0
            ? null
            : $"1 error occurred:\n\t* failed to parse batch input: {missing.Count} error(s) decoding:\n\n{string.Join('\n', missing)}\n\n";
    }

    /// <summary>The caller's <c>reference</c> of a batch item, which Vault copies onto its result ("" when none).</summary>
    private static string Reference(JsonNode? item) => item?["reference"]?.GetValue<string>() ?? "";

    /// <summary>
    /// A batch's answer, as Vault's <c>batchRequestResponse</c> gives it: 200 when every item succeeded, else 400 with
    /// every item's result, or the caller's <c>partial_failure_response_code</c> (1-599) when some items succeeded.
    /// </summary>
    private static async Task BatchAnswerAsync(HttpContext context, JsonObject body, int succeeded, int failed, object data, int internalFailures = 0)
    {
        if (!TryReadInt(body, "partial_failure_response_code", out var partial, out var invalid))
        {
            await ErrorAsync(context, 400, invalid);
            return;
        }

        // Vault's batchRequestResponse: a user error makes the batch 400, else an internal error 500.
        context.Response.StatusCode = failed == 0 ? 200 : succeeded > 0 && partial is >= 1 and <= 599 ? partial.Value : failed > internalFailures ? 400 : 500;
        await DataAsync(context, data);
    }

    /// <summary>
    /// Decodes base64 as Go's <c>base64.StdEncoding</c> does, which Vault uses: padding required, line breaks skipped,
    /// anything else refused with Go's message naming the offset of the offending input byte.
    /// </summary>
    private static byte[]? DecodeBase64(string text, out string error)
    {
        error = "";
        var kept = new System.Text.StringBuilder(text.Length);
        var offsets = new List<int>(text.Length);
        for (var i = 0; i < text.Length; i++)
        {
            if (text[i] is '\r' or '\n')
            {
                continue;
            }

            if (!(char.IsAsciiLetterOrDigit(text[i]) || text[i] is '+' or '/' or '='))
            {
                error = $"illegal base64 data at input byte {i}";
                return null;
            }

            kept.Append(text[i]);
            offsets.Add(i);
        }

        var padding = kept.ToString().IndexOf('=', StringComparison.Ordinal);
        if (kept.Length % 4 != 0 || padding >= 0 && (padding < kept.Length - 2 || kept.ToString()[padding..].Any(c => c != '=')))
        {
            var at = padding >= 0 ? offsets[padding] : offsets.Count > 0 ? offsets[^1] + 1 - kept.Length % 4 : 0;
            error = $"illegal base64 data at input byte {at}";
            return null;
        }

        return Convert.FromBase64String(kept.ToString());
    }

    /// <summary>Encrypts as Vault's <c>Policy.EncryptWithFactory</c> does, with its checks in its order and its error texts.</summary>
    private static SealResult Seal(TransitKey key, string? plaintextBase64)
    {
        if (!key.SupportsEncryption)
        {
            return new SealResult(null, 0, $"message encryption not supported for key type {key.Type}");
        }

        if (DecodeBase64(plaintextBase64 ?? "", out var invalid) is not { } plaintext)
        {
            return new SealResult(null, 0, invalid);
        }

        if (key.Derived)
        {
            return new SealResult(null, 0, TransitKey.MissingContext);
        }

        var (version, material) = key.Latest;
        byte[] output;
        if (key.IsRsa)
        {
            using var rsa = RSA.Create();
            rsa.ImportRSAPrivateKey(material, out _);
            output = rsa.Encrypt(plaintext, RSAEncryptionPadding.OaepSHA256);
        }
        else
        {
            output = new byte[12 + plaintext.Length + 16];
            RandomNumberGenerator.Fill(output.AsSpan(0, 12));
            if (key.Type == "chacha20-poly1305")
            {
                using var chacha = new ChaCha20Poly1305(material);
                chacha.Encrypt(output.AsSpan(0, 12), plaintext, output.AsSpan(12, plaintext.Length), output.AsSpan(12 + plaintext.Length));
            }
            else
            {
                using var aes = new AesGcm(material, 16);
                aes.Encrypt(output.AsSpan(0, 12), plaintext, output.AsSpan(12, plaintext.Length), output.AsSpan(12 + plaintext.Length));
            }
        }

        return new SealResult($"vault:v{version}:{Convert.ToBase64String(output)}", version, null);
    }

    /// <summary>Vault's <c>DecryptWithFactory</c> error for an RSA key that does not decrypt a ciphertext, an internal error.</summary>
    private const string RsaDecryptFailure = "failed to RSA decrypt the ciphertext: crypto/rsa: decryption error";

    /// <summary>Decrypts as Vault's <c>Policy.DecryptWithFactory</c> does, with its checks in its order and its error texts.</summary>
    private static (string? Plaintext, string? Error) Open(TransitKey key, string? ciphertext)
    {
        const string Prefix = "vault:v";
        if (!key.SupportsEncryption)
        {
            return (null, $"message decryption not supported for key type {key.Type}");
        }

        if (ciphertext is null || !ciphertext.StartsWith(Prefix, StringComparison.Ordinal))
        {
            return (null, "invalid ciphertext: no prefix");
        }

        var parts = ciphertext[Prefix.Length..].Split(':', 2);
        if (parts.Length != 2)
        {
            return (null, "invalid ciphertext: wrong number of fields");
        }

        // Vault's strconv.Atoi: Go's int, 64 bits on the platforms Vault ships for.
        if (!long.TryParse(parts[0], NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out var version))
        {
            return (null, "invalid ciphertext: version number could not be decoded");
        }

        // Keys numbered from 0 before Vault 0.3 are read as version 1.
        if (version == 0)
        {
            version = 1;
        }

        if (key.DecryptionKey(version) is not { } material)
        {
            return (null, version > key.LatestVersion ? "invalid ciphertext: version is too new" : "ciphertext or signature version is disallowed by policy (too old)");
        }

        if (DecodeBase64(parts[1], out _) is not { } data)
        {
            return (null, "invalid ciphertext: could not decode base64");
        }

        if (key.Derived)
        {
            return (null, TransitKey.MissingContext);
        }

        if (key.IsRsa)
        {
            using var rsa = RSA.Create();
            rsa.ImportRSAPrivateKey(material, out _);
            try
            {
                return (Convert.ToBase64String(rsa.Decrypt(data, RSAEncryptionPadding.OaepSHA256)), null);
            }
            catch (CryptographicException)
            {
                return (null, RsaDecryptFailure);
            }
        }

        // Vault checks only that the nonce is there; a shorter tag fails authentication, as Go's GCM has it.
        if (data.Length < 12)
        {
            return (null, "invalid ciphertext length");
        }

        if (data.Length < 28)
        {
            return (null, "cipher: message authentication failed");
        }

        var plaintext = new byte[data.Length - 28];
        try
        {
            if (key.Type == "chacha20-poly1305")
            {
                using var chacha = new ChaCha20Poly1305(material);
                chacha.Decrypt(data.AsSpan(0, 12), data.AsSpan(12, plaintext.Length), data.AsSpan(12 + plaintext.Length), plaintext);
            }
            else
            {
                using var aes = new AesGcm(material, 16);
                aes.Decrypt(data.AsSpan(0, 12), data.AsSpan(12, plaintext.Length), data.AsSpan(12 + plaintext.Length), plaintext);
            }
        }
        catch (AuthenticationTagMismatchException)
        {
            return (null, "cipher: message authentication failed");
        }

        return (Convert.ToBase64String(plaintext), null);
    }

    /// <summary>A Transit answer: Vault's envelope around <paramref name="data"/>, with the status already set (200 unless told).</summary>
    private static Task DataAsync(HttpContext context, object data, IReadOnlyList<string>? warnings = null) =>
        EnvelopeAsync(context, "transit", data, warnings: warnings);

    /// <summary>
    /// The envelope of every Vault answer with a body but errors: request_id, the lease fields, data, wrap_info,
    /// warnings, auth and the type of the mount that answered, present even when null.
    /// </summary>
    private static Task EnvelopeAsync(HttpContext context, string mountType, object? data = null, object? auth = null, IReadOnlyList<string>? warnings = null) =>
        context.Response.WriteAsJsonAsync(new
        {
            request_id = Guid.NewGuid().ToString(),
            lease_id = "",
            renewable = false,
            lease_duration = 0,
            data,
            wrap_info = (object?)null,
            warnings,
            auth,
            mount_type = mountType,
        });

    /// <summary>
    /// Transit decrypt's or rewrap's refusal of one ciphertext: 400 with the error, but 500 for an RSA key that does not
    /// decrypt it, which Vault's <c>DecryptWithFactory</c> returns as an internal error, listed as Vault's request
    /// handling lists a backend's error ("1 error occurred").
    /// </summary>
    private static Task RefuseCiphertextAsync(HttpContext context, string failure) =>
        failure == RsaDecryptFailure ? ErrorAsync(context, 500, $"1 error occurred:\n\t* {failure}\n\n") : ErrorAsync(context, 400, failure);

    private static async Task ErrorAsync(HttpContext context, int status, string error)
    {
        context.Response.StatusCode = status;
        await context.Response.WriteAsJsonAsync(new { errors = new[] { error } });
    }

    /// <summary>
    /// What <see cref="Fault"/> answers: a status, Vault's error text (or, with <see cref="Body"/>, that raw JSON
    /// body instead), an optional <c>Retry-After</c>, on every path or those containing <see cref="PathContains"/>.
    /// </summary>
    public sealed record VaultFault(int Status, string Error, TimeSpan? RetryAfter = null, string? PathContains = null, string? Body = null);

    /// <summary>
    /// What <see cref="Hold"/> holds back: requests whose path contains <see cref="PathContains"/>, until
    /// <see cref="Release"/> completes. With <see cref="Answered"/>, each is carried out at once (a login issues its
    /// token) and only its answer waits, as on a slow network: a client that gives up meanwhile never gets it.
    /// </summary>
    public sealed record VaultHold(string PathContains, Task Release, bool Answered = false);

    /// <summary>One request as the server answered it: method, path without <c>/v1/</c>, status, when it arrived.</summary>
    public sealed record VaultRequest(string Method, string Path, int Status, DateTimeOffset At);

    /// <summary>
    /// A token: when it expires (never, for the root token), how far renewals may take it, the TTL a renewal asks
    /// for, the path that created it, its policies and the auth method's metadata.
    /// </summary>
    private sealed record TokenEntry(
        DateTimeOffset? ExpiresAt,
        DateTimeOffset? MaxExpiresAt,
        bool Renewable,
        TimeSpan Ttl,
        string Path,
        IReadOnlyList<string> Policies,
        DateTimeOffset IssuedAt,
        bool Batch = false,
        IReadOnlyDictionary<string, string>? Meta = null,
        DateTimeOffset? LastRenewal = null)
    {
        public string Accessor { get; } = Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(12));

        private string Type => Batch ? "batch" : "service";

        /// <summary>
        /// The <c>data</c> of Vault's token lookup answer (<c>auth/token/lookup-self</c>). As in Vault's token store,
        /// only a token with a lease (a TTL) says whether it is renewable and when it was issued and last renewed; the
        /// root token's answer has none of these, and its expire_time is null.
        /// </summary>
        public Dictionary<string, object?> Describe(string token, DateTimeOffset now)
        {
            var data = new Dictionary<string, object?>
            {
                ["accessor"] = Batch ? "" : Accessor,
                ["creation_time"] = IssuedAt.ToUnixTimeSeconds(),
                ["creation_ttl"] = (long)Ttl.TotalSeconds,
                ["display_name"] = Policies.Contains("root") ? "root" : Path.Replace("auth/", "", StringComparison.Ordinal).Replace("/login", "", StringComparison.Ordinal).Replace('/', '-'),
                ["entity_id"] = "",
                ["expire_time"] = null,
                ["explicit_max_ttl"] = 0,
                ["id"] = token,
                ["meta"] = Meta,
                ["num_uses"] = 0,
                ["orphan"] = true,
                ["path"] = Path,
                ["policies"] = Policies,
                ["ttl"] = 0L,
                ["type"] = Type,
            };
            if (ExpiresAt is { } expires)
            {
                data["expire_time"] = Timestamp(expires);
                data["ttl"] = Math.Max(0, (long)(expires - now).TotalSeconds);
                data["renewable"] = Renewable;
                data["issue_time"] = Timestamp(IssuedAt);
                if (LastRenewal is { } renewed)
                {
                    data["last_renewal_time"] = renewed.ToUnixTimeSeconds();
                    data["last_renewal"] = Timestamp(renewed);
                }
            }

            return data;
        }

        /// <summary>A time as Go's JSON encoding writes it: RFC 3339 with fractional seconds.</summary>
        private static string Timestamp(DateTimeOffset time) => time.UtcDateTime.ToString("yyyy-MM-dd'T'HH:mm:ss.FFFFFFF'Z'", CultureInfo.InvariantCulture);

        /// <summary>The <c>auth</c> block of a login or renewal answer, for <paramref name="lease"/> from now.</summary>
        public object Auth(string token, TimeSpan lease) => new
        {
            client_token = token,
            accessor = Batch ? "" : Accessor,
            policies = Policies,
            token_policies = Policies,
            metadata = Meta,
            lease_duration = (long)lease.TotalSeconds,
            renewable = Renewable,
            entity_id = "",
            token_type = Type,
            orphan = true,
            mfa_requirement = (object?)null,
            num_uses = 0,
        };
    }

    /// <summary>One version of a KV v2 secret and when it was written.</summary>
    private sealed record KvVersion(JsonObject Data, DateTimeOffset Created);

    private sealed record KubernetesRole(TimeSpan Ttl, TimeSpan MaxTtl, bool BatchTokens, ConcurrentDictionary<string, ServiceAccount> Accounts);

    private sealed record ServiceAccount(string Namespace, string Name);

    /// <summary>An AppRole secret id, the logins it has left (unlimited when created with 0 uses) and its role's token TTLs.</summary>
    private sealed class AppRoleSecret(string secretId, int numUses, TimeSpan ttl, TimeSpan maxTtl)
    {
        private readonly bool _limited = numUses > 0;
        private int _left = numUses;

        public string SecretId { get; } = secretId;

        public TimeSpan Ttl { get; } = ttl;

        public TimeSpan MaxTtl { get; } = maxTtl;

        public bool TryUse() => !_limited || Interlocked.Decrement(ref _left) >= 0;
    }

    private sealed record SealResult(string? Ciphertext, int KeyVersion, string? Error);

    /// <summary>One version of a Transit key: its material, when it was made, and the public key of an asymmetric type.</summary>
    private sealed record KeyVersion(byte[] Material, DateTimeOffset Created, string? PublicKey);

    /// <summary>
    /// A Transit key: its type and creation settings (<c>keys/NAME</c>: type, derived, convergent_encryption,
    /// exportable, allow_plaintext_backup, auto_rotate_period), its versions, and the configuration
    /// <c>keys/NAME/config</c> sets. As in Vault's <c>Policy.handleArchiving</c>, versions below
    /// min_decryption_version are archived: the read-key answer no longer lists them and they decrypt nothing, until
    /// min_decryption_version is lowered again. Encryption works as Vault's <c>keysutil</c> does it for the types that
    /// support it (AES-GCM and ChaCha20-Poly1305: nonce ‖ ciphertext ‖ tag; RSA: OAEP with SHA-256); a derived key
    /// refuses every call without a context, and this server takes none, as Trousseau sends none.
    /// </summary>
    private sealed class TransitKey(string type = TransitKey.DefaultType, bool derived = false, bool convergent = false, bool exportable = false, bool allowPlaintextBackup = false, long autoRotateSeconds = 0)
    {
        public const string DefaultType = "aes256-gcm96";

        /// <summary>The key types Vault's community edition creates (<c>pathPolicyWrite</c>), managed and CMAC keys aside.</summary>
        public static readonly string[] Types = ["aes128-gcm96", "aes256-gcm96", "chacha20-poly1305", "ecdsa-p256", "ecdsa-p384", "ecdsa-p521", "ed25519", "rsa-2048", "rsa-3072", "rsa-4096", "hmac"];

        /// <summary>Vault's <c>GetKey</c> refusal for a derived key asked without a context.</summary>
        public const string MissingContext = "missing 'context' for key derivation; the key was created using a derived key, which means additional, per-request information must be included in order to perform operations with the key";

        private readonly Lock _lock = new();
        private readonly List<KeyVersion> _versions = [NewVersion(type)];
        private int _minDecryptionVersion = 1;
        private int _minEncryptionVersion;
        private bool _deletionAllowed;

        public string Type => type;

        public bool Derived => derived;

        /// <summary>Vault's <c>KeyType.EncryptionSupported</c> (and DecryptionSupported, the same types).</summary>
        public bool SupportsEncryption => type is "aes128-gcm96" or "aes256-gcm96" or "chacha20-poly1305" || IsRsa;

        public bool IsRsa => type.StartsWith("rsa-", StringComparison.Ordinal);

        public bool DeletionAllowed
        {
            get
            {
                lock (_lock)
                {
                    return _deletionAllowed;
                }
            }
        }

        public int LatestVersion
        {
            get
            {
                lock (_lock)
                {
                    return _versions.Count;
                }
            }
        }

        public (int Version, byte[] Material) Latest
        {
            get
            {
                lock (_lock)
                {
                    return (_versions.Count, _versions[^1].Material);
                }
            }
        }

        private bool IsAsymmetric => type.StartsWith("ecdsa-", StringComparison.Ordinal) || type == "ed25519" || IsRsa;

        /// <summary>The key material of <paramref name="version"/>, or null when it is too new or below min_decryption_version.</summary>
        public byte[]? DecryptionKey(long version)
        {
            lock (_lock)
            {
                return version > _versions.Count || version < _minDecryptionVersion ? null : _versions[(int)version - 1].Material;
            }
        }

        public void Rotate()
        {
            lock (_lock)
            {
                _versions.Add(NewVersion(type));
            }
        }

        /// <summary>Vault's <c>pathKeysConfigWrite</c> for these three fields: all applied, or none with Vault's error.</summary>
        public (string? Error, string? Warning) Configure(int? minDecryption, int? minEncryption, bool? deletionAllowed)
        {
            lock (_lock)
            {
                var latest = _versions.Count;
                var (newMinDecryption, newMinEncryption) = (_minDecryptionVersion, _minEncryptionVersion);
                string? warning = null;
                if (minDecryption is { } decryption)
                {
                    if (decryption < 0)
                    {
                        return ("min decryption version cannot be negative", null);
                    }

                    if (decryption == 0)
                    {
                        decryption = 1;
                        warning = "since Vault 0.3, transit key numbering starts at 1; forcing minimum to 1";
                    }

                    if (decryption != newMinDecryption && decryption > latest)
                    {
                        return ($"cannot set min decryption version of {decryption}, latest key version is {latest}", null);
                    }

                    newMinDecryption = decryption;
                }

                if (minEncryption is { } encryption)
                {
                    if (encryption < 0)
                    {
                        return ("min encryption version cannot be negative", null);
                    }

                    if (encryption != newMinEncryption && encryption > latest)
                    {
                        return ($"cannot set min encryption version of {encryption}, latest key version is {latest}", null);
                    }

                    newMinEncryption = encryption;
                }

                if (newMinEncryption > 0 && newMinEncryption < newMinDecryption)
                {
                    return ($"cannot set min encryption/decryption values; min encryption version of {newMinEncryption} must be greater than or equal to min decryption version of {newMinDecryption}", null);
                }

                (_minDecryptionVersion, _minEncryptionVersion) = (newMinDecryption, newMinEncryption);
                _deletionAllowed = deletionAllowed ?? _deletionAllowed;
                return (null, warning);
            }
        }

        /// <summary>
        /// The <c>data</c> of Vault's read-key answer (<c>formatKeyPolicy</c>): symmetric keys list each version's
        /// creation in seconds, asymmetric ones an object with its public key and creation time, HMAC keys none; a
        /// derived key adds its KDF and whether it is convergent.
        /// </summary>
        public Dictionary<string, object?> Describe(string name)
        {
            lock (_lock)
            {
                var versions = Enumerable.Range(_minDecryptionVersion, _versions.Count - _minDecryptionVersion + 1);
                var data = new Dictionary<string, object?>
                {
                    ["name"] = name,
                    ["type"] = type,
                    ["derived"] = derived,
                    ["deletion_allowed"] = _deletionAllowed,
                    ["min_available_version"] = 0,
                    ["min_decryption_version"] = _minDecryptionVersion,
                    ["min_encryption_version"] = _minEncryptionVersion,
                    ["latest_version"] = _versions.Count,
                    ["exportable"] = exportable,
                    ["allow_plaintext_backup"] = allowPlaintextBackup,
                    ["supports_encryption"] = SupportsEncryption,
                    ["supports_decryption"] = SupportsEncryption,
                    ["supports_signing"] = IsAsymmetric,
                    ["supports_derivation"] = type is "aes128-gcm96" or "aes256-gcm96" or "chacha20-poly1305" or "ed25519",
                    ["auto_rotate_period"] = autoRotateSeconds,
                    ["imported_key"] = false,
                };
                if (type == "hmac")
                {
                    data["key_size"] = _versions[^1].Material.Length;
                }

                if (derived)
                {
                    data["kdf"] = "hkdf_sha256";
                    data["convergent_encryption"] = convergent;
                    if (convergent)
                    {
                        data["convergent_encryption_version"] = 3;
                    }
                }

                if (IsAsymmetric)
                {
                    data["keys"] = versions.ToDictionary(v => v.ToString(CultureInfo.InvariantCulture), v => (object)new Dictionary<string, object?>
                    {
                        ["certificate_chain"] = "",
                        ["creation_time"] = _versions[v - 1].Created.UtcDateTime.ToString("yyyy-MM-dd'T'HH:mm:ss.FFFFFFF'Z'", CultureInfo.InvariantCulture),
                        ["name"] = type switch
                        {
                            "ecdsa-p256" => "P-256",
                            "ecdsa-p384" => "P-384",
                            "ecdsa-p521" => "P-521",
                            _ => type,
                        },
                        ["public_key"] = type == "ed25519" && derived ? "" : _versions[v - 1].PublicKey,
                    });
                }
                else if (type != "hmac")
                {
                    data["keys"] = versions.ToDictionary(v => v.ToString(CultureInfo.InvariantCulture), v => (object)_versions[v - 1].Created.ToUnixTimeSeconds());
                }

                return data;
            }
        }

        /// <summary>
        /// A new version's material as Vault makes it for <paramref name="keyType"/>: random bytes for symmetric and
        /// HMAC keys, a private key for asymmetric ones, with the public key Vault lists (PEM, or base64 for ed25519).
        /// </summary>
        private static KeyVersion NewVersion(string keyType)
        {
            var created = DateTimeOffset.UtcNow;
            switch (keyType)
            {
                case "aes128-gcm96":
                    return new KeyVersion(RandomNumberGenerator.GetBytes(16), created, null);
                case "ecdsa-p256" or "ecdsa-p384" or "ecdsa-p521":
                    using (var ecdsa = ECDsa.Create(keyType switch { "ecdsa-p256" => ECCurve.NamedCurves.nistP256, "ecdsa-p384" => ECCurve.NamedCurves.nistP384, _ => ECCurve.NamedCurves.nistP521 }))
                    {
                        return new KeyVersion(ecdsa.ExportECPrivateKey(), created, ecdsa.ExportSubjectPublicKeyInfoPem() + "\n");
                    }

                case "ed25519":
                    // .NET has no Ed25519: the seed is random and the listed public key random bytes of its length.
                    return new KeyVersion(RandomNumberGenerator.GetBytes(32), created, Convert.ToBase64String(RandomNumberGenerator.GetBytes(32)));
                case var rsaType when rsaType.StartsWith("rsa-", StringComparison.Ordinal):
                    using (var rsa = RSA.Create(int.Parse(rsaType["rsa-".Length..], CultureInfo.InvariantCulture)))
                    {
                        return new KeyVersion(rsa.ExportRSAPrivateKey(), created, rsa.ExportSubjectPublicKeyInfoPem() + "\n");
                    }

                default:
                    return new KeyVersion(RandomNumberGenerator.GetBytes(32), created, null);
            }
        }
    }
}
