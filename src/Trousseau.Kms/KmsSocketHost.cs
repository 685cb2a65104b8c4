using System.Net.Sockets;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Trousseau.Kms.Grpc;
using Trousseau.Kms.Internal;

namespace Trousseau.Kms;

/// <summary>
/// Serves the KMS plugin on its Unix socket with a Kestrel of its own (HTTP/2 only), apart from any HTTP API the
/// application serves: nothing but the KMS methods is reachable through the socket.
/// </summary>
internal sealed partial class KmsSocketHost(KmsPlugin plugin, IOptions<KmsOptions> options, ILoggerFactory loggerFactory) : IHostedService, IAsyncDisposable
{
    private const int MaxMessageBytes = 64 * 1024;

    private readonly ILogger _logger = loggerFactory.CreateLogger<KmsSocketHost>();
    private WebApplication? _app;
    private Socket? _listener;
    private string? _socket;

    public async Task StartAsync(CancellationToken cancellationToken)
    {
        var settings = options.Value;
        if (!settings.Enabled)
        {
            return;
        }

        var socket = Path.GetFullPath(settings.Socket ?? throw new InvalidOperationException("Trousseau:Kms:Socket is required when the KMS plugin is enabled."));

        // Kestrel is handed a socket that already listens, owner-only, at its path: binding it itself would create the
        // socket file with the umask's mode, open to others until a chmod after start.
        var listener = OwnerOnlyUnixSocket.Listen(socket);
        WebApplication? app = null;
        try
        {
            var builder = WebApplication.CreateSlimBuilder();
            builder.Logging.ClearProviders();
            builder.Services.AddSingleton(loggerFactory);
            builder.WebHost.ConfigureKestrel(kestrel =>
            {
                kestrel.AddServerHeader = false;
                kestrel.Limits.MaxRequestBodySize = MaxMessageBytes + 5;
                kestrel.ListenHandle((ulong)listener.Handle, listen => listen.Protocols = HttpProtocols.Http2);
            });
            app = builder.Build();
            var endpoint = new UnaryGrpcEndpoint(plugin.Methods(), MaxMessageBytes, _logger);
            app.Run(endpoint.HandleAsync);

            await app.StartAsync(cancellationToken).ConfigureAwait(false);
            (_app, _listener, _socket) = (app, listener, socket);
        }
        catch
        {
            if (app is not null)
            {
                await app.DisposeAsync().ConfigureAwait(false);
            }

            listener.Dispose();
            File.Delete(socket);
            throw;
        }

        LogListening(_logger, socket);
    }

    public async Task StopAsync(CancellationToken cancellationToken)
    {
        if (_app is { } app)
        {
            await app.StopAsync(cancellationToken).ConfigureAwait(false);
            Release();
        }
    }

    public async ValueTask DisposeAsync()
    {
        if (_app is { } app)
        {
            _app = null;
            await app.DisposeAsync().ConfigureAwait(false);
            Release();
        }
    }

    /// <summary>Closes the listening socket (Kestrel only borrowed it) and removes its file, once.</summary>
    private void Release()
    {
        _listener?.Dispose();
        if (_socket is { } socket && File.Exists(socket))
        {
            File.Delete(socket);
        }

        (_listener, _socket) = (null, null);
    }

    [LoggerMessage(EventId = 4002, Level = LogLevel.Information, Message = "KMS plugin (v2, v1beta1) listening on {Socket}.")]
    private static partial void LogListening(ILogger logger, string socket);
}
