using System.Globalization;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Time.Testing;
using Trousseau.Remote;
using Trousseau.Tests.Integration.Infrastructure;

namespace Trousseau.Tests.Integration.Remote;

/// <summary>
/// What <see cref="TrousseauClientOptions"/> change: whether the token may go over plain HTTP to a server that is not
/// on this machine, and the clock a <c>Retry-After</c> date is read against; and how the client takes an answer no
/// trousseaud gives. The stand-ins are real Kestrel servers.
/// </summary>
public sealed class TrousseauClientOptionsTests
{
    private const string Token = "client-token-7a3e90";

    [Fact]
    public async Task A_token_is_never_sent_over_plain_http_to_another_machine()
    {
        await using var remote = await RecordingServer.StartElsewhereAsync(_ => KeyStatus());
        using var http = new HttpClient { BaseAddress = remote.BaseAddress };

        var refused = Assert.Throws<ArgumentException>(() => new TrousseauClient(http, Token));

        Assert.Contains(remote.BaseAddress.AbsoluteUri, refused.Message, StringComparison.Ordinal);
        Assert.Contains("https://", refused.Message, StringComparison.Ordinal);
        Assert.Contains(nameof(TrousseauClientOptions.AllowInsecureHttp), refused.Message, StringComparison.Ordinal);
        Assert.DoesNotContain(Token, refused.Message, StringComparison.Ordinal);
        Assert.Empty(remote.Requests);
    }

    [Fact]
    public async Task With_the_opt_in_or_without_a_token_plain_http_to_another_machine_is_called()
    {
        await using var remote = await RecordingServer.StartElsewhereAsync(_ => KeyStatus());
        using var http = new HttpClient { BaseAddress = remote.BaseAddress };

        await new TrousseauClient(http, Token, new TrousseauClientOptions { AllowInsecureHttp = true }).GetKeyStatusAsync();
        await new TrousseauClient(http).GetKeyStatusAsync();

        Assert.Collection(
            remote.Requests,
            withToken => Assert.Equal("Bearer " + Token, withToken.Header("Authorization")),
            withoutToken => Assert.Null(withoutToken.Header("Authorization")));
    }

    [Fact]
    public async Task A_retry_after_date_is_read_against_the_client_clock()
    {
        var clock = new FakeTimeProvider(new DateTimeOffset(2031, 3, 14, 9, 26, 53, TimeSpan.Zero));
        var retryAt = clock.GetUtcNow().AddSeconds(90).ToString("r", CultureInfo.InvariantCulture);
        await using var limited = await RecordingServer.StartAsync(_ => new RateLimited(retryAt));
        using var http = new HttpClient { BaseAddress = limited.BaseAddress };
        var client = new TrousseauClient(http, Token, new TrousseauClientOptions { TimeProvider = clock });

        var refused = await Assert.ThrowsAsync<DependencyUnavailableException>(async () => await client.GetKeyStatusAsync());

        Assert.Equal(TimeSpan.FromSeconds(90), refused.RetryAfter);
        Assert.Contains("wait 90 s", refused.Message, StringComparison.Ordinal);
    }

    /// <summary>A <c>Retry-After</c> date already past asks for no wait (RFC 9110): 0, not a negative wait.</summary>
    [Fact]
    public async Task A_retry_after_date_already_past_is_no_wait()
    {
        var clock = new FakeTimeProvider(new DateTimeOffset(2031, 3, 14, 9, 26, 53, TimeSpan.Zero));
        var retryAt = clock.GetUtcNow().AddSeconds(-90).ToString("r", CultureInfo.InvariantCulture);
        await using var limited = await RecordingServer.StartAsync(_ => new RateLimited(retryAt));
        using var http = new HttpClient { BaseAddress = limited.BaseAddress };
        var client = new TrousseauClient(http, Token, new TrousseauClientOptions { TimeProvider = clock });

        var refused = await Assert.ThrowsAsync<DependencyUnavailableException>(async () => await client.GetKeyStatusAsync());

        Assert.Equal(TimeSpan.Zero, refused.RetryAfter);
        Assert.Contains("wait 0 s", refused.Message, StringComparison.Ordinal);
    }

