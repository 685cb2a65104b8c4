using System.Net;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;

namespace Trousseau.Vault.Internal;

/// <summary>
/// Holds the Vault token and keeps it alive in process: token (value or file), Kubernetes (the JWT file re-read
/// at each login, since projected tokens rotate) or AppRole. One login or renewal runs at a time. The token is
/// renewed at about two thirds of its TTL; when renewal fails, when the max TTL nears, or when Vault answers 401 or
/// 403 (<see cref="Reject"/>), the source logs in again. Credentials Vault refuses make Vault unavailable to
/// Trousseau (nothing Trousseau's callers can fix). A failed login is never remembered: the next call tries again.
/// A login handed over by <see cref="VaultConfigOverlay"/> (<see cref="VaultLoginHandOver"/>) is the first lease, so
/// that trousseaud logs in once even with a single-use AppRole secret id.
/// </summary>
internal sealed partial class VaultTokenSource : IDisposable
{
    private readonly VaultHttp _http;
    private readonly IOptions<VaultOptions> _options;
    private readonly TimeProvider _time;
    private readonly VaultMetrics _metrics;
    private readonly ILogger _logger;
    private readonly SemaphoreSlim _gate = new(1, 1);
    private Lease? _lease;

    public VaultTokenSource(VaultHttp http, IOptions<VaultOptions> options, TimeProvider time, VaultMetrics metrics, ILogger<VaultTokenSource>? logger = null, VaultLoginHandOver? handOver = null)
    {
        _lease = handOver?.Lease;
        _http = http;
        _options = options;
        _time = time;
        _logger = logger ?? NullLogger<VaultTokenSource>.Instance;
        _metrics = metrics;
        metrics.ObserveTimeToLive(() => TimeToLiveSeconds);
    }

    /// <summary>Logins and renewals so far, for metrics.</summary>
    public long Renewals => Interlocked.Read(ref _renewals);

    public long Logins => Interlocked.Read(ref _logins);

    /// <summary>Seconds until the current token expires, or null without one or for a token that never expires.</summary>
    public double? TimeToLiveSeconds => _lease is { ExpiresAt: { } expires } ? (expires - _time.GetUtcNow()).TotalSeconds : null;

    private long _renewals;
    private long _logins;

    private VaultAuthOptions Auth => _options.Value.Auth;

    /// <summary>The lease held now, or null before the first login or after a refusal.</summary>
    public Lease? CurrentLease => Volatile.Read(ref _lease);

