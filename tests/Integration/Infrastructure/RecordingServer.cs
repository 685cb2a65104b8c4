using System.Collections.Concurrent;
using System.Net;
using System.Net.NetworkInformation;
using System.Net.Sockets;
using System.Security.Cryptography.X509Certificates;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace Trousseau.Tests.Integration.Infrastructure;

/// <summary>
/// A stand-in for a server clectl is pointed at, on Kestrel on a free loopback port (or another address of this
/// machine, see <see cref="StartElsewhereAsync"/>): it records every request it gets
/// (method, path, headers, body) and answers each with what the test gives it.
/// </summary>
internal sealed class RecordingServer : IAsyncDisposable
{
    private readonly WebApplication _app;
    private readonly ConcurrentQueue<RecordedRequest> _requests = new();

    private RecordingServer(WebApplication app) => _app = app;

    /// <summary>The server's URL, ending in '/'.</summary>
    public Uri BaseAddress { get; private set; } = null!;

    /// <summary>The requests received so far, in order.</summary>
    public IReadOnlyList<RecordedRequest> Requests => [.. _requests];

    /// <summary>
    /// Starts a server that answers every request with <paramref name="answer"/>, over HTTPS with
    /// <paramref name="certificate"/> when one is given.
    /// </summary>
    public static Task<RecordingServer> StartAsync(Func<RecordedRequest, IResult> answer, X509Certificate2? certificate = null) =>
        StartAsync(answer, certificate, IPAddress.Loopback, host: null);

    /// <summary>
    /// Starts a plain-HTTP server that answers every request with <paramref name="answer"/> at an address that is not
    /// loopback to a client: a non-loopback IPv4 address of this machine when it has one, else this machine's host name
    /// (listening on the address it resolves to).
    /// </summary>
    public static Task<RecordingServer> StartElsewhereAsync(Func<RecordedRequest, IResult> answer)
    {
        var address = NetworkInterface.GetAllNetworkInterfaces()
            .Where(i => i.OperationalStatus == OperationalStatus.Up && i.NetworkInterfaceType != NetworkInterfaceType.Loopback)
            .SelectMany(i => i.GetIPProperties().UnicastAddresses)
            .Select(a => a.Address)
            .FirstOrDefault(a => a.AddressFamily == AddressFamily.InterNetwork && !IPAddress.IsLoopback(a));
        if (address is not null)
        {
            return StartAsync(answer, certificate: null, address, host: null);
        }

        var host = Dns.GetHostName();
        return StartAsync(answer, certificate: null, Dns.GetHostAddresses(host).First(a => a.AddressFamily == AddressFamily.InterNetwork), host);
    }

    private static async Task<RecordingServer> StartAsync(Func<RecordedRequest, IResult> answer, X509Certificate2? certificate, IPAddress address, string? host)
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        builder.WebHost.UseKestrelHttpsConfiguration();
        builder.WebHost.ConfigureKestrel(kestrel => kestrel.Listen(address, 0, listen =>
        {
            if (certificate is not null)
            {
                listen.UseHttps(certificate);
            }
        }));
        var server = new RecordingServer(builder.Build());
        server._app.Run(async context =>
        {
            using var body = new StreamReader(context.Request.Body);
            var request = new RecordedRequest(
                context.Request.Method,
                context.Request.Path.Value ?? "",
                context.Request.Headers.ToDictionary(h => h.Key, h => h.Value.ToString(), StringComparer.OrdinalIgnoreCase),
                await body.ReadToEndAsync());
            server._requests.Enqueue(request);
            await answer(request).ExecuteAsync(context);
        });
        await server._app.StartAsync();
        var listening = new Uri(server._app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.Single());
        server.BaseAddress = new UriBuilder(listening) { Host = host ?? listening.Host, Path = "/" }.Uri;
        return server;
    }

    public async ValueTask DisposeAsync() => await _app.DisposeAsync();
}

/// <summary>One request a <see cref="RecordingServer"/> received.</summary>
internal sealed record RecordedRequest(string Method, string Path, IReadOnlyDictionary<string, string> Headers, string Body)
{
    public string? Header(string name) => Headers.TryGetValue(name, out var value) ? value : null;
}
