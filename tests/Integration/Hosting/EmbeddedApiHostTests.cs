using System.Net;
using System.Net.Http.Headers;
using System.Text.Json;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using OpenTelemetry.Metrics;
using Trousseau.Tests.Integration.Infrastructure;

namespace Trousseau.Tests.Integration.Hosting;

/// <summary>
/// An application of its own (not trousseaud) on Kestrel with <c>AddTrousseau</c>, <c>MapTrousseauApi</c>, the health
/// checks and OpenTelemetry's Prometheus exporter subscribed with <c>AddTrousseauInstrumentation</c>: what a .NET team
/// gets by referencing Trousseau.Hosting.
/// </summary>
public sealed class EmbeddedApiHostTests : IDisposable
{
    private const string Password = "embedded-canary-5f1c9a";
    private readonly TempDirectory _temp = new();

    public void Dispose() => _temp.Dispose();

    [Fact]
    public async Task An_application_serves_the_api_health_and_metrics_without_leaking_a_value()
    {
        await using var app = await StartAsync(trousseau => trousseau.UseInMemoryStore());
        using var http = await ClientAsync(app);

        using var created = await http.PostAsync("v1/secrets", JsonBody.Of($$$"""{"name":"app/db","type":"login","data":{"username":"orders","password":"{{{Password}}}"}}"""));
        Assert.Equal(HttpStatusCode.Created, created.StatusCode);
        using var read = await http.GetAsync("v1/secrets/app/db");
        Assert.Equal(HttpStatusCode.OK, read.StatusCode);
        using (var secret = JsonDocument.Parse(await read.Content.ReadAsStringAsync()))
        {
            Assert.Equal(Password, secret.RootElement.GetProperty("data").GetProperty("password").GetString());
        }

        using var ready = await http.GetAsync("readyz");
        Assert.Equal(HttpStatusCode.OK, ready.StatusCode);
        using (var report = JsonDocument.Parse(await ready.Content.ReadAsStringAsync()))
        {
            var checks = report.RootElement.GetProperty("checks");
            Assert.Equal("healthy", checks.GetProperty("key-provider").GetProperty("status").GetString());
            Assert.Equal("healthy", checks.GetProperty("store").GetProperty("status").GetString());
        }

        var metrics = await http.GetStringAsync("metrics");
        Assert.Contains("trousseau_operation_duration_seconds_count{", metrics, StringComparison.Ordinal);
        Assert.Contains("trousseau_operation=\"secret.create\"", metrics, StringComparison.Ordinal);
        Assert.DoesNotContain(Password, metrics, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Errors_are_problem_details_and_callers_without_the_token_are_refused()
    {
        await using var app = await StartAsync(trousseau => trousseau.UseInMemoryStore());
        using var anonymous = Client(app, token: null);
        using var wrong = Client(app, "not-the-token");
        using var http = await ClientAsync(app);

        using var refused = await anonymous.GetAsync("v1/secrets/app/db");
        await AssertProblemAsync(refused, HttpStatusCode.Unauthorized);
        using var rejected = await wrong.PostAsync("v1/secrets", JsonBody.Of("""{"name":"app/x","data":{"k":"v"}}"""));
        await AssertProblemAsync(rejected, HttpStatusCode.Unauthorized);
        using var missing = await http.GetAsync("v1/secrets/app/nothing-here");
        await AssertProblemAsync(missing, HttpStatusCode.NotFound);
        using var malformed = await http.PostAsync("v1/secrets", JsonBody.Of("""{"name":"app/x","data":"""));
        await AssertProblemAsync(malformed, HttpStatusCode.BadRequest);
        using var badName = await http.PostAsync("v1/secrets", JsonBody.Of("""{"name":"../etc/passwd","data":{"k":"v"}}"""));
        await AssertProblemAsync(badName, HttpStatusCode.BadRequest);

        using var list = await http.GetAsync("v1/secrets");
        Assert.Equal(HttpStatusCode.OK, list.StatusCode);
        Assert.DoesNotContain("app/x", await list.Content.ReadAsStringAsync(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_store_that_is_down_makes_readyz_503_and_the_api_answer_503_with_a_retry_after()
    {
        // A restart, with the key ring made before: beside a store that cannot be read, a missing one stops the start.
        await using (var first = await StartAsync(trousseau => trousseau.UseInMemoryStore()))
        {
            await first.Services.GetRequiredService<IKeyProvider>().GetCurrentKeyAsync();
        }

        var deadEndpoint = new Uri($"http://127.0.0.1:{FreePort.Next()}");
        await using var app = await StartAsync(trousseau => trousseau.UseEtcdStore(etcd => etcd.Endpoints.Add(deadEndpoint)));
        using var http = await ClientAsync(app);

        using var ready = await http.GetAsync("readyz");
        Assert.Equal(HttpStatusCode.ServiceUnavailable, ready.StatusCode);
        using (var report = JsonDocument.Parse(await ready.Content.ReadAsStringAsync()))
        {
            var checks = report.RootElement.GetProperty("checks");
            Assert.Equal("healthy", checks.GetProperty("key-provider").GetProperty("status").GetString());
            Assert.Equal("unhealthy", checks.GetProperty("store").GetProperty("status").GetString());
        }

        using var read = await http.GetAsync("v1/secrets/app/db");
        await AssertProblemAsync(read, HttpStatusCode.ServiceUnavailable);
        Assert.True(read.Headers.RetryAfter?.Delta >= TimeSpan.FromSeconds(1), $"Retry-After: {read.Headers.RetryAfter}");
        using var live = await http.GetAsync("healthz");
        Assert.Equal(HttpStatusCode.OK, live.StatusCode);
    }

    [Fact]
    public async Task A_route_the_application_adds_to_the_api_group_reads_its_own_query_while_trousseau_routes_refuse_one_they_do_not_take()
    {
        await using var app = await StartAsync(trousseau => trousseau.UseInMemoryStore(), api => api.MapGet("/app/echo", (string q) => q));
        using var http = await ClientAsync(app);

        using var echoed = await http.GetAsync("v1/app/echo?q=hello");
        using var refused = await http.GetAsync("v1/keys?q=hello");

        Assert.Equal(HttpStatusCode.OK, echoed.StatusCode);
        Assert.Equal("hello", await echoed.Content.ReadAsStringAsync());
        var problem = await Problems.AssertInvalidInputAsync(refused, HttpStatusCode.BadRequest);
        Assert.Equal("'q' is not a parameter of GET /v1/keys; it takes no query parameters.", problem.GetProperty("detail").GetString());
    }

    [Fact]
    public async Task A_request_id_of_megabytes_the_application_sets_is_cut_in_the_audit_line_and_the_trail_still_verifies()
    {
        var trail = _temp.Combine("audit.log");
        var requestId = new string('r', 2 * 1024 * 1024);
        await using var app = await StartAsync(
            trousseau => trousseau.UseInMemoryStore().AddAuditTrail(audit => audit.Path = trail),
            api => api.AddEndpointFilter((context, next) =>
            {
                context.HttpContext.TraceIdentifier = requestId;
                return next(context);
            }));
        using var http = await ClientAsync(app);

        using var missing = await http.GetAsync("v1/secrets/app/nothing-here");

        Assert.Equal(HttpStatusCode.NotFound, missing.StatusCode);
        using (var record = JsonDocument.Parse(Assert.Single(await File.ReadAllLinesAsync(trail))))
        {
            Assert.Equal(requestId[..8192] + "…", record.RootElement.GetProperty("requestId").GetString());
        }

        ClectlAssert.Ok(await new ClectlRunner(_temp.Path, new Dictionary<string, string?>()).RunAsync("audit", "verify", trail));
    }

    [Fact]
    public void MapTrousseauApi_without_its_services_names_the_missing_call()
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.Services.AddTrousseau(_ => { }).UseInMemoryStore();
        using var app = builder.Build();

        var error = Assert.Throws<InvalidOperationException>(() => app.MapTrousseauApi());

        Assert.Contains("AddHttpApi()", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_change_made_between_the_check_of_an_if_match_list_and_the_write_is_a_412_and_is_not_written_over()
    {
        var store = new ChangedAfterItsListing();
        await using var app = await StartAsync(trousseau => trousseau.AddSecretStore("changed-after-listing", _ => store));
        using var http = await ClientAsync(app);
        using var created = await http.PostAsync("v1/secrets", JsonBody.Of("""{"name":"app/raced","data":{"k":"first"}}"""));
        Assert.Equal(HttpStatusCode.Created, created.StatusCode);
        var tag = created.Headers.ETag!.Tag;

        // A list of tags is checked against the secret's revision read before the write; another writer changes the
        // secret right after that read, so the write must find it no longer at the revision checked.
        store.ChangeAfterNextListing();
        using var put = new HttpRequestMessage(HttpMethod.Put, "v1/secrets/app/raced") { Content = JsonBody.Of("""{"data":{"k":"second"}}""") };
        put.Headers.TryAddWithoutValidation("If-Match", $"{tag}, \"999999\"");
        using var answer = await http.SendAsync(put);

        await AssertProblemAsync(answer, HttpStatusCode.PreconditionFailed);
        Assert.True(store.Changed, "the other writer's change was not made between the check and the write");
        using var read = await http.GetAsync("v1/secrets/app/raced");
        using var secret = JsonDocument.Parse(await read.Content.ReadAsStringAsync());
        Assert.Equal("first", secret.RootElement.GetProperty("data").GetProperty("k").GetString());
    }

    [Fact]
    public async Task A_read_whose_secret_changed_after_its_if_match_was_checked_is_a_412_not_the_changed_secret()
    {
        var store = new ChangedAfterItsListing();
        await using var app = await StartAsync(trousseau => trousseau.AddSecretStore("changed-after-listing", _ => store));
        using var http = await ClientAsync(app);
        using var created = await http.PostAsync("v1/secrets", JsonBody.Of("""{"name":"app/raced-read","data":{"k":"first"}}"""));
        var tag = created.Headers.ETag!.Tag;

        store.ChangeAfterNextListing();
        using var get = new HttpRequestMessage(HttpMethod.Get, "v1/secrets/app/raced-read");
        get.Headers.TryAddWithoutValidation("If-Match", tag);
        using var answer = await http.SendAsync(get);

        await AssertProblemAsync(answer, HttpStatusCode.PreconditionFailed);
        Assert.True(store.Changed, "the other writer's change was not made between the check and the read");
        Assert.NotEqual(tag, answer.Headers.ETag?.Tag);
    }

    private async Task<WebApplication> StartAsync(Action<ITrousseauBuilder> store, Action<RouteGroupBuilder>? addRoutes = null)
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        builder.WebHost.UseUrls("http://127.0.0.1:0");
        var trousseau = builder.Services.AddTrousseau(_ => { })
            .UseLocalKeyRing(ring => ring.KeyFile = _temp.Combine("ring.json"))
            .AddHttpApi(api => api.Auth.TokenFile = _temp.Combine("api.token"));
        store(trousseau);
        builder.Services.AddHealthChecks().AddTrousseau();
        builder.Services.AddOpenTelemetry().WithMetrics(metrics => metrics.AddTrousseauInstrumentation().AddPrometheusExporter());

        var app = builder.Build();
        var api = app.MapTrousseauApi();
        addRoutes?.Invoke(api);
        app.MapTrousseauHealth();
        app.MapPrometheusScrapingEndpoint();
        await app.StartAsync();
        return app;
    }

    /// <summary>A client with the token the API wrote to its token file.</summary>
    private Task<HttpClient> ClientAsync(WebApplication app) => BearerClient.FromTokenFileAsync(Address(app), _temp.Combine("api.token"));

    private static HttpClient Client(WebApplication app, string? token) =>
        token is null ? new HttpClient { BaseAddress = Address(app), Timeout = TimeSpan.FromSeconds(30) } : BearerClient.Create(Address(app), token);

    private static Uri Address(WebApplication app) =>
        new(app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.Single() + "/");


    private static async Task AssertProblemAsync(HttpResponseMessage response, HttpStatusCode expected)
    {
        var problem = await Problems.AssertAsync(response, expected);
        Assert.False(string.IsNullOrWhiteSpace(problem.GetProperty("detail").GetString()));
    }
}

/// <summary>
/// An in-memory store where another writer rewrites the first record of the next listing (as it is, at a new revision)
/// right after that listing is read: the moment between a precondition's check and the write it guards.
/// </summary>
internal sealed class ChangedAfterItsListing : ISecretStore
{
    private readonly InMemorySecretStore _inner = new();
    private int _armed;

    /// <summary>Whether the armed listing found a record and it was rewritten.</summary>
    public bool Changed { get; private set; }

    public string Name => "changed-after-listing";

    public void ChangeAfterNextListing() => Interlocked.Exchange(ref _armed, 1);

    public async ValueTask<StorePage> ListAsync(string prefix, string? startAfter, int limit, CancellationToken cancellationToken = default)
    {
        var page = await _inner.ListAsync(prefix, startAfter, limit, cancellationToken);
        if (Interlocked.Exchange(ref _armed, 0) == 1 && page.Entries is [var first, ..] && await _inner.GetAsync(first.Key, cancellationToken) is { } entry)
        {
            await _inner.UpdateAsync(entry.Key, entry.Value, entry.Revision, cancellationToken);
            Changed = true;
        }

        return page;
    }

    public ValueTask<StoreEntry?> GetAsync(string key, CancellationToken cancellationToken = default) => _inner.GetAsync(key, cancellationToken);

    public ValueTask<long> CreateAsync(string key, ReadOnlyMemory<byte> value, CancellationToken cancellationToken = default) =>
        _inner.CreateAsync(key, value, cancellationToken);

    public ValueTask<long> UpdateAsync(string key, ReadOnlyMemory<byte> value, long expectedRevision, CancellationToken cancellationToken = default) =>
        _inner.UpdateAsync(key, value, expectedRevision, cancellationToken);

    public ValueTask DeleteAsync(string key, long? expectedRevision = null, CancellationToken cancellationToken = default) =>
        _inner.DeleteAsync(key, expectedRevision, cancellationToken);

    public ValueTask<DependencyHealth> CheckHealthAsync(CancellationToken cancellationToken = default) => _inner.CheckHealthAsync(cancellationToken);
}
