using System.Security.Cryptography;
using System.Text;
using System.Threading.RateLimiting;
using Microsoft.Extensions.Options;

namespace Trousseau.Hosting.Api;

/// <summary>
/// Checks the bearer tokens of <c>Api:Auth:Mode=kubernetes</c> with the <see cref="ICallerVerifier"/> (a Vault login
/// each), so that a flood of tokens cannot become a flood of logins: an answer is kept for as long as the login's
/// lease lasts, at most 30 s (a refusal 5 s), for the 10,000 tokens used most recently; concurrent checks of one token
/// share one login; and at most <see cref="TrousseauApiAuthOptions.MaxLoginsPerSecond"/> logins start each second
/// (a token bucket of ASP.NET Core's rate limiting, refilled every second), a check over that being answered "retry
/// after".
/// </summary>
internal sealed class CallerCheck : IDisposable
{
    public const int DefaultCapacity = 10_000;
    private static readonly TimeSpan AdmittedFor = TimeSpan.FromSeconds(30);
    private static readonly TimeSpan RefusedFor = TimeSpan.FromSeconds(5);
    private static readonly TimeSpan Period = TimeSpan.FromSeconds(1);

    private readonly ICallerVerifier _verifier;
    private readonly string _role;
    private readonly TimeProvider _time;
    private readonly Lock _lock = new();
    private readonly CallerCache _cache;
    private readonly Dictionary<string, TaskCompletionSource<CallerCheckResult>> _inFlight = new(StringComparer.Ordinal);
    private readonly TokenBucketRateLimiter _logins;

    public CallerCheck(ICallerVerifier verifier, IOptions<TrousseauApiOptions> options, TimeProvider time, int capacity = DefaultCapacity)
    {
        var auth = options.Value.Auth;
        _verifier = verifier;
        _role = auth.KubernetesRole ?? throw new InvalidOperationException("Caller checks need Api:Auth:KubernetesRole.");
        _time = time;
        _cache = new CallerCache(capacity);
        _logins = new TokenBucketRateLimiter(new TokenBucketRateLimiterOptions
        {
            TokenLimit = auth.MaxLoginsPerSecond,
            TokensPerPeriod = auth.MaxLoginsPerSecond,
            ReplenishmentPeriod = Period,
            QueueLimit = 0,
            AutoReplenishment = true,
        });
    }

    /// <summary>
    /// Who presents <paramref name="credential"/>, from memory or from one login shared with concurrent checks of
    /// the same credential.
    /// </summary>
    /// <exception cref="DependencyUnavailableException">The verifier's backend could not answer; nothing is remembered.</exception>
    public async ValueTask<CallerCheckResult> CheckAsync(string credential, CancellationToken cancellationToken)
    {
        var key = Convert.ToHexString(SHA256.HashData(Encoding.UTF8.GetBytes(_role + "\n" + credential)));
        TaskCompletionSource<CallerCheckResult>? login = null;
        Task<CallerCheckResult> answer;
        lock (_lock)
        {
            if (_cache.TryGet(key, _time.GetUtcNow(), out var cached))
            {
                return cached;
            }

            if (_inFlight.TryGetValue(key, out var running))
            {
                answer = running.Task;
            }
            else
            {
                using var lease = _logins.AttemptAcquire();
                if (!lease.IsAcquired)
                {
                    return CallerCheckResult.Throttled(lease.TryGetMetadata(MetadataName.RetryAfter, out var wait) ? wait : Period);
                }

                login = new TaskCompletionSource<CallerCheckResult>(TaskCreationOptions.RunContinuationsAsynchronously);
                _inFlight[key] = login;
                answer = login.Task;
            }
        }

        if (login is not null)
        {
            _ = LoginAsync(key, credential, login);
        }

        return await answer.WaitAsync(cancellationToken).ConfigureAwait(false);
    }

    public void Dispose() => _logins.Dispose();

    private async Task LoginAsync(string key, string credential, TaskCompletionSource<CallerCheckResult> login)
    {
        try
        {
            // Not the first request's token: others wait on this login too. Vault:Timeout bounds it.
            var caller = await _verifier.VerifyAsync(credential, _role, CancellationToken.None).ConfigureAwait(false);
            var result = caller is null ? CallerCheckResult.Refused : CallerCheckResult.Admitted(caller.Identity);
            var keptFor = caller is null ? RefusedFor
                : caller.ValidFor > TimeSpan.Zero && caller.ValidFor < AdmittedFor ? caller.ValidFor
                : AdmittedFor;
            lock (_lock)
            {
                _inFlight.Remove(key);
                _cache.Set(key, result, _time.GetUtcNow() + keptFor);
            }

            login.SetResult(result);
        }
        catch (Exception e)
        {
            lock (_lock)
            {
                _inFlight.Remove(key);
            }

            login.SetException(e);
        }
    }
}

/// <summary>What a caller check found: the caller's identity, a refusal, or too many logins now (retry after a while).</summary>
/// <param name="Identity">Who the caller is, when admitted.</param>
/// <param name="RetryAfter">When the check could not be made now, how long to wait before trying again.</param>
internal readonly record struct CallerCheckResult(string? Identity, TimeSpan? RetryAfter)
{
    public static CallerCheckResult Refused => default;

    public static CallerCheckResult Admitted(string identity) => new(identity, null);

    public static CallerCheckResult Throttled(TimeSpan retryAfter) => new(null, retryAfter);
}
