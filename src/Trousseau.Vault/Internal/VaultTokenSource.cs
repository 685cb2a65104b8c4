using System.Net;
using System.Security.Cryptography;
using System.Text;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;

namespace Trousseau.Vault.Internal;

/// <summary>
/// Holds the Vault token and keeps it alive in process: token (value or file), Kubernetes (the JWT file re-read
/// at each login, since projected tokens rotate) or AppRole. The token is renewed at about two thirds of its TTL; when
/// renewal is refused, when the max TTL nears, or when Vault answers 401 or 403 (<see cref="RejectAsync"/>), the source
/// logs in again. While the token is valid a call never waits for a renewal or login: it goes on with the token, and
/// the first call to find it due starts the renewal or login in the background. Only calls that find no valid token
/// (none yet, expired, or refused by Vault) wait, all for the same login, and share its outcome; one renewal or login
/// runs at a time. A renewal or login that fails while the token is still valid leaves the token in use, and is tried
/// again after half of the token's remaining life (1 to 30 s); without a valid token the failure reaches the calls
/// waiting for it, and the next call tries again, except that credentials Vault refused at login are not sent again
/// before a backoff (1 s, doubling up to 30 s) unless they changed. A run of failures is logged once as a warning, then at debug level
/// until one succeeds. Credentials Vault refuses make Vault unavailable to Trousseau (nothing Trousseau's callers can
/// fix). With <see cref="VaultAuthOptions.TokenFile"/>, each call looks at the file (where its links lead, its last
/// write time and length) and reads it only when that changed, or when it had been written less than one tick of a
/// file system's clock before it was last read (a rewrite within that tick can leave the same stamp): a new token there (a Vault Agent sink's) is used from
/// that call on, and its TTL looked up in the background. A login handed over by <see cref="VaultConfigOverlay"/>
/// (<see cref="VaultLoginHandOver"/>) is the first lease, so that trousseaud logs in once even with a single-use
/// AppRole secret id. A token a login brought is revoked once it is dropped (replaced by another login, or refused by
/// Vault), in the background, and when the host has stopped (<see cref="StopAsync"/>), as is the token of a login still
/// under way then, once Vault answers it; a configured token never is.
/// </summary>
internal sealed partial class VaultTokenSource : IDisposable
{
    private static readonly TimeSpan MinRetryDelay = TimeSpan.FromSeconds(1);
    private static readonly TimeSpan MaxRetryDelay = TimeSpan.FromSeconds(30);
    private static readonly TimeSpan MaxRevocationWait = TimeSpan.FromSeconds(5);
    private static readonly TimeSpan LookupReuse = TimeSpan.FromSeconds(1);

    private readonly VaultHttp _http;
    private readonly IOptions<VaultOptions> _options;
    private readonly TimeProvider _time;
    private readonly VaultMetrics _metrics;
    private readonly ILogger _logger;
    private readonly string _settingsPath;
    private readonly Lock _sync = new();
    private readonly CancellationTokenSource _stopping = new();
    private readonly CancellationTokenSource _abandon = new();
    private readonly HashSet<Task> _revocations = [];
    private Lease? _lease;
    private Task<Lease>? _refresh;
    private FileLook? _tokenFileRead;
    private int _failuresInARow;
    private RefusedLogin? _refusedLogin;
    private PolicyDenial? _policyDenial;
    private TokenLookup? _deniedLookup;
    private long _renewals;
    private long _logins;
    private bool _stopped;
    private bool _disposed;
    private bool _loggedIn;

    public VaultTokenSource(
        VaultHttp http,
        IOptions<VaultOptions> options,
        TimeProvider time,
        VaultMetrics metrics,
        ILogger<VaultTokenSource>? logger = null,
        VaultLoginHandOver? handOver = null,
        VaultSettingsPath? settingsPath = null)
    {
        _lease = handOver?.Lease;
        _loggedIn = handOver is not null;
        _http = http;
        _options = options;
        _time = time;
        _logger = logger ?? NullLogger<VaultTokenSource>.Instance;
        _metrics = metrics;
        _settingsPath = settingsPath?.Value ?? "Trousseau:Vault";
        metrics.ObserveTimeToLive(() => TimeToLiveSeconds);
    }

    /// <summary>Renewals so far, for metrics.</summary>
    public long Renewals => Interlocked.Read(ref _renewals);

    /// <summary>Successful logins so far, for metrics.</summary>
    public long Logins => Interlocked.Read(ref _logins);

    /// <summary>Seconds until the current token expires, or null without one or for a token that never expires.</summary>
    public double? TimeToLiveSeconds => _lease is { ExpiresAt: { } expires } ? (expires - _time.GetUtcNow()).TotalSeconds : null;

    private VaultAuthOptions Auth => _options.Value.Auth;

    /// <summary>The token file calls look at for a new token: token auth from <c>Auth:TokenFile</c> (a token given as a value wins).</summary>
    private string? TokenFile =>
        string.Equals(Auth.Method, "token", StringComparison.OrdinalIgnoreCase) && VaultCredential.Given(Auth.Token) is null && Auth.TokenFile is { Length: > 0 } file ? file : null;

