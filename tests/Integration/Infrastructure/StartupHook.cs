using System.Diagnostics;
using System.Diagnostics.CodeAnalysis;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;

/// <summary>
/// A .NET startup hook: a process started with <c>DOTNET_STARTUP_HOOKS</c> naming this assembly (see
/// <see cref="Enable"/>) gets, in the first host it builds (trousseaud's main host, not the KMS socket's), one of two
/// faults, as <see cref="ModeVariable"/> says (or, with <see cref="StartNeverEndsMode"/>, a start that never ends): by default one more background service that fails as soon as the host has
/// started (<see cref="FailureMessage"/>; with <see cref="FailsBeforeStartReturnsMode"/>, before the host's start has
/// returned to the program), to see what the program does when one of its background services faults;
/// with <see cref="FailingAnswerMode"/>, an answer that cannot be written for each request carrying
/// <see cref="FailingAnswerHeader"/>, to see what the program does with a request that fails unexpectedly. It reaches
/// the host through the <c>HostBuilding</c> diagnostic event, so the program itself has no hook for tests.
/// </summary>
[SuppressMessage("Design", "CA1050:Declare types in namespaces", Justification = "The runtime looks for a type named StartupHook in no namespace.")]
internal static class StartupHook
{
    public const string FailureMessage = "A background service failed on purpose (startup hook of the tests).";

    /// <summary>The environment variable that chooses the fault; unset, the failing background service.</summary>
    public const string ModeVariable = "TROUSSEAU_TEST_STARTUP_HOOK";

    /// <summary>The value of <see cref="ModeVariable"/> that makes the answers of some requests fail.</summary>
    public const string FailingAnswerMode = "failing-answer";

    /// <summary>
    /// The value of <see cref="ModeVariable"/> that adds a hosted service, started after the HTTP server, whose start
    /// ends only when the host is asked to stop: the process serves <c>/healthz</c> but never finishes starting.
    /// </summary>
    public const string StartNeverEndsMode = "start-never-ends";

    /// <summary>
    /// The value of <see cref="ModeVariable"/> that makes the failing background service fail before the host's start
    /// has returned to the program: the host's start holds until the failure has made the host stop, as a loaded
    /// machine can order it, so that what the program does after the start meets a host already stopping.
    /// </summary>
    public const string FailsBeforeStartReturnsMode = "fails-before-start-returns";

    /// <summary>In <see cref="FailingAnswerMode"/>, the request header whose requests' answers fail as they are written.</summary>
    public const string FailingAnswerHeader = "X-Test-Failing-Answer";

    /// <summary>
    /// Makes <paramref name="info"/>, which starts trousseaud's assembly, run this hook. Only the .NET runtime runs hooks,
    /// and trousseaud, built for Native AOT, turns them off in its runtimeconfig.json: the process is started with a
    /// copy of that file, written in <paramref name="directory"/>, that turns them on.
    /// </summary>
    public static void Enable(ProcessStartInfo info, string directory)
    {
        info.Environment["DOTNET_STARTUP_HOOKS"] = typeof(StartupHook).Assembly.Location;
        var program = info.ArgumentList[0];
        var runtimeConfig = Path.Combine(directory, Path.GetFileNameWithoutExtension(program) + ".runtimeconfig.json");
        File.WriteAllText(runtimeConfig, File.ReadAllText(Path.ChangeExtension(program, ".runtimeconfig.json"))
            .Replace("\"System.StartupHookProvider.IsSupported\": false", "\"System.StartupHookProvider.IsSupported\": true", StringComparison.Ordinal));
        foreach (var argument in new[] { "exec", "--runtimeconfig", runtimeConfig }.Reverse())
        {
            info.ArgumentList.Insert(0, argument);
        }
    }

    public static void Initialize() => DiagnosticListener.AllListeners.Subscribe(new Listeners());

    private sealed class Listeners : IObserver<DiagnosticListener>
    {
        public void OnNext(DiagnosticListener value)
        {
            if (value.Name == "Microsoft.Extensions.Hosting")
            {
                value.Subscribe(new HostEvents());
            }
        }

        public void OnCompleted()
        {
        }

        public void OnError(Exception error)
        {
        }
    }

    private sealed class HostEvents : IObserver<KeyValuePair<string, object?>>
    {
        private static int _added;

