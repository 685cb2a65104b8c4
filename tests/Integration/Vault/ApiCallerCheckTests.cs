using System.Diagnostics;
using System.Net;
using Trousseau.Tests.Integration.Infrastructure;

namespace Trousseau.Tests.Integration.Vault;

/// <summary>
/// How trousseaud in <c>Api:Auth:Mode=kubernetes</c> checks bearer tokens through Vault under a flood: one login for
/// many concurrent requests with one token, a bounded rate of logins, no login for a malformed header, and Vault's
/// failures answered 503 (never 500), its refusals 401.
/// </summary>
public sealed class ApiCallerCheckTests(KubernetesApiFixture fixture) : IClassFixture<KubernetesApiFixture>
{
    private const int Concurrent = 8;

    [VaultTestServerFact]
    public async Task Concurrent_requests_with_one_new_token_cost_one_vault_login()
    {
        var jwt = fixture.NewCaller("payments", "batch");
        var before = fixture.Logins;
        var release = new TaskCompletionSource();
        fixture.Vault.Hold = new VaultTestServer.VaultHold("auth/kubernetes/login", release.Task);
        HttpResponseMessage[] answers;
        try
        {
            using var http = fixture.Client(jwt);
            var calls = Enumerable.Range(0, Concurrent).Select(_ => http.PostAsync(new Uri("v1/encrypt", UriKind.Relative), JsonBody.Of("""{"plaintext":"aGk="}"""))).ToList();
            await Eventually.HoldsAsync(async () => await fixture.ActiveRequestsAsync("POST") >= Concurrent, () => "trousseaud did not have every request in hand");
            release.SetResult();
            answers = await Task.WhenAll(calls);
        }
        finally
        {
            fixture.Vault.Hold = null;
            release.TrySetResult();
        }

        Assert.All(answers, answer => Assert.Equal(HttpStatusCode.OK, answer.StatusCode));
        Assert.Equal(1, fixture.Logins - before);
    }

    [VaultTestServerTheory]
    [InlineData(404)]
    [InlineData(429)]
    [InlineData(500)]
    [InlineData(503)]
    public async Task Vault_failing_during_the_check_is_503_with_retry_after_after_one_login_and_nothing_is_remembered(int status)
    {
        var jwt = fixture.NewCaller("payments", "flaky");
        using var http = fixture.Client(jwt);
        var before = fixture.Logins;
        fixture.Vault.Fault = new VaultTestServer.VaultFault(status, "failing on purpose", RetryAfter: status == 429 ? TimeSpan.FromSeconds(7) : null, PathContains: "auth/kubernetes/login");
        HttpResponseMessage failed;
        try
        {
            failed = await http.GetAsync(new Uri("v1/keys", UriKind.Relative));
        }
        finally
        {
            fixture.Vault.Fault = null;
        }

        var problem = await Problems.AssertAsync(failed, HttpStatusCode.ServiceUnavailable);
        Assert.Equal("urn:trousseau:problem:unavailable", problem.GetProperty("type").GetString());
        Assert.Equal(status == 429 ? TimeSpan.FromSeconds(7) : TimeSpan.FromSeconds(1), failed.Headers.RetryAfter?.Delta);
        Assert.Equal(1, fixture.Logins - before);
        Assert.DoesNotContain(jwt, fixture.Server.Log, StringComparison.Ordinal);

        using var recovered = await http.GetAsync(new Uri("v1/keys", UriKind.Relative));
        Assert.Equal(HttpStatusCode.OK, recovered.StatusCode);
    }

    [VaultTestServerTheory]
    [InlineData(400)]
    [InlineData(403)]
    public async Task A_token_vault_refuses_is_401(int status)
    {
        using var http = fixture.Client(fixture.NewCaller("payments", "refused"));
        fixture.Vault.Fault = new VaultTestServer.VaultFault(status, "permission denied", PathContains: "auth/kubernetes/login");
        HttpResponseMessage refused;
        try
        {
            refused = await http.GetAsync(new Uri("v1/keys", UriKind.Relative));
        }
        finally
        {
            fixture.Vault.Fault = null;
        }

        var problem = await Problems.AssertAsync(refused, HttpStatusCode.Unauthorized);
        Assert.Equal("urn:trousseau:problem:unauthenticated", problem.GetProperty("type").GetString());
        Assert.Equal("Bearer error=\"invalid_token\"", refused.Headers.WwwAuthenticate.ToString());
    }

