using System.Net;
using System.Net.Http.Json;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using Trousseau.Tests.Integration.Etcd;
using Trousseau.Tests.Integration.Infrastructure;
using Trousseau.Tests.Integration.Vault;
using Trousseau.Tests.StoreContract;

namespace Trousseau.Tests.Integration.Server;

/// <summary>
/// An operator debugging trousseaud turns every log category to Trace, with JSON console logs and their scopes, and
/// exports traces and metrics over OTLP: still no secret value, password, token, secret id, etcd password or KMS
/// plaintext reaches the log, the exports, the audit trail or the data directory, whatever clectl and the KMS socket
/// ask, and when Vault and etcd fail.
/// </summary>
public sealed class TraceLoggingSecrecyTests : IDisposable
{
    private const string Encrypt = "/v2.KeyManagementService/Encrypt";
    private const string Decrypt = "/v2.KeyManagementService/Decrypt";

    private readonly TempDirectory _temp = new();
    private readonly SecretScan _scan = new();

    /// <summary>Read by <see cref="StoreFactAttribute"/>: needs etcd, and the in-repo Vault test server for its faults and tokens.</summary>
    public static string? SkipReason => EtcdProcess.SkipReason ?? VaultTarget.TestServerSkipReason;

    private string DataDir => _temp.Combine("data");

    private string Socket => _temp.Combine("run", "kms.sock");

    public void Dispose() => _temp.Dispose();

    [StoreFact]
    public async Task At_trace_level_with_vault_approle_and_etcd_auth_no_secret_reaches_the_log_the_exports_the_audit_trail_or_the_disk()
    {
        const string KeyName = "trace-canary";
        await using var vault = await VaultTestServer.StartAsync();
        vault.CreateKey(KeyName);
        var roleId = Guid.NewGuid().ToString();
        var secretId = Canary("approle-secret-id");
        vault.AddAppRole(roleId, secretId);
        await using var etcd = await EtcdProcess.StartAsync();
        var etcdPassword = Canary("etcd-password");
        await etcd.EnableAuthAsync("trousseau", etcdPassword, "/trousseau/");
        await using var collector = await OtlpCollector.StartAsync();

        var environment = TraceEverything(collector);
        environment["Trousseau__KeyProvider"] = "vault";
        environment["Trousseau__Vault__Address"] = vault.Address.ToString();
        environment["Trousseau__Vault__KeyName"] = KeyName;
        environment["Trousseau__Vault__Auth__Method"] = "approle";
        environment["Trousseau__Vault__Auth__RoleId"] = roleId;
        environment["Trousseau__Vault__Auth__SecretId"] = secretId;
        environment["Trousseau__Store"] = "etcd";
        environment["Trousseau__Etcd__Endpoints__0"] = etcd.ClientUrl.ToString();
        environment["Trousseau__Etcd__Username"] = "trousseau";
        environment["Trousseau__Etcd__Password"] = etcdPassword;
        _scan.Secret("AppRole secret id", secretId).Secret("etcd password", etcdPassword);

        await using (var server = await TrousseauServerProcess.StartAsync(DataDir, ["--kms-socket", Socket], environment))
        {
            var clectl = ClectlRunner.For(server, DataDir, _temp.Path);
            await using var peer = KmsPeer.Start(Socket);
            await DriveAsync(server, clectl, peer);

            // Vault refusing the token (trousseaud logs in again), rate-limiting and failing, while the KMS plugin wraps.
            foreach (var fault in new[]
            {
                new VaultTestServer.VaultFault(403, "permission denied", PathContains: "transit/"),
                new VaultTestServer.VaultFault(429, "request path \"transit/\": rate limit quota exceeded", RetryAfter: TimeSpan.FromSeconds(5), PathContains: "transit/"),
                new VaultTestServer.VaultFault(500, "internal error", PathContains: "transit/"),
            })
            {
                vault.Fault = fault;
                var plaintext = Canary($"kms-plaintext-vault-{fault.Status}");
                _scan.Secret($"KMS plaintext sent while Vault answered {fault.Status}", plaintext);
                var refused = await peer.CallAsync(Encrypt, new { plaintext = Base64(plaintext), uid = "uid-fault" });
                Assert.NotEqual("OK", refused.GetProperty("code").GetString());
                vault.Fault = null;
            }

            // etcd gone: reads and writes fail as unavailable.
            await etcd.StopAsync();
            var lost = Canary("value-written-while-etcd-is-down");
            _scan.Secret("value written while etcd is down", lost);
            Assert.Equal(6, (await clectl.RunAsync("secret", "create", "canary/etcd-down", "--from-literal", $"k={lost}")).ExitCode);
            Assert.Equal(6, (await clectl.RunAsync("secret", "get", "canary/opaque")).ExitCode);

            Assert.Equal(0, await server.StopAsync());
            _scan.Place("trousseaud's standard output and error", server.Log);
        }

        foreach (var token in vault.IssuedTokens)
        {
            _scan.Secret("Vault token", token);
        }

        AssertNothingLeaked(collector);
    }

