using System.Net.Sockets;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Trousseau.Kms.Grpc;

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
    private string? _socket;

    public async Task StartAsync(CancellationToken cancellationToken)
    {
        var settings = options.Value;
        if (!settings.Enabled)
        {
            return;
        }

        var socket = Path.GetFullPath(settings.Socket ?? throw new InvalidOperationException("Trousseau:Kms:Socket is required when the KMS plugin is enabled."));
        PrepareSocketPath(socket);

        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        builder.Services.AddSingleton(loggerFactory);
        builder.WebHost.ConfigureKestrel(kestrel =>
        {
            kestrel.AddServerHeader = false;
            kestrel.Limits.MaxRequestBodySize = MaxMessageBytes + 5;
            kestrel.ListenUnixSocket(socket, listen => listen.Protocols = HttpProtocols.Http2);
        });
        var app = builder.Build();
        var endpoint = new UnaryGrpcEndpoint(plugin.Methods(), MaxMessageBytes, _logger);
        app.Run(endpoint.HandleAsync);

        await app.StartAsync(cancellationToken).ConfigureAwait(false);
        if (!OperatingSystem.IsWindows())
        {
            File.SetUnixFileMode(socket, UnixFileMode.UserRead | UnixFileMode.UserWrite);
        }

        (_app, _socket) = (app, socket);
        LogListening(_logger, socket);
    }

    public async Task StopAsync(CancellationToken cancellationToken)
    {
        if (_app is { } app)
        {
            await app.StopAsync(cancellationToken).ConfigureAwait(false);
            DeleteSocket();
        }
    }

    public async ValueTask DisposeAsync()
    {
        if (_app is { } app)
        {
            _app = null;
            await app.DisposeAsync().ConfigureAwait(false);
            DeleteSocket();
        }
    }

    /// <summary>Creates the socket's directory (0700) and removes a socket file left by a process that is gone.</summary>
    private static void PrepareSocketPath(string socket)
    {
        var directory = Path.GetDirectoryName(socket)!;
        if (!Directory.Exists(directory))
        {
            if (OperatingSystem.IsWindows())
            {
                Directory.CreateDirectory(directory);
            }
            else
            {
                Directory.CreateDirectory(directory, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
            }
        }

        if (!File.Exists(socket))
        {
            return;
        }

        // .NET does not tell a socket from an empty file; a file with content is surely not a socket.
        if (new FileInfo(socket).Length != 0)
        {
            throw new IOException($"The KMS socket path {socket} is a file with content, not a socket; refusing to replace it.");
        }

        using var probe = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        try
        {
            probe.Connect(new UnixDomainSocketEndPoint(socket));
        }
        catch (SocketException)
        {
            File.Delete(socket);
            return;
        }

        throw new IOException($"The KMS socket {socket} is in use by another process.");
    }

    private void DeleteSocket()
    {
        if (_socket is { } socket && File.Exists(socket))
        {
            File.Delete(socket);
        }
    }

    [LoggerMessage(EventId = 4002, Level = LogLevel.Information, Message = "KMS plugin (v2, v1beta1) listening on {Socket}.")]
    private static partial void LogListening(ILogger logger, string socket);
}