    /// <summary>
    /// How long a token a login replaced is kept before it is revoked, so that calls still under way with it are not
    /// refused (<c>Vault:Timeout</c> bounds each), and how long a stop waits for revocations: at most 5 s.
    /// </summary>
    private TimeSpan RevocationWait => TimeSpan.FromTicks(Math.Min(_options.Value.Timeout.Ticks, MaxRevocationWait.Ticks));

    /// <summary>
    /// Takes the lease held now (null before the first login or after a refusal) out of this source, which then
    /// neither uses nor revokes it: <see cref="VaultConfigOverlay"/> hands it to the key provider or revokes it itself.
    /// </summary>
    public Lease? TakeLease()
    {
        lock (_sync)
        {
            var lease = _lease;
            _lease = null;
            return lease;
        }
    }

    /// <summary>
    /// A token to call Vault with: the current one while it is valid (starting its renewal or login in the background
    /// when it is due), else the outcome of the login every call without a valid token waits for. A call cancelled
    /// before it came here starts nothing: no lookup, renewal or login, nor a read of the token file.
    /// </summary>
    public async ValueTask<string> GetTokenAsync(CancellationToken cancellationToken)
    {
        cancellationToken.ThrowIfCancellationRequested();
        var lease = Volatile.Read(ref _lease);
        if (lease is not null && TokenFile is { } tokenFile && TokenFileChanged(tokenFile))
        {
            lease = await TakeNewTokenFileAsync(tokenFile, cancellationToken).ConfigureAwait(false);
        }

        if (lease is not null && IsValid(lease) && !IsDue(lease))
        {
            return lease.Token;
        }

        return (await LeaseOrRefreshAsync().WaitAsync(cancellationToken).ConfigureAwait(false)).Token;
    }

    /// <summary>
    /// Drops <paramref name="token"/> after Vault refused it (401 or 403), so that the next call logs in again, and
    /// returns true; unless Vault refused this very token, fresh from a login, less than a backoff ago
    /// (<see cref="DeniedAfterLoginAsync"/>) and the token still lives: then a policy denies the call, a new login
    /// would only make Vault issue one more token, and the token is kept (false). Vault answers 403 "permission
    /// denied" alike to a call its policy denies and to a token it no longer knows (revoked, expired): a token that
    /// could look itself up when denied is looked up again (<c>auth/token/lookup-self</c>, one request, no login), and
    /// is dropped when Vault refuses that, so that a token revoked during the backoff is replaced at the next call. The
    /// refused calls share that lookup: those that come while it runs, or less than 1 s after it began, take its answer
    /// (<see cref="DeniedLookUpAsync"/>), so that a load of denied calls does not send Vault one lookup each. A call
    /// cancelled meanwhile starts no lookup and drops nothing.
    /// </summary>
    public async ValueTask<bool> RejectAsync(string token, CancellationToken cancellationToken)
    {
        cancellationToken.ThrowIfCancellationRequested();
        PolicyDenial? denial;
        lock (_sync)
        {
            denial = _policyDenial is { } last && last.Token == token && _time.GetUtcNow() < last.Until ? last : null;
        }

        if (denial is not null && !(denial.LooksUp && await DeniedLookUpAsync(token).WaitAsync(cancellationToken).ConfigureAwait(false) == false))
        {
            return false;
        }

        lock (_sync)
        {
            if (_lease is { } refused && refused.Token == token)
            {
                _lease = null;
                RevokeLater(refused);
            }

            return true;
        }
    }

    /// <summary>
    /// Notes that Vault refused a call with <paramref name="token"/>, which the login after a refusal had just brought:
    /// its policy denies the call. Until a backoff has passed (1 s, doubling at each such refusal in a row up to 30 s), a
    /// refusal of this token keeps it while it lives (<see cref="RejectAsync"/>); then the next refusal logs in again,
    /// since a role given the policy meanwhile issues tokens that carry it. Whether the token can look itself up (the
    /// <c>default</c> policy lets it) is asked now, while it surely lives: only then does a refusal of that lookup later
    /// mean that Vault no longer knows the token.
    /// </summary>
    public async ValueTask DeniedAfterLoginAsync(string token, CancellationToken cancellationToken)
    {
        var looksUp = await LookUpAsync(token, cancellationToken).ConfigureAwait(false) == true;
        lock (_sync)
        {
            var now = _time.GetUtcNow();
            var backoff = Backoff(_policyDenial is { } last && now - last.Until < MaxRetryDelay ? last.Backoff : null);
            _policyDenial = new PolicyDenial(token, now + backoff, backoff, looksUp);
        }
    }

