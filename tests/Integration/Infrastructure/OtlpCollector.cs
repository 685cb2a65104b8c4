using System.Collections.Concurrent;
using System.Text;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace Trousseau.Tests.Integration.Infrastructure;

/// <summary>An OTLP/HTTP collector stand-in on loopback that keeps every request's path and body.</summary>
internal sealed class OtlpCollector : IAsyncDisposable
{
    private readonly WebApplication _app;

    private OtlpCollector(WebApplication app, string endpoint, ConcurrentQueue<(string Path, byte[] Body)> received) =>
        (_app, Endpoint, Received) = (app, endpoint, received);

    /// <summary>The collector's base URL, without a path.</summary>
    public string Endpoint { get; }

    public ConcurrentQueue<(string Path, byte[] Body)> Received { get; }

    /// <summary>The spans of every trace export received.</summary>
    public IReadOnlyList<OtlpSpan> Spans => OtlpSpan.Read(Received.Where(r => r.Path == "/v1/traces").Select(r => r.Body));

    /// <summary>Every trace export received, as text, to look for a string in any of them.</summary>
    public string Traces => string.Concat(Received.Where(r => r.Path == "/v1/traces").Select(r => Encoding.Latin1.GetString(r.Body)));

    public static async Task<OtlpCollector> StartAsync()
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        builder.WebHost.UseUrls("http://127.0.0.1:0");
        var app = builder.Build();
        var received = new ConcurrentQueue<(string Path, byte[] Body)>();
        app.Run(async context =>
        {
            using var body = new MemoryStream();
            await context.Request.Body.CopyToAsync(body);
            received.Enqueue((context.Request.Path.Value ?? "", body.ToArray()));
        });
        await app.StartAsync();
        return new OtlpCollector(app, app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.Single(), received);
    }

    public ValueTask DisposeAsync() => _app.DisposeAsync();
}