    [StoreFact]
    public async Task At_trace_level_with_the_local_key_ring_and_sqlite_no_secret_reaches_the_log_the_exports_the_audit_trail_or_the_disk()
    {
        await using var collector = await OtlpCollector.StartAsync();
        await using (var server = await TrousseauServerProcess.StartAsync(DataDir, ["--kms-socket", Socket], TraceEverything(collector)))
        {
            var clectl = ClectlRunner.For(server, DataDir, _temp.Path);
            await using var peer = KmsPeer.Start(Socket);
            await DriveAsync(server, clectl, peer);
            Assert.Equal(0, await server.StopAsync());
            _scan.Place("trousseaud's standard output and error", server.Log);
        }

        AssertNothingLeaked(collector);
    }

    /// <summary>
    /// Every log category at Trace (those appsettings.json names too, and the console's own), JSON console logs with scopes, and traces and
    /// metrics exported over OTLP/HTTP to <paramref name="collector"/>.
    /// </summary>
    private static Dictionary<string, string?> TraceEverything(OtlpCollector collector) => new()
    {
        ["Logging__LogLevel__Default"] = "Trace",
        ["Logging__LogLevel__Microsoft"] = "Trace",
        ["Logging__LogLevel__Microsoft.AspNetCore"] = "Trace",
        ["Logging__LogLevel__Microsoft.Hosting.Lifetime"] = "Trace",
        ["Logging__LogLevel__Grpc"] = "Trace",
        ["Logging__LogLevel__System.Net.Http.HttpClient"] = "Trace",
        ["Logging__LogLevel__Polly"] = "Trace",
        ["Logging__LogLevel__Microsoft.Extensions.Diagnostics.HealthChecks"] = "Trace",
        ["Logging__Console__LogLevel__Default"] = "Trace",
        ["Logging__Console__FormatterName"] = "json",
        ["Logging__Console__FormatterOptions__IncludeScopes"] = "true",
        ["OTEL_EXPORTER_OTLP_ENDPOINT"] = collector.Endpoint,
        ["OTEL_EXPORTER_OTLP_PROTOCOL"] = "http/protobuf",
        ["OTEL_METRIC_EXPORT_INTERVAL"] = "500",
        ["OTEL_BSP_SCHEDULE_DELAY"] = "200",
    };