    /// <summary>
    /// Stops once the host has stopped and nothing calls Vault any more: a renewal under way is abandoned, and the token
    /// of a login in use is revoked, with those dropped earlier still waiting; a login under way goes on, and the token
    /// Vault answers it with is revoked as well (<see cref="Settle"/>). All within <see cref="RevocationWait"/> (or until
    /// <paramref name="cancellationToken"/>, the host's own limit); a Vault that has not answered by then is not waited
    /// for, and the token lapses with its TTL.
    /// </summary>
    public async Task StopAsync(CancellationToken cancellationToken)
    {
        await _stopping.CancelAsync().ConfigureAwait(false);
        Task? refresh;
        lock (_sync)
        {
            if (_lease is { } current)
            {
                RevokeLater(current);
            }

            _lease = null;
            _stopped = true;
            refresh = _refresh;
        }

        try
        {
            await RevocationsAsync(refresh).WaitAsync(RevocationWait, _time, cancellationToken).ConfigureAwait(false);
        }
        catch (Exception e) when (e is TimeoutException or OperationCanceledException)
        {
            await _abandon.CancelAsync().ConfigureAwait(false);
            await RevocationsAsync(refresh).ConfigureAwait(false);
        }
    }

    /// <summary>Gives up revocations not sent yet (the services they need are being disposed), without revoking the token in use (<see cref="StopAsync"/> does).</summary>
    public void Dispose()
    {
        lock (_sync)
        {
            if (_disposed)
            {
                return;
            }

            _disposed = _stopped = true;
        }

        _abandon.Cancel();
        _stopping.Cancel();
        _stopping.Dispose();
        _abandon.Dispose();
    }

    /// <summary>
    /// Ends once <paramref name="refresh"/> (the renewal or login under way at stop, if any) has ended, and then every
    /// revocation started, that of the token the login brought among them.
    /// </summary>
    private async Task RevocationsAsync(Task? refresh)
    {
        if (refresh is not null)
        {
            // Its failure is logged already or of no interest now.
            await refresh.ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
        }

        Task[] revocations;
        lock (_sync)
        {
            revocations = [.. _revocations];
        }

        await Task.WhenAll(revocations).ConfigureAwait(false);
    }

    /// <summary>
    /// The current lease while it is valid, starting its renewal or login in the background when it is due and none
    /// runs; without a valid lease, the renewal or login under way (or a new one) for the caller to wait for.
    /// </summary>
    private Task<Lease> LeaseOrRefreshAsync()
    {
        lock (_sync)
        {
            var lease = _lease;
            var valid = lease is not null && IsValid(lease);
            if (_refresh is not { IsCompleted: false } && (!valid || IsDue(lease!)))
            {
                // It runs to its end (bounded by Vault:Timeout) even when every call that waits for it gives up. The
                // lease's times count from now: Vault issues or renews the token no earlier.
                var (started, stopping, abandon) = (_time.GetUtcNow(), _stopping.Token, _abandon.Token);
                _refresh = Task.Run(() => RefreshAsync(lease, started, stopping, abandon), CancellationToken.None);

                // A failure no call waits for is logged already; observing it keeps it off UnobservedTaskException.
                _ = _refresh.ContinueWith(static refresh => refresh.Exception, CancellationToken.None, TaskContinuationOptions.OnlyOnFaulted | TaskContinuationOptions.ExecuteSynchronously, TaskScheduler.Default);
            }

            return valid ? Task.FromResult(lease!) : _refresh!;
        }
    }

    /// <summary>
    /// Renews <paramref name="lease"/> or logs in again (or, with none, logs in) and makes the outcome the current
    /// lease. On failure, a lease still valid stays in use until the next attempt; otherwise it is dropped and the
    /// failure is thrown. <paramref name="stopping"/> ends it when the host stops, except for a login already sent,
    /// which <paramref name="abandon"/> alone ends (<see cref="LoginAsync"/>).
    /// </summary>
    private async Task<Lease> RefreshAsync(Lease? lease, DateTimeOffset started, CancellationToken stopping, CancellationToken abandon)
    {
        var held = lease;
        try
        {
            if (held is { Renewable: true } && IsValid(held) && await RenewAsync(held, started, stopping).ConfigureAwait(false) is { } renewed)
            {
                // A renewal granting clearly less than before means the max TTL is near: log in afresh then.
                if (renewed.Method == VaultAuthMethod.Token || renewed.Ttl >= held.Ttl / 2)
                {
                    return Settle(lease, renewed);
                }

                held = renewed;
            }

            return Settle(lease, await AcquireAsync(started, stopping, abandon).ConfigureAwait(false));
        }
        catch (TrousseauException e)
        {
            var now = _time.GetUtcNow();
            var left = held?.ExpiresAt - now;
            Lease? kept;
            lock (_sync)
            {
                // A new token from the token file that replaced the lease meanwhile serves the calls. Unless Vault
                // refused the token meanwhile (RejectAsync), a valid one goes on serving them until the next attempt; any
                // other is dropped, so that calls wait for the next login.
                if (_lease is { } current && !ReferenceEquals(current, lease))
                {
                    return current;
                }

                kept = _lease is not null && left > TimeSpan.Zero ? held! with { RefreshAt = now + RetryDelay(left.Value) } : null;
                if (_lease is not null)
                {
                    _lease = kept;
                }
            }

            // Vault refused Trousseau's own credentials: nothing the caller can fix, so the dependency is down; after a
            // refused login, until the same credentials may be sent again.
            var refusedLogin = _refusedLogin is { } refused && (ReferenceEquals(refused.Refusal, e) || ReferenceEquals(refused.Refusal, e.InnerException)) ? refused : null;
            var failure = refusedLogin is not null ? Refused(refusedLogin, now)
                : e is AccessForbiddenException ? new DependencyUnavailableException(VaultHttp.Dependency, $"Vault refused Trousseau's {Auth.Method} credentials. {e.Message}", e)
                : e;
            var level = ++_failuresInARow == 1 ? LogLevel.Warning : LogLevel.Debug;
            var reason = failure.Message.TrimEnd('.');
            if (kept is not null)
            {
                var (secondsLeft, retrySeconds) = ((long)Math.Ceiling(left!.Value.TotalSeconds), (long)Math.Ceiling(RetryDelay(left.Value).TotalSeconds));
                LogKeptToken(_logger, level, Auth.Method, reason, secondsLeft, retrySeconds);
                return kept;
            }

            if (refusedLogin is not null)
            {
                LogLoginRefused(_logger, level, Auth.Method, reason);
            }
            else
            {
                LogNoToken(_logger, level, Auth.Method, reason);
            }
            if (ReferenceEquals(failure, e))
            {
                throw;
            }

            throw failure;
        }
    }

