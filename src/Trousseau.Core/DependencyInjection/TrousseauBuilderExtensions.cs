using System.Diagnostics.CodeAnalysis;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Trousseau;

namespace Microsoft.Extensions.DependencyInjection;

/// <summary>Chooses Trousseau's key provider and store, and lets other packages add their own.</summary>
public static class TrousseauBuilderExtensions
{
    /// <summary>
    /// Uses the local key ring: versioned AES-256 keys in a file (<c>Trousseau:Local:KeyFile</c>) created with mode
    /// 0600 on first use. The embedded default. At start the file must read whole, and a missing file while the store
    /// holds secrets sealed under a local key stops the start instead of being replaced by a new, useless ring.
    /// </summary>
    /// <param name="builder">The Trousseau builder.</param>
    /// <param name="configure">Sets the options, after configuration binding.</param>
    /// <returns>The builder.</returns>
    public static ITrousseauBuilder UseLocalKeyRing(this ITrousseauBuilder builder, Action<LocalKeyRingOptions>? configure = null)
    {
        builder.AddBackendOptions<LocalKeyRingOptions>("Local", static (options, section) => section.Bind(options), configure);
        builder.AddAnnotationsValidator<LocalKeyRingOptions, LocalKeyRingOptionsAnnotationsValidator>();
        builder.AddSectionValidator<LocalKeyRingOptions, LocalKeyRingStartupCheck>(sp => new LocalKeyRingStartupCheck(builder.ConfigurationPath("Local"), sp));
        builder.Services.TryAddSingleton<LocalKeyRingProvider>();
        return builder.AddKeyProvider(LocalKeyRingProvider.ProviderName, sp => sp.GetRequiredService<LocalKeyRingProvider>());
    }

    /// <summary>Uses a store in process memory: records are lost when the process ends. For tests and demos.</summary>
    /// <param name="builder">The Trousseau builder.</param>
    /// <returns>The builder.</returns>
    public static ITrousseauBuilder UseInMemoryStore(this ITrousseauBuilder builder)
    {
        ArgumentNullException.ThrowIfNull(builder);
        builder.Services.TryAddSingleton<InMemorySecretStore>();
        return builder.AddSecretStore(InMemorySecretStore.StoreName, sp => sp.GetRequiredService<InMemorySecretStore>());
    }

    /// <summary>
    /// Makes a key provider available under <paramref name="name"/>. With one provider registered it is used; with
    /// several, <c>Trousseau:KeyProvider</c> chooses.
    /// </summary>
    /// <param name="builder">The Trousseau builder.</param>
    /// <param name="name">The name users select it by.</param>
    /// <param name="factory">Creates the provider, once.</param>
    /// <returns>The builder.</returns>
    public static ITrousseauBuilder AddKeyProvider(this ITrousseauBuilder builder, string name, Func<IServiceProvider, IKeyProvider> factory) =>
        AddBackend(builder, name, factory);

    /// <summary>
    /// Makes a store available under <paramref name="name"/>. With one store registered it is used; with several,
    /// <c>Trousseau:Store</c> chooses.
    /// </summary>
    /// <param name="builder">The Trousseau builder.</param>
    /// <param name="name">The name users select it by.</param>
    /// <param name="factory">Creates the store, once.</param>
    /// <returns>The builder.</returns>
    public static ITrousseauBuilder AddSecretStore(this ITrousseauBuilder builder, string name, Func<IServiceProvider, ISecretStore> factory) =>
        AddBackend(builder, name, factory);

