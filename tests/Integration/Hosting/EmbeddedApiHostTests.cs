using System.Net;
using System.Net.Http.Headers;
using System.Text;
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

        using var created = await http.PostAsync("v1/secrets", Json($$$"""{"name":"app/db","type":"login","data":{"username":"orders","password":"{{{Password}}}"}}"""));
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
        using var rejected = await wrong.PostAsync("v1/secrets", Json("""{"name":"app/x","data":{"k":"v"}}"""));
        await AssertProblemAsync(rejected, HttpStatusCode.Unauthorized);
        using var missing = await http.GetAsync("v1/secrets/app/nothing-here");
        await AssertProblemAsync(missing, HttpStatusCode.NotFound);
        using var malformed = await http.PostAsync("v1/secrets", Json("""{"name":"app/x","data":"""));
        await AssertProblemAsync(malformed, HttpStatusCode.BadRequest);
        using var badName = await http.PostAsync("v1/secrets", Json("""{"name":"../etc/passwd","data":{"k":"v"}}"""));
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

    private static StringContent Json(string body) => new(body, Encoding.UTF8, "application/json");

    private static async Task AssertProblemAsync(HttpResponseMessage response, HttpStatusCode expected)
    {
        var problem = await Problems.AssertAsync(response, expected);
        Assert.False(string.IsNullOrWhiteSpace(problem.GetProperty("detail").GetString()));
    }
}