    /// <summary>The wait after a refusal: 1 s, or twice <paramref name="previous"/> (the refusal before, in a row) up to 30 s.</summary>
    private static TimeSpan Backoff(TimeSpan? previous) =>
        previous is { } last ? TimeSpan.FromTicks(Math.Min(last.Ticks * 2, MaxRetryDelay.Ticks)) : MinRetryDelay;

    /// <summary>Half of what is left of a token's life, at least 1 s and at most 30 s.</summary>
    private static TimeSpan RetryDelay(TimeSpan left) => TimeSpan.FromTicks(Math.Clamp((left / 2).Ticks, MinRetryDelay.Ticks, MaxRetryDelay.Ticks));

    /// <summary>
    /// Makes <paramref name="lease"/>, the outcome of a renewal or login begun from <paramref name="from"/>, the current
    /// one, closing a run of failures; unless a new token from the token file replaced <paramref name="from"/>
    /// meanwhile, which stays. Once the host has stopped, nothing is current any more: a token a login brought is
    /// revoked at once (<see cref="StopAsync"/> waits for that), as the token in use was at stop.
    /// </summary>
    private Lease Settle(Lease? from, Lease lease)
    {
        if (_failuresInARow > 0)
        {
            LogRecovered(_logger, _failuresInARow);
            _failuresInARow = 0;
        }

        lock (_sync)
        {
            if (_stopped)
            {
                if (!_disposed && lease.Token != from?.Token)
                {
                    StartRevocation(lease);
                }

                return lease;
            }

            if (_lease is { } current && !ReferenceEquals(current, from) && current.Token != lease.Token)
            {
                return current;
            }

            if (_lease is { } replaced && replaced.Token != lease.Token)
            {
                RevokeLater(replaced);
            }

            _lease = lease;
            return lease;
        }
    }

    /// <summary>
    /// Revokes the token of <paramref name="dropped"/> in the background when a login brought it (a configured token is
    /// never revoked, nor a batch token, which Vault cannot revoke): after <see cref="RevocationWait"/>, so that calls
    /// still under way with it are not refused, or at once when the host stops. Called under <see cref="_sync"/>.
    /// </summary>
    private void RevokeLater(Lease dropped)
    {
        if (!_stopped)
        {
            StartRevocation(dropped);
        }
    }

    /// <summary>Starts <see cref="RevokeAsync"/> for <paramref name="dropped"/> when a login brought it, and tracks it for <see cref="StopAsync"/>. Called under <see cref="_sync"/>.</summary>
    private void StartRevocation(Lease dropped)
    {
        if (!dropped.Revocable)
        {
            return;
        }

        var (wait, stopping, abandon) = (RevocationWait, _stopping.Token, _abandon.Token);
        var revocation = Task.Run(() => RevokeAsync(dropped, wait, stopping, abandon), CancellationToken.None);
        _revocations.Add(revocation);
        _ = revocation.ContinueWith(
            done =>
            {
                lock (_sync)
                {
                    _revocations.Remove(done);
                }
            },
            CancellationToken.None,
            TaskContinuationOptions.None,
            TaskScheduler.Default);
    }

    /// <summary>
    /// Revokes <paramref name="lease"/>'s token (<c>auth/token/revoke-self</c>, sent once) after <paramref name="wait"/>
    /// (cut short by <paramref name="stopping"/>), unless it has expired meanwhile. Vault refusing it (it no longer
    /// knows the token) is logged at debug level; Vault failing, or not answering before <paramref name="abandon"/>,
    /// is one warning. Neither holds the token.
    /// </summary>
    private async Task RevokeAsync(Lease lease, TimeSpan wait, CancellationToken stopping, CancellationToken abandon)
    {
        try
        {
            await Task.Delay(wait, _time, stopping).ConfigureAwait(false);
        }
        catch (OperationCanceledException)
        {
            // The host stops: nothing calls Vault with the token any more.
        }

        if (!IsValid(lease))
        {
            return;
        }

        string reason;
        try
        {
            abandon.ThrowIfCancellationRequested();
            switch (await _http.TryRevokeAsync(lease.Token, abandon).ConfigureAwait(false))
            {
                case null:
                    return;
                case AccessForbiddenException refused:
                    var known = refused.Message.TrimEnd('.');
                    LogRevokedAlready(_logger, Auth.Method, known);
                    return;
                case var failure:
                    reason = failure.Message.TrimEnd('.');
                    break;
            }
        }
        catch (Exception e) when (e is OperationCanceledException or ObjectDisposedException)
        {
            reason = $"trousseaud stopped before Vault answered (it waits {wait.TotalSeconds:0.###} s at most)";
        }

        var secondsLeft = lease.ExpiresAt is { } expires ? (long)Math.Ceiling((expires - _time.GetUtcNow()).TotalSeconds) : 0;
        LogNotRevoked(_logger, Auth.Method, reason, secondsLeft);
    }

