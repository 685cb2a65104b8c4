using System.Net;
using System.Net.Http.Headers;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Diagnostics;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Testing;
using Trousseau.Tests.Integration.Infrastructure;

namespace Trousseau.Tests.Integration.Hosting;

/// <summary>
/// What an application embedding the API gets when something fails that nobody expected: problem details on the API's
/// routes, its own behaviour and its own exception handlers everywhere else.
/// </summary>
public sealed class ApiExceptionHandlerTests : IDisposable
{
    private const string FailHeader = "X-Test-Fail";
    private const string Failure = "an application filter failed";
    private readonly TempDirectory _temp = new();
    private readonly FakeLogCollector _log = new();

    public void Dispose() => _temp.Dispose();

    [Fact]
    public async Task An_unexpected_failure_on_an_api_route_is_a_500_problem_logged_with_its_exception_and_the_apps_own_routes_are_left_alone()
    {
        await using var app = await StartAsync(ownHandler: false);
        using var http = await ClientAsync(app);

        using var failed = await SendAsync(http, "v1/secrets", fail: true);
        var problem = await Problems.AssertAsync(failed, HttpStatusCode.InternalServerError);
        using var own = await http.GetAsync(new Uri("app/boom", UriKind.Relative));
        using var fine = await SendAsync(http, "v1/secrets", fail: false);

        Assert.Equal("urn:trousseau:problem:internal", problem.GetProperty("type").GetString());
        Assert.DoesNotContain(Failure, problem.GetProperty("detail").GetString(), StringComparison.Ordinal);
        Assert.Contains(_log.GetSnapshot(), e => e.Message.Contains("GET /v1/secrets failed unexpectedly", StringComparison.Ordinal) && e.Exception?.Message == Failure);
        Assert.Equal(HttpStatusCode.InternalServerError, own.StatusCode);
        Assert.NotEqual("application/problem+json", own.Content.Headers.ContentType?.MediaType);
        Assert.Equal(HttpStatusCode.OK, fine.StatusCode);
    }

    [Fact]
    public async Task An_application_with_its_own_exception_handler_keeps_it_for_its_routes()
    {
        await using var app = await StartAsync(ownHandler: true);
        using var http = await ClientAsync(app);

        using var own = await http.GetAsync(new Uri("app/boom", UriKind.Relative));
        using var failed = await SendAsync(http, "v1/secrets", fail: true);

        Assert.Equal(HttpStatusCode.ServiceUnavailable, own.StatusCode);
        Assert.Equal("handled by the application", await own.Content.ReadAsStringAsync());
        var problem = await Problems.AssertAsync(failed, HttpStatusCode.InternalServerError);
        Assert.Equal("urn:trousseau:problem:internal", problem.GetProperty("type").GetString());
    }

    private async Task<WebApplication> StartAsync(bool ownHandler)
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders().AddProvider(new FakeLoggerProvider(_log));
        builder.WebHost.UseUrls("http://127.0.0.1:0");
        builder.Services.AddTrousseau(_ => { })
            .UseLocalKeyRing(ring => ring.KeyFile = _temp.Combine("ring.json"))
            .UseInMemoryStore()
            .AddHttpApi(api => api.Auth.TokenFile = _temp.Combine("api.token"));
        if (ownHandler)
        {
            builder.Services.AddProblemDetails();
            builder.Services.AddExceptionHandler<ApplicationHandler>();
        }

        var app = builder.Build();
        if (ownHandler)
        {
            app.UseExceptionHandler();
        }

        app.MapTrousseauApi().AddEndpointFilter((context, next) =>
            context.HttpContext.Request.Headers.ContainsKey(FailHeader) ? throw new InvalidOperationException(Failure) : next(context));
        app.MapGet("/app/boom", IResult () => throw new InvalidOperationException("the application's own route failed"));
        await app.StartAsync();
        return app;
    }

    private Task<HttpClient> ClientAsync(WebApplication app)
    {
        var address = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.Single();
        return BearerClient.FromTokenFileAsync(new Uri(address + "/"), _temp.Combine("api.token"));
    }

    private static async Task<HttpResponseMessage> SendAsync(HttpClient http, string path, bool fail)
    {
        using var request = new HttpRequestMessage(HttpMethod.Get, new Uri(path, UriKind.Relative));
        if (fail)
        {
            request.Headers.Add(FailHeader, "1");
        }

        return await http.SendAsync(request);
    }

    /// <summary>An application's own handler: answers every failure it is given with 503 and a line of text.</summary>
    private sealed class ApplicationHandler : IExceptionHandler
    {
        public async ValueTask<bool> TryHandleAsync(HttpContext httpContext, Exception exception, CancellationToken cancellationToken)
        {
            httpContext.Response.StatusCode = StatusCodes.Status503ServiceUnavailable;
            await httpContext.Response.WriteAsync("handled by the application", cancellationToken);
            return true;
        }
    }
}
