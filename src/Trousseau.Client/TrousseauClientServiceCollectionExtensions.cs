using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Options;
using Trousseau;
using Trousseau.Remote;
using Trousseau.Remote.Internal;

namespace Microsoft.Extensions.DependencyInjection;

/// <summary>Registers <see cref="TrousseauClient"/>, the remote <see cref="ITrousseau"/>, with <c>IHttpClientFactory</c>.</summary>
public static class TrousseauClientServiceCollectionExtensions
{
    /// <summary>
    /// Registers <see cref="TrousseauClient"/> as a typed client of <c>IHttpClientFactory</c>, resolved as itself, as
    /// <see cref="ITrousseau"/> and as <see cref="IKeyAdministration"/> (unless another registration of those came
    /// first), with options set in code and checked when the host starts.
    /// </summary>
    /// <param name="services">The application's services.</param>
    /// <param name="configure">Sets the server's address, the token and the TLS files.</param>
    /// <returns>
    /// The builder of its <see cref="HttpClient"/>, for handlers of the application's own (such as
    /// <c>AddStandardResilienceHandler</c>, with retries kept to reads).
    /// </returns>
    public static IHttpClientBuilder AddTrousseauClient(this IServiceCollection services, Action<TrousseauClientConnectionOptions> configure)
    {
        ArgumentNullException.ThrowIfNull(services);
        ArgumentNullException.ThrowIfNull(configure);
        services.AddOptions<TrousseauClientConnectionOptions>().Configure(configure);
        return services.AddTrousseauClient(sectionPath: null);
    }

    /// <summary>
    /// Registers <see cref="TrousseauClient"/> as <see cref="AddTrousseauClient(IServiceCollection, Action{TrousseauClientConnectionOptions})"/>
    /// does, with options bound from <paramref name="configuration"/> (keys <c>BaseAddress</c>, <c>Token</c>,
    /// <c>TokenFile</c>, <c>Tls:CaFile</c>, <c>Tls:CertFile</c>, <c>Tls:KeyFile</c>, <c>AllowInsecureHttp</c>); a
    /// failure at start names the keys under that section.
    /// </summary>
    /// <param name="services">The application's services.</param>
    /// <param name="configuration">The section holding the client's settings, for example <c>configuration.GetSection("Trousseau:Client")</c>.</param>
    /// <returns>The builder of its <see cref="HttpClient"/>.</returns>
    public static IHttpClientBuilder AddTrousseauClient(this IServiceCollection services, IConfiguration configuration)
    {
        ArgumentNullException.ThrowIfNull(services);
        ArgumentNullException.ThrowIfNull(configuration);
        services.AddOptions<TrousseauClientConnectionOptions>().Bind(configuration);
        return services.AddTrousseauClient((configuration as IConfigurationSection)?.Path);
    }

    private static IHttpClientBuilder AddTrousseauClient(this IServiceCollection services, string? sectionPath)
    {
        services.AddOptions<TrousseauClientConnectionOptions>().ValidateOnStart();

        // One validator, naming the keys of the last section given: a second call replaces the options' source too.
        var validator = ServiceDescriptor.Singleton<IValidateOptions<TrousseauClientConnectionOptions>>(new ConnectionOptionsValidator(sectionPath));
        var earlier = services.FirstOrDefault(d => !d.IsKeyedService && d.ImplementationInstance is ConnectionOptionsValidator);
        if (earlier is null)
        {
            services.Add(validator);
        }
        else
        {
            services[services.IndexOf(earlier)] = validator;
        }

        services.TryAddSingleton<ConnectionToken>();
        services.TryAddTransient<ITrousseau>(sp => sp.GetRequiredService<TrousseauClient>());
        services.TryAddTransient<IKeyAdministration>(sp => sp.GetRequiredService<TrousseauClient>());
        return services.AddHttpClient<TrousseauClient>((sp, http) =>
            {
                // The API's paths are relative: a base address with a path keeps it only when it ends with '/'.
                var server = sp.GetRequiredService<IOptions<TrousseauClientConnectionOptions>>().Value.BaseAddress!;
                http.BaseAddress = server.AbsolutePath.EndsWith('/') ? server : new Uri(server.AbsoluteUri + "/");
            })
            .ConfigurePrimaryHttpMessageHandler(sp => TrousseauHttpHandler.Create(sp.GetRequiredService<IOptions<TrousseauClientConnectionOptions>>().Value.Tls));
    }
}