    /// <summary>
    /// Registers a backend's options: bound by <paramref name="bind"/> from the child <paramref name="sectionName"/> of
    /// the builder's configuration section (when it has one) and bound again when that configuration reloads, then
    /// set by <paramref name="configure"/>, validated at start. On a builder without a section, the options bind from
    /// the section another <c>AddTrousseau(section)</c> call gives, before or after this one. Called again (a second
    /// <c>AddTrousseau(section)</c>, or the same builder method twice), it binds the section no second time, so that one
    /// reload of the configuration is one change of the options; <paramref name="configure"/> is added each time.
    /// </summary>
    /// <remarks>
    /// <paramref name="bind"/> is usually <c>(options, section) =&gt; section.Bind(options)</c>, written where the
    /// options type is known, so that the configuration binder's source generator can bind it without reflection, as
    /// trimmed and Native AOT applications need.
    /// </remarks>
    /// <typeparam name="TOptions">The backend's options type.</typeparam>
    /// <param name="builder">The Trousseau builder.</param>
    /// <param name="sectionName">The child section, for example <c>Sqlite</c>.</param>
    /// <param name="bind">Copies the section's values onto the options.</param>
    /// <param name="configure">Sets the options in code, after binding.</param>
    /// <returns>The options builder, for adding validation.</returns>
    public static OptionsBuilder<TOptions> AddBackendOptions<[DynamicallyAccessedMembers(DynamicallyAccessedMemberTypes.PublicParameterlessConstructor)] TOptions>(
        this ITrousseauBuilder builder, string sectionName, Action<TOptions, IConfiguration> bind, Action<TOptions>? configure = null)
        where TOptions : class
    {
        ArgumentNullException.ThrowIfNull(builder);
        ArgumentNullException.ThrowIfNull(bind);
        var options = builder.Services.AddOptions<TOptions>();
        if (SectionBinding<TOptions>.MarkFirst(builder.Services))
        {
            if (builder.Configuration is { } configuration)
            {
                var section = configuration.GetSection(sectionName);
                options.Configure(o => bind(o, section));
                builder.Services.AddSingleton<IOptionsChangeTokenSource<TOptions>>(new ConfigurationChangeTokenSource<TOptions>(options.Name, section));
            }
            else
            {
                // A builder without a section binds from the one another AddTrousseau call gives, before or after it.
                var name = options.Name;
                builder.Services.AddSingleton<IConfigureOptions<TOptions>>(sp => new ConfigureNamedOptions<TOptions>(name, o =>
                {
                    if (GivenSection(sp, sectionName) is { } section)
                    {
                        bind(o, section);
                    }
                }));
                builder.Services.AddSingleton<IOptionsChangeTokenSource<TOptions>>(sp => new SectionChangeTokenSource<TOptions>(name, GivenSection(sp, sectionName)));
            }
        }

        if (configure is not null)
        {
            options.Configure(configure);
        }

        return options.ValidateOnStartOnce();
    }

    /// <summary>
    /// The full configuration key of a Trousseau setting, for error messages: <c>Trousseau:Sqlite:Path</c> when
    /// the builder was given the <c>Trousseau</c> section.
    /// </summary>
    /// <param name="builder">The Trousseau builder.</param>
    /// <param name="relativeKey">The key below the Trousseau section, or <see langword="null"/> for the section itself.</param>
    /// <returns>The full key.</returns>
    public static string ConfigurationPath(this ITrousseauBuilder builder, string? relativeKey = null)
    {
        ArgumentNullException.ThrowIfNull(builder);
        var root = builder.Configuration?.Path ?? TrousseauServiceCollectionExtensions.DefaultSectionName;
        return relativeKey is null ? root : Configuration.ConfigurationPath.Combine(root, relativeKey);
    }

    private static IConfigurationSection? GivenSection(IServiceProvider services, string sectionName) =>
        services.GetService<TrousseauSectionPath>()?.Section?.GetSection(sectionName);

    private static ITrousseauBuilder AddBackend<TBackend>(ITrousseauBuilder builder, string name, Func<IServiceProvider, TBackend> factory)
        where TBackend : class
    {
        ArgumentNullException.ThrowIfNull(builder);
        ArgumentException.ThrowIfNullOrEmpty(name);
        ArgumentNullException.ThrowIfNull(factory);
        if (!builder.Services.Any(d => d.ServiceType == typeof(BackendRegistration<TBackend>)
            && d.ImplementationInstance is BackendRegistration<TBackend> r && r.Name == name))
        {
            builder.Services.AddSingleton(new BackendRegistration<TBackend>(name, factory));
        }

        return builder;
    }
}
