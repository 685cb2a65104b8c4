using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using Trousseau;
using Trousseau.Envelope;
using Trousseau.Internal;

namespace Microsoft.Extensions.DependencyInjection;

/// <summary>Registers Trousseau in a service collection.</summary>
public static class TrousseauServiceCollectionExtensions
{
    /// <summary>The configuration section Trousseau reads by convention.</summary>
    public const string DefaultSectionName = "Trousseau";

    /// <summary>Registers <see cref="ITrousseau"/> with default options; choose backends on the returned builder.</summary>
    /// <param name="services">The service collection.</param>
    /// <returns>A builder for choosing the key provider and the store.</returns>
    public static ITrousseauBuilder AddTrousseau(this IServiceCollection services) => AddCore(services, configuration: null);

    /// <summary>Registers <see cref="ITrousseau"/>, configuring its options in code.</summary>
    /// <param name="services">The service collection.</param>
    /// <param name="configure">Sets the options.</param>
    /// <returns>A builder for choosing the key provider and the store.</returns>
    public static ITrousseauBuilder AddTrousseau(this IServiceCollection services, Action<TrousseauOptions> configure)
    {
        ArgumentNullException.ThrowIfNull(configure);
        var builder = AddCore(services, configuration: null);
        services.Configure(configure);
        return builder;
    }

    /// <summary>
    /// Registers <see cref="ITrousseau"/>, binding its options (and those of the backends chosen on the builder)
    /// from a configuration section, usually <c>Trousseau</c>.
    /// </summary>
    /// <param name="services">The service collection.</param>
    /// <param name="configuration">The section to bind.</param>
    /// <exception cref="InvalidOperationException">An earlier call gave another section.</exception>
    /// <returns>A builder for choosing the key provider and the store.</returns>
    public static ITrousseauBuilder AddTrousseau(this IServiceCollection services, IConfigurationSection configuration)
    {
        ArgumentNullException.ThrowIfNull(configuration);
        var builder = AddCore(services, configuration);
        if (SectionBinding<TrousseauOptions>.MarkFirst(services))
        {
            services.Configure<TrousseauOptions>(configuration);
        }

        return builder;
    }

    private static TrousseauBuilder AddCore(IServiceCollection services, IConfigurationSection? configuration)
    {
        ArgumentNullException.ThrowIfNull(services);
        var earlier = TrousseauSectionPath.RegisteredIn(services);

        // A call without a section builds on the section another call gives, before or after it, so that the backends
        // it chooses bind from it and name its keys.
        var builder = new TrousseauBuilder(services, configuration);
        if (configuration is not null && earlier is { IsBound: true } && !string.Equals(earlier.Value, configuration.Path, StringComparison.OrdinalIgnoreCase))
        {
            throw new InvalidOperationException(
                $"AddTrousseau was given the configuration section '{configuration.Path}' after an earlier call gave '{earlier.Value}': Trousseau's options bind from one section. Give every AddTrousseau call the same section, or set the other values in code (AddTrousseau(options => ...)).");
        }

        services.AddOptions<TrousseauOptions>().ValidateOnStartOnce();
        if (earlier is null || (configuration is not null && !earlier.IsBound))
        {
            services.Replace(ServiceDescriptor.Singleton(new TrousseauSectionPath(builder.ConfigurationPath(), configuration)));
        }

        builder.AddAnnotationsValidator<TrousseauOptions, TrousseauOptionsAnnotationsValidator>();
        services.AddOptions<BackendChoice>().ValidateOnStartOnce();
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IValidateOptions<BackendChoice>, BackendChoiceCheck>());

        services.TryAddSingleton(TimeProvider.System);
        if (earlier is null)
        {
            // Once: each AddMetrics call adds a start-up validation entry of its own.
            services.AddMetrics();
        }

        services.TryAddSingleton<TrousseauInstrumentation>();
        services.TryAddSingleton<IKeyProvider>(sp => Select<IKeyProvider>(sp, Chosen(sp).KeyProvider));
        services.TryAddSingleton<ISecretStore>(sp => Select<ISecretStore>(sp, Chosen(sp).Store));
        services.TryAddSingleton<EnvelopeEncryptor>();
        services.TryAddSingleton(sp => new InProcessTrousseau(
            sp.GetRequiredService<EnvelopeEncryptor>(), new TracedSecretStore(sp.GetRequiredService<ISecretStore>(), sp.GetRequiredService<TrousseauInstrumentation>()),
            sp.GetRequiredService<TimeProvider>(), sp.GetService<ILogger<InProcessTrousseau>>()));
        services.TryAddSingleton<ITrousseau, InstrumentedTrousseau>();
        services.TryAddSingleton(sp => new DataProtectionKeyEncryptor(sp.GetRequiredService<EnvelopeEncryptor>(), sp.GetRequiredService<IKeyProvider>()));
        services.TryAddSingleton<IKeyAdministration, InProcessKeyAdministration>();
        return builder;
    }

    /// <summary>
    /// The options that choose the backends, once their choice passed <see cref="BackendChoiceCheck"/>: a host checked
    /// it at start already, a service provider built by hand checks it here.
    /// </summary>
    private static TrousseauOptions Chosen(IServiceProvider services)
    {
        var options = services.GetRequiredService<IOptions<TrousseauOptions>>().Value;
        _ = services.GetRequiredService<IOptions<BackendChoice>>().Value;
        return options;
    }

    private static TBackend Select<TBackend>(IServiceProvider services, string? name)
        where TBackend : class
    {
        // The choice was checked (Chosen): a missing, ambiguous or unavailable one was refused with a message naming the key.
        var registrations = services.GetServices<BackendRegistration<TBackend>>().ToList();
        var chosen = name is null ? registrations.Single() : registrations.Last(r => string.Equals(r.Name, name, StringComparison.OrdinalIgnoreCase));
        return chosen.Factory(services);
    }
}
