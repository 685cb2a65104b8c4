using System.Diagnostics;
using System.Diagnostics.CodeAnalysis;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;

/// <summary>
/// A .NET startup hook: a process started with <c>DOTNET_STARTUP_HOOKS</c> naming this assembly gets, in the first
/// host it builds (trousseaud's main host, not the KMS socket's), one more background service that fails as soon as the host has started (<see cref="FailureMessage"/>),
/// to see what the program does when one of its background services faults. It reaches the host through the
/// <c>HostBuilding</c> diagnostic event, so the program itself has no hook for tests.
/// </summary>
[SuppressMessage("Design", "CA1050:Declare types in namespaces", Justification = "The runtime looks for a type named StartupHook in no namespace.")]
internal static class StartupHook
{
    public const string FailureMessage = "A background service failed on purpose (startup hook of the tests).";

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
                builder.ConfigureServices(services => services.AddHostedService<FailingService>());
            }
        }

        public void OnCompleted()
        {
        }

        public void OnError(Exception error)
        {
        }
    }

    private sealed class FailingService(IHostApplicationLifetime lifetime) : BackgroundService
    {
        protected override async Task ExecuteAsync(CancellationToken stoppingToken)
        {
            var started = new TaskCompletionSource();
            using (lifetime.ApplicationStarted.Register(() => started.TrySetResult()))
            {
                await started.Task.WaitAsync(stoppingToken);
            }

            throw new InvalidOperationException(FailureMessage);
        }
    }
}