    /// <summary>
    /// Whether the token file is not what it was when its token was last read (or has not been read here yet), or was
    /// written too shortly before that read for its time stamp to tell a rewrite since.
    /// </summary>
    private bool TokenFileChanged(string path) =>
        Volatile.Read(ref _tokenFileRead) is not { } read || !read.IsCurrent(FileStamp.Of(path));

    /// <summary>
    /// The lease after reading a changed token file: a new token there replaces the current lease at once, due for a
    /// lookup of its TTL (which the caller starts in the background); the same token, or a file that cannot be read
    /// now, leaves the lease as it is (the next login reports such a file).
    /// </summary>
    private async ValueTask<Lease?> TakeNewTokenFileAsync(string path, CancellationToken cancellationToken)
    {
        string token;
        try
        {
            token = await ReadTokenFileAsync(path, cancellationToken).ConfigureAwait(false);
        }
        catch (DependencyUnavailableException)
        {
            return Volatile.Read(ref _lease);
        }

        lock (_sync)
        {
            if (_lease is not { } current || current.Token == token)
            {
                return _lease;
            }

            _lease = new Lease(token, null, _time.GetUtcNow(), TimeSpan.Zero, Renewable: false, VaultAuthMethod.Token);
        }

        LogNewTokenFile(_logger, _settingsPath, path);
        return Volatile.Read(ref _lease);
    }

    /// <summary>The token in <paramref name="path"/>, remembering what the file looked like before it was read.</summary>
    private async Task<string> ReadTokenFileAsync(string path, CancellationToken cancellationToken)
    {
        Volatile.Write(ref _tokenFileRead, FileLook.Take(path));
        return await ReadCredentialAsync(path, "Auth:TokenFile", "a Vault token", cancellationToken).ConfigureAwait(false);
    }

    /// <summary>
    /// Whether Vault still knows <paramref name="token"/>: true when it answers the token's lookup-self, false when it
    /// refuses it (401, 403), null when Vault cannot tell now (out of reach, 5xx).
    /// </summary>
    private async Task<bool?> LookUpAsync(string token, CancellationToken cancellationToken)
    {
        try
        {
            await _http.SendAsync<object, TokenLookupResponse>(
                HttpMethod.Get, "v1/auth/token/lookup-self", null, null, VaultJson.Default.TokenLookupResponse, token, cancellationToken, repeatable: true).ConfigureAwait(false);
            return true;
        }
        catch (AccessForbiddenException)
        {
            return false;
        }
        catch (TrousseauException)
        {
            return null;
        }
    }

    /// <summary>
    /// The lookup of <paramref name="token"/>, which a policy denied, that refused calls share: the one under way, or
    /// begun less than <see cref="LookupReuse"/> ago, else a new one. It runs to its end (bounded by <c>Vault:Timeout</c>)
    /// even when every call that waits for it gives up.
    /// </summary>
    private Task<bool?> DeniedLookUpAsync(string token)
    {
        lock (_sync)
        {
            var now = _time.GetUtcNow();
            if (_deniedLookup is { } shared && shared.Token == token && (!shared.Outcome.IsCompleted || now - shared.Started < LookupReuse))
            {
                return shared.Outcome;
            }

            var outcome = Task.Run(() => LookUpAsync(token, CancellationToken.None), CancellationToken.None);
            _deniedLookup = new TokenLookup(token, now, outcome);
            return outcome;
        }
    }

    private bool IsValid(Lease lease) => lease.ExpiresAt is not { } expires || _time.GetUtcNow() < expires;

    private bool IsDue(Lease lease) => lease.RefreshAt is { } due && _time.GetUtcNow() >= due;

