using Microsoft.Extensions.Options;
using Microsoft.Extensions.Time.Testing;
using Trousseau.Hosting;
using Trousseau.Hosting.Api;

namespace Trousseau.Tests.Integration.Hosting;

/// <summary>
/// The memory of Kubernetes caller checks, on a fake clock: answers kept for the login's lease (at most 30 s, a
/// refusal 5 s), the least recently used one making room when full, failures never kept. (The login rate, on the real
/// clock, is checked through trousseaud by <c>ApiCallerCheckTests</c>.)
/// </summary>
public sealed class CallerCheckTests
{
    private readonly FakeTimeProvider _time = new();
    private readonly CountingVerifier _verifier = new();

    [Fact]
    public async Task An_answer_is_kept_for_the_login_lease_and_never_more_than_30_seconds()
    {
        using var check = Create();
        _verifier.Admit("short", "system:serviceaccount:a:short", TimeSpan.FromSeconds(10));
        _verifier.Admit("long", "system:serviceaccount:a:long", TimeSpan.FromHours(1));

        Assert.Equal("system:serviceaccount:a:short", (await check.CheckAsync("short", default)).Identity);
        await check.CheckAsync("long", default);
        _time.Advance(TimeSpan.FromSeconds(9));
        await check.CheckAsync("short", default);
        Assert.Equal(1, _verifier.Logins("short"));
        _time.Advance(TimeSpan.FromSeconds(2));
        await check.CheckAsync("short", default);
        Assert.Equal(2, _verifier.Logins("short"));

        _time.Advance(TimeSpan.FromSeconds(18));
        await check.CheckAsync("long", default);
        Assert.Equal(1, _verifier.Logins("long"));
        _time.Advance(TimeSpan.FromSeconds(2));
        await check.CheckAsync("long", default);
        Assert.Equal(2, _verifier.Logins("long"));
    }

    [Fact]
    public async Task A_refusal_is_kept_5_seconds()
    {
        using var check = Create();

        Assert.Null((await check.CheckAsync("unknown", default)).Identity);
        _time.Advance(TimeSpan.FromSeconds(4));
        await check.CheckAsync("unknown", default);
        Assert.Equal(1, _verifier.Logins("unknown"));
        _time.Advance(TimeSpan.FromSeconds(2));
        await check.CheckAsync("unknown", default);
        Assert.Equal(2, _verifier.Logins("unknown"));
    }

    [Fact]
    public async Task When_full_the_least_recently_used_answer_makes_room_and_the_others_stay()
    {
        using var check = Create(capacity: 3);
        foreach (var caller in new[] { "a", "b", "c", "d" })
        {
            _verifier.Admit(caller, $"system:serviceaccount:ns:{caller}", TimeSpan.FromMinutes(5));
        }

        await check.CheckAsync("a", default);
        await check.CheckAsync("b", default);
        await check.CheckAsync("c", default);
        await check.CheckAsync("a", default);
        await check.CheckAsync("d", default);
        await check.CheckAsync("a", default);
        await check.CheckAsync("c", default);
        await check.CheckAsync("b", default);

        Assert.Equal(1, _verifier.Logins("a"));
        Assert.Equal(1, _verifier.Logins("c"));
        Assert.Equal(1, _verifier.Logins("d"));
        Assert.Equal(2, _verifier.Logins("b"));
    }

    [Fact]
    public async Task A_failed_check_is_not_kept()
    {
        using var check = Create();
        _verifier.Admit("flaky", "system:serviceaccount:a:flaky", TimeSpan.FromMinutes(5));
        _verifier.FailNext = true;

        await Assert.ThrowsAsync<DependencyUnavailableException>(async () => await check.CheckAsync("flaky", default));
        var again = await check.CheckAsync("flaky", default);

        Assert.Equal("system:serviceaccount:a:flaky", again.Identity);
        Assert.Equal(2, _verifier.Logins("flaky"));
    }

    private CallerCheck Create(int capacity = CallerCheck.DefaultCapacity, int maxLoginsPerSecond = 50)
    {
        var options = new TrousseauApiOptions { Auth = { Mode = TrousseauApiAuthMode.Kubernetes, KubernetesRole = "api-callers", MaxLoginsPerSecond = maxLoginsPerSecond } };
        return new CallerCheck(_verifier, Options.Create(options), _time, capacity);
    }

    /// <summary>A verifier that admits the credentials it was told of, refuses the others, and counts its logins.</summary>
    private sealed class CountingVerifier : ICallerVerifier
    {
        private readonly Dictionary<string, VerifiedCaller> _admitted = new(StringComparer.Ordinal);
        private readonly Dictionary<string, int> _logins = new(StringComparer.Ordinal);
        private readonly Lock _lock = new();

        public bool FailNext { get; set; }

        public void Admit(string credential, string identity, TimeSpan validFor) => _admitted[credential] = new VerifiedCaller(identity, validFor);

        public int Logins(string credential)
        {
            lock (_lock)
            {
                return _logins.GetValueOrDefault(credential);
            }
        }

        public ValueTask<VerifiedCaller?> VerifyAsync(string credential, string role, CancellationToken cancellationToken = default)
        {
            lock (_lock)
            {
                _logins[credential] = _logins.GetValueOrDefault(credential) + 1;
            }

            if (FailNext)
            {
                FailNext = false;
                throw new DependencyUnavailableException("vault", "Vault answered 503.");
            }

            return ValueTask.FromResult(_admitted.GetValueOrDefault(credential));
        }
    }
}