        public void OnNext(KeyValuePair<string, object?> value)
        {
            if (value is { Key: "HostBuilding", Value: IHostBuilder builder } && Interlocked.Exchange(ref _added, 1) == 0)
            {
                builder.ConfigureServices(services =>
                {
                    if (Environment.GetEnvironmentVariable(ModeVariable) == FailingAnswerMode)
                    {
                        services.AddTransient<IStartupFilter, FailingAnswers>();
                    }
                    else if (Environment.GetEnvironmentVariable(ModeVariable) == StartNeverEndsMode)
                    {
                        services.AddHostedService<StartUntilStopped>();
                    }
                    else
                    {
                        services.AddHostedService(provider => new FailingService(
                            provider.GetRequiredService<IHostApplicationLifetime>(),
                            Environment.GetEnvironmentVariable(ModeVariable) == FailsBeforeStartReturnsMode));
                    }
                });
            }
        }

        public void OnCompleted()
        {
        }

        public void OnError(Exception error)
        {
        }
    }

    private sealed class FailingService : BackgroundService
    {
        private readonly TaskCompletionSource _started = new(TaskCreationOptions.RunContinuationsAsynchronously);

        public FailingService(IHostApplicationLifetime lifetime, bool beforeStartReturns)
        {
            // Registered here, before the host starts, so that the host calls it inside its start (ExecuteAsync runs on
            // a thread of its own, and could register only after the start).
            lifetime.ApplicationStarted.Register(() =>
            {
                _started.TrySetResult();
                if (beforeStartReturns)
                {
                    // Holding the host's start until the failure below has made the host stop; a minute bounds it
                    // should the host never stop.
                    lifetime.ApplicationStopping.WaitHandle.WaitOne(TimeSpan.FromMinutes(1));
                }
            });
        }

        protected override async Task ExecuteAsync(CancellationToken stoppingToken)
        {
            await _started.Task.WaitAsync(stoppingToken);
            throw new InvalidOperationException(FailureMessage);
        }
    }

    private sealed class StartUntilStopped : IHostedService
    {
        public Task StartAsync(CancellationToken cancellationToken) => Task.Delay(Timeout.Infinite, cancellationToken);

        public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;
    }

    /// <summary>
    /// For a request carrying <see cref="FailingAnswerHeader"/>, the first write of its answer fails, as a write to a
    /// broken disk-backed buffer or a serializer fault would: after routing chose the endpoint, before anything is sent.
    /// </summary>
    private sealed class FailingAnswers : IStartupFilter
    {
        public Action<IApplicationBuilder> Configure(Action<IApplicationBuilder> next) => app =>
        {
            app.Use((context, nextMiddleware) =>
            {
                if (context.Request.Headers.ContainsKey(FailingAnswerHeader))
                {
                    context.Response.Body = new FailingOnceStream(context.Response.Body);
                }

                return nextMiddleware(context);
            });
            next(app);
        };
    }

    /// <summary>A response body whose first write fails; later writes (the exception handler's answer) go through.</summary>
    private sealed class FailingOnceStream(Stream inner) : Stream
    {
        private int _failed;

        public override bool CanRead => false;

        public override bool CanSeek => false;

        public override bool CanWrite => true;

        public override long Length => throw new NotSupportedException();

        public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }

        public override void Flush() => inner.Flush();

        public override Task FlushAsync(CancellationToken cancellationToken) => inner.FlushAsync(cancellationToken);

        public override int Read(byte[] buffer, int offset, int count) => throw new NotSupportedException();

        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();

        public override void SetLength(long value) => throw new NotSupportedException();

        public override void Write(byte[] buffer, int offset, int count)
        {
            FailFirst();
            inner.Write(buffer, offset, count);
        }

        public override async ValueTask WriteAsync(ReadOnlyMemory<byte> buffer, CancellationToken cancellationToken = default)
        {
            FailFirst();
            await inner.WriteAsync(buffer, cancellationToken);
        }

        public override Task WriteAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
            WriteAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();

        private void FailFirst()
        {
            if (Interlocked.Exchange(ref _failed, 1) == 0)
            {
                throw new IOException("The answer could not be written (startup hook of the tests).");
            }
        }
    }
}