    /// <summary>
    /// The lease of the configured token, looked up, or of a new login. <paramref name="stopping"/> ends it when the
    /// host stops, except for a login already sent, which only <paramref name="abandon"/> ends: Vault may have issued
    /// its token, which must be revoked then.
    /// </summary>
    private async Task<Lease> AcquireAsync(DateTimeOffset started, CancellationToken stopping, CancellationToken abandon)
    {
        var method = Auth.Method.ToLowerInvariant();
        if (method == "token")
        {
            var token = VaultCredential.Given(Auth.Token)
                ?? await ReadTokenFileAsync(Auth.TokenFile!, stopping).ConfigureAwait(false);
            var lookup = await _http.SendAsync<object, TokenLookupResponse>(
                HttpMethod.Get, "v1/auth/token/lookup-self", null, null, VaultJson.Default.TokenLookupResponse, token, stopping, repeatable: true).ConfigureAwait(false);
            var data = lookup.Value?.Data;
            return NewLease(token, data?.Ttl ?? 0, data?.Renewable ?? false, VaultAuthMethod.Token, started, batch: false);
        }

        var auth = method switch
        {
            "kubernetes" => await LoginAsync(
                $"v1/auth/{Auth.Mount.Trim('/')}/login",
                await ReadCredentialAsync(Auth.JwtFile, "Auth:JwtFile", "the service-account token (a JWT)", stopping).ConfigureAwait(false),
                "Auth:JwtFile",
                jwt => new KubernetesLogin(Auth.Role!, jwt),
                VaultJson.Default.KubernetesLogin,
                stopping,
                abandon).ConfigureAwait(false),
            "approle" => await LoginAsync(
                "v1/auth/approle/login",
                VaultCredential.Given(Auth.SecretId)
                    ?? await ReadCredentialAsync(Auth.SecretIdFile!, "Auth:SecretIdFile", "the AppRole secret id", stopping).ConfigureAwait(false),
                VaultCredential.Given(Auth.SecretId) is null ? "Auth:SecretIdFile" : null,
                secretId => new AppRoleLogin(VaultCredential.Given(Auth.RoleId)!, secretId),
                VaultJson.Default.AppRoleLogin,
                stopping,
                abandon).ConfigureAwait(false),
            _ => throw new InvalidOperationException($"Unknown Vault auth method '{Auth.Method}'."),
        };
        Interlocked.Increment(ref _logins);
        _loggedIn = true;
        _metrics.LoggedIn();
        LogLoggedIn(_logger, Auth.Method, auth.LeaseDuration);
        return NewLease(auth.ClientToken, auth.LeaseDuration, auth.Renewable, VaultAuthMethod.Login, started, string.Equals(auth.TokenType, "batch", StringComparison.Ordinal));
    }

    /// <summary>The renewed lease, or null when Vault refuses to renew the token (revoked, or not renewable after all).</summary>
    private async Task<Lease?> RenewAsync(Lease lease, DateTimeOffset started, CancellationToken cancellationToken)
    {
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
            return null;
        }

        if (renewed.Value?.Auth is not { } auth)
        {
            return null;
        }