    [VaultTestServerTheory]
    [InlineData("Bearer")]
    [InlineData("Bearer ")]
    [InlineData("Bearer      ")]
    [InlineData("Bearer two words")]
    [InlineData("Basic dXNlcjpwYXNzd29yZA==")]
    [InlineData("Bearer,token")]
    [InlineData("Token abc")]
    public async Task A_malformed_authorization_header_is_401_without_asking_vault(string authorization)
    {
        var before = fixture.Logins;
        using var http = fixture.RawClient(authorization);

        using var answer = await http.GetAsync(new Uri("v1/keys", UriKind.Relative));

        var problem = await Problems.AssertAsync(answer, HttpStatusCode.Unauthorized);
        Assert.Equal("urn:trousseau:problem:unauthenticated", problem.GetProperty("type").GetString());
        Assert.StartsWith("Bearer", answer.Headers.WwwAuthenticate.ToString(), StringComparison.Ordinal);
        Assert.Equal(before, fixture.Logins);
    }

    [VaultTestServerFact]
    public async Task A_flood_of_new_tokens_is_held_to_the_login_rate_while_known_callers_go_on()
    {
        await using var limited = await fixture.StartServerAsync("limited", "--Trousseau:Api:Auth:MaxLoginsPerSecond=1");
        using var known = fixture.Client(KubernetesApiFixture.OrdersJwt, limited);
        using var first = await known.GetAsync(new Uri("v1/keys", UriKind.Relative));
        Assert.Equal(HttpStatusCode.OK, first.StatusCode);
        var before = fixture.Logins;

        const int Flood = 40;
        var clients = Enumerable.Range(0, Flood).Select(i => fixture.Client($"random.{Guid.NewGuid():N}.{i}", limited)).ToList();
        var started = Stopwatch.GetTimestamp();
        var answers = await Task.WhenAll(clients.Select(c => c.GetAsync(new Uri("v1/keys", UriKind.Relative))));
        var elapsed = Stopwatch.GetElapsedTime(started);
        var logins = fixture.Logins - before;
        using var during = await known.GetAsync(new Uri("v1/keys", UriKind.Relative));
        clients.ForEach(c => c.Dispose());

        // One login a second: the bucket holds at most one, and its one-second refill comes at most once more than
        // the whole seconds the flood lasted.
        var allowed = 1 + (int)elapsed.TotalSeconds + 1;
        Assert.True(logins <= allowed, $"{logins} Vault logins for {Flood} new tokens in {elapsed.TotalSeconds:0.0} s at 1 login/s");
        Assert.All(answers, a => Assert.Contains(a.StatusCode, new[] { HttpStatusCode.Unauthorized, HttpStatusCode.ServiceUnavailable }));
        Assert.Equal(logins, answers.Count(a => a.StatusCode == HttpStatusCode.Unauthorized));
        var throttled = answers.Where(a => a.StatusCode == HttpStatusCode.ServiceUnavailable).ToList();
        Assert.NotEmpty(throttled);
        var problem = await Problems.AssertAsync(throttled[0], HttpStatusCode.ServiceUnavailable);
        Assert.Contains("Trousseau:Api:Auth:MaxLoginsPerSecond", problem.GetProperty("detail").GetString(), StringComparison.Ordinal);
        Assert.True(throttled[0].Headers.RetryAfter?.Delta >= TimeSpan.FromSeconds(1), $"Retry-After: {throttled[0].Headers.RetryAfter}");
        Assert.Equal(HttpStatusCode.OK, during.StatusCode);
    }
}
