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

    /// <summary>
    /// For <c>IConfigurationRoot.GetDebugView</c>: shows <c>***</c> in place of each value that comes from
    /// <see cref="AddTrousseauSecrets"/>, and every other value as it is, so that a debug view can be logged or served
    /// without the secrets: <c>root.GetDebugView(TrousseauConfigurationBuilderExtensions.HideSecretValues)</c>.
    /// <c>GetDebugView()</c> without it prints every value, secrets included.
    /// </summary>
    /// <param name="context">A key of the debug view, its value and the provider that value comes from.</param>
    /// <returns>What the debug view shows as the value.</returns>
    public static string HideSecretValues(ConfigurationDebugViewContext context) =>
        context.ConfigurationProvider is TrousseauSecretsConfigurationProvider ? "***" : context.Value ?? "";
}
