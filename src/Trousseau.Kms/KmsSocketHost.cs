using System.Net.Sockets;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Connections.Features;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Trousseau.Kms.Internal;

namespace Trousseau.Kms;

/// <summary>
/// Serves the KMS plugin on its Unix socket with grpc-dotnet on a Kestrel of its own (HTTP/2 only), apart from any
/// HTTP API the application serves: nothing but the KMS services and the standard gRPC health service is reachable
/// through the socket, under the limits of <see cref="KmsSocketLimits"/>. With an audit trail registered, each
/// connection's peer process is read from the socket as it is accepted, for the records of its calls.
/// </summary>
internal sealed class KmsSocketHost(
    KmsPlugin plugin,
    KmsTelemetry telemetry,
    IOptions<KmsOptions> options,
    ILoggerFactory loggerFactory,
    TimeProvider time,
    IAuditTrail? audit = null) : IHostedService, IAsyncDisposable
{
    /// <summary>
    /// The largest request: room for the largest Decrypt kube-apiserver sends (a 1 KiB ciphertext and key_id, and 32 KiB
    /// of annotation keys and values, which protobuf's framing of many short keys takes to about 84 KiB), so that every
    /// request it may send is answered by the plugin's own rules, not refused RESOURCE_EXHAUSTED before they are applied.
    /// </summary>
    private const int MaxRequestBytes = 128 * 1024;

    /// <summary>The largest answer: a Status key id, an Encrypt ciphertext and key id or a Decrypt plaintext, each 1 KiB at most.</summary>
    private const int MaxResponseBytes = 64 * 1024;

    private readonly ILogger _logger = loggerFactory.CreateLogger<KmsSocketHost>();
    private WebApplication? _app;
    private Socket? _listener;
    private string? _socket;
    private FileIdentity? _socketFile;

    public async Task StartAsync(CancellationToken cancellationToken)
    {
        var settings = options.Value;
        if (!settings.Enabled)
        {
            return;
        }

        var socket = Path.GetFullPath(settings.Socket
            ?? throw new InvalidOperationException("Trousseau:Kms:Socket is required when the KMS plugin is enabled."));

        // Kestrel is handed a socket that already listens, owner-only, at its path: binding it itself would create the
        // socket file with the umask's mode, open to others until a chmod after start.
        var listener = OwnerOnlyUnixSocket.Listen(socket);
        var callAudit = new KmsCallAudit(audit);
        WebApplication? app = null;
        try
        {
            // An empty builder: the socket reads no settings of its own. A slim or default builder would read
            // appsettings.json and the environment from the working directory, whose Kestrel endpoints would serve
            // Encrypt and Decrypt beside the socket, and would watch that directory's whole tree for changes.
            var builder = WebApplication.CreateEmptyBuilder(
                new WebApplicationOptions { ContentRootPath = AppContext.BaseDirectory });
            builder.WebHost.UseKestrelCore();
            builder.Services.AddRoutingCore();

            // ASP.NET Core's hosting diagnostics would give every call an Activity, a log scope and the
            // http.server.* instruments, doubling what KmsCallInterceptor records; with its logger off and the
            // endpoints' HTTP metrics disabled, a call costs none of that unless a tracer listens to ASP.NET Core.
            builder.Logging.ClearProviders();
            builder.Logging.AddProvider(new ForwardingLoggerProvider(loggerFactory));
            builder.Logging.AddFilter("Microsoft.AspNetCore", LogLevel.Warning);
            builder.Logging.AddFilter("Microsoft.AspNetCore.Hosting.Diagnostics", LogLevel.None);

            // The application logs its own start and stop; the socket's host would repeat them, naming the temporary
            // path the socket was bound at before it was moved to its own (KmsSocketHost logs that one).
            builder.Logging.AddFilter("Microsoft.Hosting.Lifetime", LogLevel.None);
            builder.Services.AddSingleton(time);
            builder.Services.AddSingleton(plugin);
            builder.Services.AddSingleton(telemetry);
            builder.Services.AddSingleton<KmsV2Service>();
            builder.Services.AddSingleton<KmsV1Service>();
            builder.Services.AddSingleton(callAudit);
            builder.Services.AddSingleton<KmsCallInterceptor>();
            builder.Services
                .AddGrpc(grpc =>
                {
                    grpc.MaxReceiveMessageSize = MaxRequestBytes;
                    grpc.MaxSendMessageSize = MaxResponseBytes;
                })
                .AddServiceOptions<KmsV2Service>(service => service.Interceptors.Add<KmsCallInterceptor>())
                .AddServiceOptions<KmsV1Service>(service => service.Interceptors.Add<KmsCallInterceptor>());
            builder.Services.AddGrpcHealthChecks().AddCheck<KmsHealthCheck>("kms");
            builder.WebHost.ConfigureKestrel(kestrel =>
            {
                kestrel.AddServerHeader = false;
                KmsSocketLimits.Apply(kestrel.Limits);
                kestrel.ListenHandle((ulong)listener.Handle, listen =>
                {
                    listen.Protocols = HttpProtocols.Http2;
                    if (callAudit.IsEnabled)
                    {
                        listen.Use(next => connection =>
                        {
                            if (KmsCaller.Of(connection.Features.Get<IConnectionSocketFeature>()?.Socket) is { } caller)
                            {
                                connection.Features.Set(caller);
                            }

                            return next(connection);
                        });
                    }
                });
            });
            app = builder.Build();
            app.MapGrpcService<KmsV2Service>().DisableHttpMetrics();
            app.MapGrpcService<KmsV1Service>().DisableHttpMetrics();
            app.MapGrpcHealthChecksService().DisableHttpMetrics();

            await app.StartAsync(cancellationToken).ConfigureAwait(false);
            (_app, _listener, _socket, _socketFile) = (app, listener, socket, IdentityOf(socket));
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

        Log.Listening(_logger, socket);
        if (options.Value.AcceptLegacyCiphertext)
        {
            Log.AcceptingLegacyCiphertext(_logger);
        }
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

    /// <summary>
    /// Closes the listening socket (Kestrel only borrowed it) and removes its file, once: the file this host bound, not
    /// one another plugin put at the path after this one's was removed, which that plugin serves. A file that cannot be
    /// removed (its directory made read-only since the start) is left with a warning: it refuses connections, and the
    /// next start replaces it.
    /// </summary>
    private void Release()
    {
        _listener?.Dispose();
        if (_socket is { } socket && File.Exists(socket) && (_socketFile is null || IdentityOf(socket) == _socketFile))
        {
            try
            {
                File.Delete(socket);
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                Log.SocketLeftBehind(_logger, socket, e.Message);
            }
        }

        (_listener, _socket, _socketFile) = (null, null, null);
    }

    /// <summary>Which file is at <paramref name="path"/>, or <see langword="null"/> where statx cannot tell.</summary>
    private static FileIdentity? IdentityOf(string path) => LinuxFileStatus.OfPath(Libc.PathOf(path))?.File;
}