    /// <summary>
    /// What a user does with clectl, the HTTP API and the KMS socket: secrets brought, generated and regenerated,
    /// updated, refused updates and a refused token, encryption through the API and the socket, a key rotation and a
    /// rewrap. Every value sent or read back becomes a secret to look for.
    /// </summary>
    private async Task DriveAsync(TrousseauServerProcess server, ClectlRunner clectl, KmsPeer peer)
    {
        var apiToken = await BearerClient.ReadTokenAsync(Path.Combine(DataDir, "api.token"));
        _scan.Secret("API token", apiToken);
        var errors = new StringBuilder();

        async Task<ProcessResult> Run(string? stdin, params string[] args)
        {
            var result = await clectl.RunWithInputAsync(stdin, args);
            errors.AppendLine(result.Stderr);
            return result;
        }

        var opaque = Canary("opaque-value");
        var loginPassword = Canary("login-password");
        var updated = Canary("updated-value");
        var refusedUpdate = Canary("value-of-a-refused-update");
        _scan.Secret("secret value", opaque).Secret("login password", loginPassword).Secret("updated value", updated).Secret("value of an update refused with 412", refusedUpdate);

        ClectlAssert.Ok(await Run(null, "secret", "create", "canary/opaque", "--from-literal", $"api-key={opaque}"));
        ClectlAssert.Ok(await Run(loginPassword, "secret", "create", "canary/login", "--type", "login", "--username", "app", "--password-stdin"));
        ClectlAssert.Ok(await Run(null, "secret", "generate", "canary/generated", "--length", "40"));
        ClectlAssert.Ok(await Run(null, "secret", "generate", "canary/generated-login", "--type", "login", "--username", "svc"));
        _scan.Secret("generated value", (await Run(null, "secret", "get", "canary/generated", "--key", "value")).Stdout);
        _scan.Secret("generated login password", (await Run(null, "secret", "get", "canary/generated-login", "--key", "password")).Stdout);
        ClectlAssert.Ok(await Run(null, "secret", "regenerate", "canary/generated"));
        _scan.Secret("regenerated value", (await Run(null, "secret", "get", "canary/generated", "--key", "value")).Stdout);
        ClectlAssert.Ok(await Run(null, "secret", "update", "canary/opaque", "--from-literal", $"api-key={updated}"));
        Assert.Equal(4, (await Run(null, "secret", "update", "canary/opaque", "--from-literal", $"api-key={refusedUpdate}", "--if-revision", "999999")).ExitCode);
        Assert.Contains(updated, (await Run(null, "secret", "get", "canary/opaque")).Stdout, StringComparison.Ordinal);
        Assert.Equal(0, (await Run(null, "secret", "list")).ExitCode);

        var wrongToken = Canary("mistyped-api-token");
        _scan.Secret("a mistyped API token", wrongToken);
        var refused = await clectl.With(("TROUSSEAU_TOKEN", wrongToken)).RunAsync("secret", "get", "canary/opaque");
        Assert.Equal(5, refused.ExitCode);
        errors.AppendLine(refused.Stderr);

        // A hand-made client that writes the header line wrong (a space before the colon, no colon): the request is
        // refused before any endpoint sees it, and the line, the right token in it, is logged nowhere.
        foreach (var malformed in new[] { $"Authorization : Bearer {apiToken}", $"Authorization Bearer {apiToken}" })
        {
            var (status, _, _) = await server.SendRawAsync($"GET /v1/secrets/canary/opaque HTTP/1.1\r\nHost: {server.BaseAddress.Authority}\r\n{malformed}\r\nConnection: close\r\n\r\n");
            Assert.Equal(400, status);
        }

        using (var api = BearerClient.Create(server.BaseAddress, apiToken))
        {
            var plaintext = Canary("api-plaintext");
            _scan.Secret("plaintext encrypted through the API", plaintext);
            using var encrypted = await api.PostAsJsonAsync(new Uri("v1/encrypt", UriKind.Relative), new { plaintext = Base64(plaintext) });
            Assert.Equal(HttpStatusCode.OK, encrypted.StatusCode);
            var ciphertext = (await encrypted.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("ciphertext").GetString();
            using var decrypted = await api.PostAsJsonAsync(new Uri("v1/decrypt", UriKind.Relative), new { ciphertext });
            Assert.Equal(Base64(plaintext), (await decrypted.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("plaintext").GetString());
        }

        var kmsPlaintext = Canary("kms-plaintext");
        _scan.Secret("KMS plaintext", kmsPlaintext);
        var wrapped = KmsPeer.Ok(await peer.CallAsync(Encrypt, new { plaintext = Base64(kmsPlaintext), uid = "uid-1" }));
        var unwrapped = KmsPeer.Ok(await peer.CallAsync(Decrypt, new { ciphertext = wrapped.GetProperty("ciphertext").GetString(), key_id = wrapped.GetProperty("key_id").GetString(), uid = "uid-2" }));
        Assert.Equal(Base64(kmsPlaintext), unwrapped.GetProperty("plaintext").GetString());
        var legacyPlaintext = Canary("kms-v1-plaintext");
        _scan.Secret("KMS v1beta1 plaintext", legacyPlaintext);
        KmsPeer.Ok(await peer.CallAsync("/v1beta1.KeyManagementService/Encrypt", new { version = "v1beta1", plain = Base64(legacyPlaintext) }));

        var cliPlaintext = Canary("clectl-kms-plaintext");
        _scan.Secret("plaintext encrypted with clectl kms", cliPlaintext);
        var sealedLine = await Run(cliPlaintext, "kms", "encrypt", "--socket", Socket);
        ClectlAssert.Ok(sealedLine);
        Assert.Equal(cliPlaintext, (await Run(sealedLine.Stdout, "kms", "decrypt", "--socket", Socket)).Stdout);

        ClectlAssert.Ok(await Run(null, "key", "rotate"));
        ClectlAssert.Ok(await Run(null, "key", "rewrap"));
        Assert.Contains(loginPassword, (await Run(null, "secret", "get", "canary/login")).Stdout, StringComparison.Ordinal);

        _scan.Place("clectl's standard error", errors.ToString());
    }

    private void AssertNothingLeaked(OtlpCollector collector)
    {
        var exports = collector.Received.ToList();
        Assert.Contains(exports, e => e.Path == "/v1/traces");
        Assert.Contains(exports, e => e.Path == "/v1/metrics");
        foreach (var (export, i) in exports.Select((e, i) => (e, i)))
        {
            _scan.Place($"OTLP export {i} to {export.Path}", export.Body);
        }

        // api.token holds the API token by design, and nothing else.
        _scan.Directory(DataDir, except: name => name == "api.token");
        Assert.True(File.Exists(Path.Combine(DataDir, "audit.log")));
        _scan.AssertNothingFound();
    }

    /// <summary>A value no run has seen before, named for what it stands for.</summary>
    private static string Canary(string what) => $"{what}-{Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(8))}";

    private static string Base64(string text) => Convert.ToBase64String(Encoding.UTF8.GetBytes(text));
}