        Interlocked.Increment(ref _renewals);
        _metrics.Renewed();
        LogRenewed(_logger, auth.LeaseDuration);
        return NewLease(lease.Token, auth.LeaseDuration, auth.Renewable, lease.Method, started, lease.Batch);
    }

    private static bool IsRenewalRefused(HttpStatusCode status) => status is HttpStatusCode.BadRequest or HttpStatusCode.Unauthorized or HttpStatusCode.Forbidden;

    /// <summary>
    /// Logs in at <paramref name="path"/> with <paramref name="credential"/> (read from the setting
    /// <paramref name="credentialKey"/>, a file, when given). Credentials Vault refused are not sent again before their
    /// backoff has passed (1 s after the first refusal, doubling at each one in a row up to 30 s): meanwhile the login
    /// fails at once with Vault's refusal, unless the credential read now is another one (a service-account token
    /// kubelet has rotated, a new secret id). Once sent, the login is no longer ended by <paramref name="stopping"/> (the
    /// host stopping) but by <paramref name="abandon"/> alone, within <c>Vault:Timeout</c>, so that the token Vault
    /// issues for it is not left unrevoked; a login the stop gives up on (<see cref="StopAsync"/>) is one warning, since
    /// the token Vault may have issued for it is then neither used nor revoked.
    /// </summary>
    private async Task<VaultAuth> LoginAsync<TBody>(
        string path,
        string credential,
        string? credentialKey,
        Func<string, TBody> body,
        System.Text.Json.Serialization.Metadata.JsonTypeInfo<TBody> type,
        CancellationToken stopping,
        CancellationToken abandon)
    {
        var digest = SHA256.HashData(Encoding.UTF8.GetBytes(credential));
        var refused = _refusedLogin is { } last && CryptographicOperations.FixedTimeEquals(last.Credential, digest) ? last : null;
        if (refused is not null && _time.GetUtcNow() is var now && now < refused.RetryAt)
        {
            throw Refused(refused, now);
        }

        try
        {
            // Vault answers 400 to a login with an unknown role or a wrong secret id: the credentials are refused. A
            // login is sent once: an AppRole secret id may be good for one use only.
            stopping.ThrowIfCancellationRequested();
            var answer = await _http.SendAsync(
                HttpMethod.Post,
                path,
                body(credential),
                type,
                VaultJson.Default.VaultAuthResponse,
                token: null,
                abandon,
                badRequest: errors => new AccessForbiddenException($"Vault answered 400 to {path}: {errors}"),
                repeatable: false).ConfigureAwait(false);
            var auth = answer.Value?.Auth ?? throw new DependencyUnavailableException(VaultHttp.Dependency, $"Vault's answer to {path} holds no token.");
            _refusedLogin = null;
            return auth;
        }
        catch (AccessForbiddenException e)
        {
            var backoff = Backoff(refused?.Backoff);
            _refusedLogin = new RefusedLogin(digest, credentialKey, _time.GetUtcNow() + backoff, backoff, e, LoggedInBefore: credentialKey is null && _loggedIn);
            throw;
        }
        catch (OperationCanceledException) when (abandon.IsCancellationRequested)
        {
            // The stop's wait ended before Vault answered: the token it may have issued is never read, so never revoked.
            LogLoginAbandoned(_logger, Auth.Method, RevocationWait.TotalSeconds);
            throw;
        }
    }

    /// <summary>
    /// Vault's refusal of a login, with when its credentials may be sent again (as its <c>RetryAfter</c>). A secret id
    /// configured as a value (<c>Auth:SecretId</c>) that had logged in before is named, with the fix: a single-use one
    /// (<c>secret_id_num_uses=1</c>) is spent by the first login, and the max TTL always forces another.
    /// </summary>
    private DependencyUnavailableException Refused(RefusedLogin refused, DateTimeOffset now)
    {
        var wait = refused.RetryAt - now;
        var unless = refused.CredentialKey is null ? "" : $", or as soon as {_settingsPath}:{refused.CredentialKey} holds another";
        var spent = refused.LoggedInBefore
            ? $" Vault refused the secret id of {_settingsPath}:Auth:SecretId, which had logged in before: a single-use secret id cannot log in twice, and the token's max TTL forces a new login; use {_settingsPath}:Auth:SecretIdFile instead, a file the operator writes a new secret id to."
            : "";
        return new DependencyUnavailableException(
            VaultHttp.Dependency,
            $"{RefusedWhat()} {refused.Refusal.Message.TrimEnd('.')}.{spent} They are sent again in {Math.Ceiling(wait.TotalSeconds):0} s{unless}.",
            wait,
            refused.Refusal);
    }

    /// <summary>
    /// What Vault refused: for Kubernetes auth the role and the mount, since Vault's refusal alone blames neither (it
    /// answers 403 "permission denied" alike to a token its TokenReview does not admit and to a login at a mount where
    /// no auth method is enabled, and 400 "invalid role name" to a role that mount does not have).
    /// </summary>
    private string RefusedWhat() => string.Equals(Auth.Method, "kubernetes", StringComparison.OrdinalIgnoreCase)
        ? $"Vault refused Trousseau's Kubernetes login as {_settingsPath}:Auth:Role '{Auth.Role}' at {_settingsPath}:Auth:Mount '{Auth.Mount.Trim('/')}': the role may not exist at that mount (400 invalid role name), or no Kubernetes auth method be enabled there, or Vault's TokenReview not admit the service-account token (both 403 permission denied)."
        : $"Vault refused Trousseau's {Auth.Method} credentials.";

    /// <summary>
    /// A credential read anew from <paramref name="path"/>, trimmed. A file that cannot be read, holds nothing, or holds a
    /// line break or another control character inside its credential (which in a header would garble the request) is an
    /// error naming the setting and the file, never what it holds, and nothing is sent to Vault.
    /// </summary>
    private async Task<string> ReadCredentialAsync(string path, string key, string holds, CancellationToken cancellationToken)
    {
        string text;
        try
        {
            text = await File.ReadAllTextAsync(path, cancellationToken).ConfigureAwait(false);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new DependencyUnavailableException(VaultHttp.Dependency, $"{_settingsPath}:{key} '{path}' cannot be read: {e.Message}", e);
        }

        var credential = text.Trim();
        if (credential.Length == 0)
        {
            throw new DependencyUnavailableException(VaultHttp.Dependency, $"{_settingsPath}:{key} '{path}' is empty; it must hold {holds}.");
        }

        // Never shown: the file's content is a credential, or most of one.
        return VaultCredential.HasControlCharacter(credential)
            ? throw new DependencyUnavailableException(
                VaultHttp.Dependency,
                $"{_settingsPath}:{key} '{path}' holds a line break or another control character inside what should be {holds} (the content is not shown here): write {holds} alone in it, on one line.")
            : credential;
    }

    /// <summary>A lease for a token Vault issued or renewed for <paramref name="ttlSeconds"/> no earlier than <paramref name="started"/>.</summary>
    private static Lease NewLease(string token, long ttlSeconds, bool renewable, VaultAuthMethod method, DateTimeOffset started, bool batch)
    {
        if (ttlSeconds <= 0)
        {
            return new Lease(token, null, null, TimeSpan.Zero, renewable, method, batch);
        }

        var ttl = TimeSpan.FromSeconds(ttlSeconds);
        return new Lease(token, started + ttl, started + (ttl * 2 / 3), ttl, renewable, method, batch);
    }

    /// <summary>How a lease's token was obtained: configured (never to be revoked by Trousseau) or by a login.</summary>
    public enum VaultAuthMethod
    {
        Token,
        Login,
    }

    /// <summary>
    /// A login Vault refused: the SHA-256 of the credential sent (never the credential), the setting of the file it
    /// was read from (null when configured as a value), when it may be sent again, the backoff that led there,
    /// Vault's refusal, and whether that credential, configured as a value, had logged in before.
    /// </summary>
    private sealed record RefusedLogin(byte[] Credential, string? CredentialKey, DateTimeOffset RetryAt, TimeSpan Backoff, AccessForbiddenException Refusal, bool LoggedInBefore);

    /// <summary>
    /// A token a policy denied a call right after a login, until when such a refusal keeps it, the backoff that led
    /// there, and whether the token could look itself up then (so that a refused lookup later means Vault no longer
    /// knows it).
    /// </summary>
    private sealed record PolicyDenial(string Token, DateTimeOffset Until, TimeSpan Backoff, bool LooksUp)
    {
        /// <summary>Everything but the token, which must appear in no log or message.</summary>
        public override string ToString() => $"PolicyDenial {{ Until = {Until}, Backoff = {Backoff}, LooksUp = {LooksUp} }}";
    }

    /// <summary>A lookup of a denied token that refused calls share: the token, when it began, and its answer (<see cref="LookUpAsync"/>).</summary>
    private sealed record TokenLookup(string Token, DateTimeOffset Started, Task<bool?> Outcome)
    {
        /// <summary>Everything but the token, which must appear in no log or message.</summary>
        public override string ToString() => $"TokenLookup {{ Started = {Started}, Outcome = {Outcome.Status} }}";
    }

    /// <summary>A Vault token, when it expires and is due for renewal, its TTL, how it was obtained, and whether Vault issued it as a batch token.</summary>
    public sealed record Lease(string Token, DateTimeOffset? ExpiresAt, DateTimeOffset? RefreshAt, TimeSpan Ttl, bool Renewable, VaultAuthMethod Method, bool Batch = false)
    {
        /// <summary>Whether Trousseau revokes the token once it no longer uses it: a login's, unless a batch token (Vault cannot revoke one).</summary>
        public bool Revocable => Method == VaultAuthMethod.Login && !Batch;

        /// <summary>Everything but the token, which must appear in no log or message.</summary>
        public override string ToString() => $"Lease {{ ExpiresAt = {ExpiresAt}, Ttl = {Ttl}, Renewable = {Renewable}, Method = {Method}, Batch = {Batch} }}";
    }

    [LoggerMessage(EventId = 5001, Level = LogLevel.Information, Message = "Logged in to Vault with {Method} auth; token TTL {TtlSeconds} s.")]
    private static partial void LogLoggedIn(ILogger logger, string method, long ttlSeconds);

    [LoggerMessage(EventId = 5002, Level = LogLevel.Debug, Message = "Renewed the Vault token; TTL {TtlSeconds} s.")]
    private static partial void LogRenewed(ILogger logger, long ttlSeconds);

    [LoggerMessage(EventId = 5003, Level = LogLevel.Warning, Message = "Renewing the Vault token failed with {Status}; logging in again.")]
    private static partial void LogRenewFailed(ILogger logger, int status);

    [LoggerMessage(EventId = 5005, Message = "Could not renew or replace the Vault token ({Method} auth): {Reason}. Going on with the current token, which expires in {SecondsLeft} s; trying again in {RetrySeconds} s.")]
    private static partial void LogKeptToken(ILogger logger, LogLevel level, string method, string reason, long secondsLeft, long retrySeconds);

    [LoggerMessage(EventId = 5006, Message = "Could not log in to Vault ({Method} auth): {Reason}. Calls to Vault fail until a login succeeds; the next call tries again.")]
    private static partial void LogNoToken(ILogger logger, LogLevel level, string method, string reason);

    [LoggerMessage(EventId = 5009, Message = "Could not log in to Vault ({Method} auth): {Reason}. Calls to Vault fail until a login succeeds.")]
    private static partial void LogLoginRefused(ILogger logger, LogLevel level, string method, string reason);

    [LoggerMessage(EventId = 5007, Level = LogLevel.Information, Message = "The Vault token was renewed or replaced again after {Failures} failed attempts.")]
    private static partial void LogRecovered(ILogger logger, int failures);

    [LoggerMessage(EventId = 5010, Level = LogLevel.Debug, Message = "Vault refused to revoke the token of a {Method} login that trousseaud no longer uses, as it does a token it no longer knows (revoked or expired already): {Reason}.")]
    private static partial void LogRevokedAlready(ILogger logger, string method, string reason);

    [LoggerMessage(EventId = 5011, Level = LogLevel.Warning, Message = "The Vault token of a {Method} login that trousseaud no longer uses could not be revoked: {Reason}. It stays valid in Vault until its TTL ends, in {SecondsLeft} s.")]
    private static partial void LogNotRevoked(ILogger logger, string method, string reason, long secondsLeft);

    [LoggerMessage(EventId = 5012, Level = LogLevel.Warning, Message = "trousseaud stopped before Vault answered a {Method} login (it waits {WaitSeconds:0.###} s at most): the token Vault may have issued for it is neither used nor revoked, and stays valid in Vault until its TTL ends.")]
    private static partial void LogLoginAbandoned(ILogger logger, string method, double waitSeconds);

    [LoggerMessage(EventId = 5008, Level = LogLevel.Information, Message = "{SettingsPath}:Auth:TokenFile '{Path}' holds a new Vault token; calls use it from now on.")]
    private static partial void LogNewTokenFile(ILogger logger, string settingsPath, string path);
}
