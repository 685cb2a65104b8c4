using Trousseau.Hosting;
using Trousseau.Hosting.Configuration;

namespace Microsoft.Extensions.Configuration;

/// <summary>Adds Trousseau secrets to an application's configuration.</summary>
public static class TrousseauConfigurationBuilderExtensions
{
    /// <summary>
    /// Exposes the secrets under a prefix as configuration keys: secret <c>db/login</c> with data key
    /// <c>password</c> becomes <c>db:login:password</c>. Values are reloaded when a secret changes (polling every
    /// <see cref="TrousseauSecretsConfigurationOptions.ReloadInterval"/>, and at once with an etcd watch), so
    /// <c>IOptionsMonitor</c> and <c>IConfiguration</c> readers see new values without a restart.
    /// </summary>
    /// <param name="builder">The configuration builder.</param>
    /// <param name="configure">Says where to read (an in-process <c>ITrousseau</c> or a <c>TrousseauClient</c>) and what.</param>
    /// <returns>The builder.</returns>
    public static IConfigurationBuilder AddTrousseauSecrets(this IConfigurationBuilder builder, Action<TrousseauSecretsConfigurationOptions> configure)
    {
        ArgumentNullException.ThrowIfNull(builder);
        ArgumentNullException.ThrowIfNull(configure);
        var options = new TrousseauSecretsConfigurationOptions();
        configure(options);
        return builder.Add(new TrousseauSecretsConfigurationSource(options));
    }
}
