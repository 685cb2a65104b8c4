using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Trousseau;
using Trousseau.Hosting;
using Trousseau.Hosting.Internal;
using Trousseau.Hosting.Worker;

namespace Microsoft.Extensions.DependencyInjection;

/// <summary>Adds Trousseau's background worker to a generic host.</summary>
public static class TrousseauWorkerBuilderExtensions
{
    /// <summary>
    /// Runs the worker while the host runs: it keeps provider health and the key id fresh and rewraps stored
    /// secrets after a rotation. Options bind from <c>Trousseau:Worker</c>.
    /// </summary>
    /// <param name="builder">The Trousseau builder.</param>
    /// <param name="configure">Sets options in code, after configuration.</param>
    /// <returns>The builder.</returns>
    public static ITrousseauBuilder AddWorker(this ITrousseauBuilder builder, Action<TrousseauWorkerOptions>? configure = null)
    {
        ArgumentNullException.ThrowIfNull(builder);
        builder.AddBackendOptions<TrousseauWorkerOptions>("Worker", static (options, section) => section.Bind(options), configure);
        builder.AddAnnotationsValidator<TrousseauWorkerOptions, TrousseauWorkerOptionsAnnotationsValidator>();
        builder.Services.TryAddSingleton<DependencyStateLog>();
        builder.Services.TryAddEnumerable(ServiceDescriptor.Singleton<IHostedService, TrousseauWorker>());
        return builder;
    }

    /// <summary>The same as <c>AddTrousseau(...).AddWorker()</c>, for a service collection that already has Trousseau.</summary>
    /// <param name="services">The service collection.</param>
    /// <param name="configure">Sets options in code.</param>
    /// <returns>The service collection.</returns>
    public static IServiceCollection AddTrousseauWorker(this IServiceCollection services, Action<TrousseauWorkerOptions>? configure = null)
    {
        ArgumentNullException.ThrowIfNull(services);
        var options = services.AddOptions<TrousseauWorkerOptions>().ValidateOnStartOnce();
        new WorkerOnlyBuilder(services).AddAnnotationsValidator<TrousseauWorkerOptions, TrousseauWorkerOptionsAnnotationsValidator>();
        if (configure is not null)
        {
            options.Configure(configure);
        }

        services.TryAddSingleton<DependencyStateLog>();
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IHostedService, TrousseauWorker>(static sp =>
        {
            var trousseau = InProcessRegistration.Require(sp, "AddTrousseauWorker()");
            return new TrousseauWorker(
                trousseau.GetRequiredService<IKeyProvider>(),
                trousseau.GetRequiredService<IKeyAdministration>(),
                trousseau.GetRequiredService<IOptions<TrousseauWorkerOptions>>(),
                trousseau.GetRequiredService<DependencyStateLog>(),
                trousseau.GetService<TimeProvider>() ?? TimeProvider.System,
                trousseau.GetRequiredService<ILogger<TrousseauWorker>>());
        }));
        return services;
    }

    /// <summary>
    /// The worker's options registered without <c>AddTrousseau</c>'s builder, so that their validator is the one
    /// <c>AddWorker()</c> registers, once, whichever comes first.
    /// </summary>
    private sealed class WorkerOnlyBuilder(IServiceCollection services) : ITrousseauBuilder
    {
        public IServiceCollection Services { get; } = services;

        public IConfigurationSection? Configuration => null;
    }
}