    /// <summary>
    /// trousseaud answers an unavailable store or key provider with 503 and <c>Retry-After</c>, the dependency's own
    /// wait when it gave one (Vault's rate limit, the kubernetes mode's login limit): the caller gets that wait as
    /// in process, and the message names it as clectl's line does.
    /// </summary>
    [Fact]
    public async Task A_503_s_retry_after_reaches_the_caller_as_in_process()
    {
        await using var unavailable = await RecordingServer.StartAsync(_ => new Unavailable("30"));
        using var http = new HttpClient { BaseAddress = unavailable.BaseAddress };
        var client = new TrousseauClient(http, Token);

        var refused = await Assert.ThrowsAsync<DependencyUnavailableException>(async () => await client.GetSecretAsync("db/orders"));

        Assert.Equal(TimeSpan.FromSeconds(30), refused.RetryAfter);
        Assert.Equal(
            $"trousseaud at {unavailable.BaseAddress} answered 503 Service Unavailable: Vault is unavailable: it answered 429 (rate limit quota exceeded); it asks to wait 30 s before trying again.",
            refused.Message);
    }

    [Fact]
    public async Task A_decrypt_answer_whose_plaintext_is_not_base64_fails_as_unavailable_naming_the_server()
    {
        await using var stranger = await RecordingServer.StartAsync(_ => Results.Json(new { plaintext = "not base64!" }));
        using var http = new HttpClient { BaseAddress = stranger.BaseAddress };
        var client = new TrousseauClient(http, Token);

        var refused = await Assert.ThrowsAsync<DependencyUnavailableException>(async () => await client.DecryptAsync(new byte[] { 1, 2, 3 }));

        Assert.Equal($"trousseaud at {stranger.BaseAddress} answered POST v1/decrypt with a body that is not the expected JSON.", refused.Message);
    }

    /// <summary>
    /// A secret whose data holds <c>null</c> is no secret trousseaud stores: it fails the call rather than reaching the
    /// caller as a value that is null where the type says it never is.
    /// </summary>
    [Fact]
    public async Task A_secret_answer_with_a_null_value_fails_as_unavailable_rather_than_holding_null()
    {
        await using var stranger = await RecordingServer.StartAsync(_ => Results.Content(
            """{"name":"db/orders","type":"opaque","data":{"password":null},"revision":3,"createdAt":"2026-01-01T00:00:00Z","updatedAt":"2026-01-01T00:00:00Z"}""",
            "application/json"));
        using var http = new HttpClient { BaseAddress = stranger.BaseAddress };
        var client = new TrousseauClient(http, Token);

        var refused = await Assert.ThrowsAsync<DependencyUnavailableException>(async () => await client.GetSecretAsync("db/orders"));

        Assert.Equal($"trousseaud at {stranger.BaseAddress} answered GET v1/secrets/db/orders with a body that is not the expected JSON.", refused.Message);
    }

    /// <summary>
    /// A server that answers each page with the continuation token it was sent would keep a listing going for ever: the
    /// listing stops at the first such page. The caller's token, cancelled a minute later, only keeps a failing run
    /// from hanging.
    /// </summary>
    [Fact]
    public async Task A_listing_whose_server_hands_back_the_same_continuation_ends_as_unavailable()
    {
        await using var stranger = await RecordingServer.StartAsync(_ => Results.Content("""{"items":[],"continue":"again"}""", "application/json"));
        using var http = new HttpClient { BaseAddress = stranger.BaseAddress };
        var client = new TrousseauClient(http, Token);
        using var backstop = new CancellationTokenSource(TimeSpan.FromMinutes(1));

        var refused = await Assert.ThrowsAsync<DependencyUnavailableException>(async () =>
        {
            await foreach (var _ in client.ListSecretsAsync("db/", backstop.Token))
            {
            }
        });

        Assert.Equal(
            $"trousseaud at {stranger.BaseAddress} answered page 1 of the listing of 'db/' with no secrets but a continue token, which trousseaud never does: the listing would not end.",
            refused.Message);
        Assert.Single(stranger.Requests);
    }

