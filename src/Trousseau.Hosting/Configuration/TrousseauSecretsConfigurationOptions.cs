using Microsoft.Extensions.Logging;

namespace Trousseau.Hosting;

/// <summary>Where <c>AddTrousseauSecrets</c> reads secrets and how it keeps them fresh.</summary>
public sealed class TrousseauSecretsConfigurationOptions
{
    /// <summary>The library to read through: an in-process instance, or a <c>TrousseauClient</c> for a trousseaud.</summary>
    public ITrousseau? Trousseau { get; set; }

    /// <summary>
    /// Only secrets under this prefix become configuration; the prefix is dropped from the keys. Empty (every secret),
    /// or a path ending with <c>/</c> such as <c>db/</c>, that a secret name can start with; any other value is refused
    /// with an <see cref="ArgumentException"/> when the configuration is built.
    /// </summary>
    public string Prefix { get; set; } = "";

    /// <summary>
    /// How often to look for changed secrets (by revision; unchanged secrets are not read again). Default 30 s. Positive
    /// and at most 49.17:02:47.294 (about 49.7 days), or <see cref="Timeout.InfiniteTimeSpan"/> to poll never, relying on
    /// <see cref="Watch"/> (and <c>IConfigurationRoot.Reload()</c>); any other value is refused with an
    /// <see cref="ArgumentException"/> when the configuration is built.
    /// </summary>
    public TimeSpan ReloadInterval { get; set; } = TimeSpan.FromSeconds(30);

    /// <summary>When set (the etcd store), changes reload at once instead of waiting for the next poll.</summary>
    public IWatchableSecretStore? Watch { get; set; }

    /// <summary>
    /// Whether startup goes on when the secrets cannot be read: with no values when the broker, store or key provider
    /// cannot be reached, without its keys when a secret does not decrypt or may not be read. Default
    /// <see langword="false"/>: startup stops with the <see cref="TrousseauException"/>.
    /// </summary>
    public bool Optional { get; set; }

    /// <summary>
    /// Called when reading the secrets fails and the configuration keeps what it had: at a reload after start (the
    /// broker, store or key provider is down), or at start when <see cref="Optional"/> is set. Called too for each
    /// secret that does not decrypt or that the broker lets the application list but not read (an
    /// <see cref="InvalidCiphertextException"/> or <see cref="AccessForbiddenException"/> naming it): that secret keeps
    /// its last values, or has none, while every other secret loads. The next poll or change tries again. The exception
    /// names the dependency or the secret and the failure, never a secret value. Default: none, and such failures go
    /// unreported.
    /// </summary>
    public Action<TrousseauException>? OnLoadError { get; set; }

    /// <summary>
    /// Where the provider logs a reload after start that fails, and with <see cref="Optional"/> a load at start that
    /// fails (category <c>Trousseau.Hosting.Configuration.TrousseauSecretsConfigurationProvider</c>): once when the
    /// failures begin, again only when the kind of failure changes, and once when a reload succeeds again; a secret that
    /// does not decrypt or may not be read, once until it is read again, and once then; and an <see cref="OnLoadError"/>
    /// that throws, once until a call to it returns. Configuration is read before the host has a logger, so this is one of
    /// the application's own (<c>LoggerFactory.Create(logging => logging.AddConsole())</c>). Default: none, and such
    /// failures are not logged.
    /// </summary>
    public ILoggerFactory? LoggerFactory { get; set; }
}