    public async ValueTask<string> GetTokenAsync(CancellationToken cancellationToken)
    {
        var lease = Volatile.Read(ref _lease);
        if (lease is not null && (lease.RefreshAt is not { } due || _time.GetUtcNow() < due))
        {
            return lease.Token;
        }

        await _gate.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            lease = _lease;
            if (lease is not null && (lease.RefreshAt is not { } refresh || _time.GetUtcNow() < refresh))
            {
                return lease.Token;
            }

            try
            {
                lease = lease is null ? await AcquireAsync(cancellationToken).ConfigureAwait(false) : await RefreshAsync(lease, cancellationToken).ConfigureAwait(false);
            }
            catch (AccessForbiddenException e)
            {
                // Vault refused Trousseau's own credentials: nothing the caller can fix, so the dependency is down.
                throw new DependencyUnavailableException(VaultHttp.Dependency, $"Vault refused Trousseau's {Auth.Method} credentials. {e.Message}", e);
            }

            Volatile.Write(ref _lease, lease);
            return lease.Token;
        }
        finally
        {
            _gate.Release();
        }
    }

    /// <summary>Drops <paramref name="token"/> after Vault refused it (401 or 403), so the next call logs in again.</summary>
    public void Reject(string token)
    {
        var lease = Volatile.Read(ref _lease);
        if (lease is not null && lease.Token == token)
        {
            Interlocked.CompareExchange(ref _lease, null, lease);
        }
    }

    public void Dispose() => _gate.Dispose();

    private async Task<Lease> AcquireAsync(CancellationToken cancellationToken)
    {
        var method = Auth.Method.ToLowerInvariant();
        if (method == "token")
        {
            var token = StaticToken();
            var lookup = await _http.SendAsync<object, TokenLookupResponse>(
                HttpMethod.Get, "v1/auth/token/lookup-self", null, null, VaultJson.Default.TokenLookupResponse, token, cancellationToken, repeatable: true).ConfigureAwait(false);
            var data = lookup.Value?.Data;
            return NewLease(token, data?.Ttl ?? 0, data?.Renewable ?? false, VaultAuthMethod.Token);
        }

        Interlocked.Increment(ref _logins);
        _metrics.LoggedIn();
        var auth = method switch
        {
            "kubernetes" => await LoginAsync(
                $"v1/auth/{Auth.Mount.Trim('/')}/login",
                new KubernetesLogin(Auth.Role!, (await ReadSecretFileAsync(Auth.JwtFile, "Vault:Auth:JwtFile", cancellationToken).ConfigureAwait(false)).Trim()),
                VaultJson.Default.KubernetesLogin,
                cancellationToken).ConfigureAwait(false),
            "approle" => await LoginAsync(
                "v1/auth/approle/login",
                new AppRoleLogin(Auth.RoleId!, Auth.SecretId ?? (await ReadSecretFileAsync(Auth.SecretIdFile!, "Vault:Auth:SecretIdFile", cancellationToken).ConfigureAwait(false)).Trim()),
                VaultJson.Default.AppRoleLogin,
                cancellationToken).ConfigureAwait(false),
            _ => throw new InvalidOperationException($"Unknown Vault auth method '{Auth.Method}'."),
        };
        LogLoggedIn(_logger, Auth.Method, auth.LeaseDuration);
        return NewLease(auth.ClientToken, auth.LeaseDuration, auth.Renewable, VaultAuthMethod.Login);
    }

    private async Task<Lease> RefreshAsync(Lease lease, CancellationToken cancellationToken)
    {
        if (lease.Renewable && lease.ExpiresAt is { } expires && _time.GetUtcNow() < expires)
        {
            // A renewal Vault refuses (the token was revoked, or is not renewable after all) means logging in again.
            var renewed = await _http.SendAsync(
                HttpMethod.Post,
                "v1/auth/token/renew-self",
                new RenewSelf(null),
                VaultJson.Default.RenewSelf,
                VaultJson.Default.VaultAuthResponse,
                lease.Token,
                cancellationToken,
                isAnswer: IsRenewalRefused,
                repeatable: true).ConfigureAwait(false);
            if (IsRenewalRefused(renewed.Status))
            {
                LogRenewFailed(_logger, (int)renewed.Status);
            }
            else if (renewed.Value?.Auth is { } auth)
            {
                Interlocked.Increment(ref _renewals);
                _metrics.Renewed();
                var previousTtl = lease.Ttl.TotalSeconds;
                LogRenewed(_logger, auth.LeaseDuration);

                // A renewal granting clearly less than before means the max TTL is near: log in afresh then.
                if (lease.Method == VaultAuthMethod.Token || auth.LeaseDuration >= previousTtl / 2)
                {
                    return NewLease(lease.Token, auth.LeaseDuration, auth.Renewable, lease.Method);
                }
            }
        }

        return await AcquireAsync(cancellationToken).ConfigureAwait(false);
    }

    private static bool IsRenewalRefused(HttpStatusCode status) => status is HttpStatusCode.BadRequest or HttpStatusCode.Unauthorized or HttpStatusCode.Forbidden;

    private async Task<VaultAuth> LoginAsync<TBody>(string path, TBody body, System.Text.Json.Serialization.Metadata.JsonTypeInfo<TBody> type, CancellationToken cancellationToken)
    {
        // Vault answers 400 to a login with an unknown role or a wrong secret id: the credentials are refused. A login
        // is sent once: an AppRole secret id may be good for one use only.
        var answer = await _http.SendAsync(
            HttpMethod.Post,
            path,
            body,
            type,
            VaultJson.Default.VaultAuthResponse,
            token: null,
            cancellationToken,
            badRequest: errors => new AccessForbiddenException($"Vault answered 400 to {path}: {errors}"),
            repeatable: false).ConfigureAwait(false);
        return answer.Value?.Auth ?? throw new DependencyUnavailableException(VaultHttp.Dependency, $"Vault's answer to {path} holds no token.");
    }

    private string StaticToken()
    {
        if (Auth.Token is { Length: > 0 } token)
        {
            return token;
        }

        return ReadSecretFile(Auth.TokenFile!, "Vault:Auth:TokenFile").Trim();
    }

    private static async Task<string> ReadSecretFileAsync(string path, string key, CancellationToken cancellationToken)
    {
        try
        {
            return await File.ReadAllTextAsync(path, cancellationToken).ConfigureAwait(false);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new DependencyUnavailableException(VaultHttp.Dependency, $"Trousseau:{key} '{path}' cannot be read: {e.Message}", e);
        }
    }

    private static string ReadSecretFile(string path, string key)
    {
        try
        {
            return File.ReadAllText(path);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new DependencyUnavailableException(VaultHttp.Dependency, $"Trousseau:{key} '{path}' cannot be read: {e.Message}", e);
        }
    }

    private Lease NewLease(string token, long ttlSeconds, bool renewable, VaultAuthMethod method)
    {
        var now = _time.GetUtcNow();
        if (ttlSeconds <= 0)
        {
            return new Lease(token, null, null, TimeSpan.Zero, renewable, method);
        }

        var ttl = TimeSpan.FromSeconds(ttlSeconds);
        return new Lease(token, now + ttl, now + (ttl * 2 / 3), ttl, renewable, method);
    }

    /// <summary>How a lease's token was obtained: configured (never to be revoked by Trousseau) or by a login.</summary>
    public enum VaultAuthMethod
    {
        Token,
        Login,
    }

    /// <summary>A Vault token, when it expires and is due for renewal, its TTL, and how it was obtained.</summary>
    public sealed record Lease(string Token, DateTimeOffset? ExpiresAt, DateTimeOffset? RefreshAt, TimeSpan Ttl, bool Renewable, VaultAuthMethod Method)
    {
        /// <summary>Everything but the token, which must appear in no log or message.</summary>
        public override string ToString() => $"Lease {{ ExpiresAt = {ExpiresAt}, Ttl = {Ttl}, Renewable = {Renewable}, Method = {Method} }}";
    }

    [LoggerMessage(EventId = 5001, Level = LogLevel.Information, Message = "Logged in to Vault with {Method} auth; token TTL {TtlSeconds} s.")]
    private static partial void LogLoggedIn(ILogger logger, string method, long ttlSeconds);

    [LoggerMessage(EventId = 5002, Level = LogLevel.Debug, Message = "Renewed the Vault token; TTL {TtlSeconds} s.")]
    private static partial void LogRenewed(ILogger logger, long ttlSeconds);

    [LoggerMessage(EventId = 5003, Level = LogLevel.Warning, Message = "Renewing the Vault token failed with {Status}; logging in again.")]
    private static partial void LogRenewFailed(ILogger logger, int status);
}