    /// <summary>
    /// A server whose continuation tokens lead back to one it gave before (a, b, a, ...) keeps a listing going for ever
    /// as well: the listing stops at the page that gives such a token, before taking its secrets, as clectl does.
    /// </summary>
    [Fact]
    public async Task A_listing_whose_continuation_tokens_go_round_ends_as_unavailable()
    {
        var served = 0;
        await using var stranger = await RecordingServer.StartAsync(_ =>
        {
            var page = Interlocked.Increment(ref served);
            return Results.Json(
                new SecretListBody([new SecretMetadataBody($"db/{page}", "opaque", page, DateTimeOffset.UnixEpoch, DateTimeOffset.UnixEpoch)], page % 2 == 1 ? "a" : "b"),
                WireJson.Default.SecretListBody);
        });
        using var http = new HttpClient { BaseAddress = stranger.BaseAddress };
        var client = new TrousseauClient(http, Token);
        using var backstop = new CancellationTokenSource(TimeSpan.FromMinutes(1));
        var listed = new List<string>();

        var refused = await Assert.ThrowsAsync<DependencyUnavailableException>(async () =>
        {
            await foreach (var secret in client.ListSecretsAsync("db/", backstop.Token))
            {
                listed.Add(secret.Name);
            }
        });

        Assert.Equal(
            $"trousseaud at {stranger.BaseAddress} answered page 3 of the listing of 'db/' with a continue token it gave before, which trousseaud never does: the listing would not end.",
            refused.Message);
        Assert.Equal(["db/1", "db/2"], listed);
        Assert.Equal(3, stranger.Requests.Count);
    }

    /// <summary>
    /// trousseaud answers not-found for a <c>/v1</c> path no route serves too (an older server without the route): for a
    /// call about no secret, that is no <see cref="SecretNotFoundException"/> naming a secret of no name.
    /// </summary>
    [Fact]
    public async Task A_not_found_answer_to_a_call_about_no_secret_names_the_server_not_a_secret()
    {
        await using var older = await RecordingServer.StartAsync(_ => Results.Json(
            new ProblemBody(ProblemTypes.NotFound, "Not found", StatusCodes.Status404NotFound, "No route serves GET /v1/auth/whoami."),
            WireJson.Default.ProblemBody,
            "application/problem+json",
            StatusCodes.Status404NotFound));
        using var http = new HttpClient { BaseAddress = older.BaseAddress };
        var client = new TrousseauClient(http, Token);

        var refused = await Assert.ThrowsAsync<DependencyUnavailableException>(async () => await client.WhoAmIAsync());

        Assert.Equal($"trousseaud at {older.BaseAddress} answered 404 Not Found: No route serves GET /v1/auth/whoami.", refused.Message);
    }

    private static IResult KeyStatus() => Results.Json(new { provider = "local", keyId = "k1", version = 1 });

    /// <summary>trousseaud's answer when a dependency cannot serve: a 503 problem with <c>Retry-After</c>.</summary>
    private sealed class Unavailable(string retryAfter) : IResult
    {
        public Task ExecuteAsync(HttpContext httpContext)
        {
            httpContext.Response.Headers.RetryAfter = retryAfter;
            return Results.Json(
                new ProblemBody(ProblemTypes.Unavailable, "Dependency unavailable", StatusCodes.Status503ServiceUnavailable, "Vault is unavailable: it answered 429 (rate limit quota exceeded)."),
                WireJson.Default.ProblemBody,
                "application/problem+json",
                StatusCodes.Status503ServiceUnavailable).ExecuteAsync(httpContext);
        }
    }

    /// <summary>A 429 whose <c>Retry-After</c> is an HTTP date.</summary>
    private sealed class RateLimited(string retryAt) : IResult
    {
        public Task ExecuteAsync(HttpContext httpContext)
        {
            httpContext.Response.StatusCode = StatusCodes.Status429TooManyRequests;
            httpContext.Response.Headers.RetryAfter = retryAt;
            return Task.CompletedTask;
        }
    }
}
