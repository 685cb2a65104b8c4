namespace Trousseau.Hosting;

/// <summary>Authentication of the HTTP API (<c>Trousseau:Api:Auth</c>).</summary>
public sealed class TrousseauApiAuthOptions
{
    /// <summary>How callers prove who they are; <see cref="TrousseauApiAuthMode.Token"/> by default.</summary>
    public TrousseauApiAuthMode Mode { get; set; } = TrousseauApiAuthMode.Token;

    /// <summary>
    /// The file holding the bearer token in <see cref="TrousseauApiAuthMode.Token"/> mode; created with a random
    /// token and mode 0600 when absent.
    /// </summary>
    public string? TokenFile { get; set; }

    /// <summary>The Vault Kubernetes auth role callers must satisfy in <see cref="TrousseauApiAuthMode.Kubernetes"/> mode.</summary>
    public string? KubernetesRole { get; set; }

    /// <summary>
    /// In <see cref="TrousseauApiAuthMode.Kubernetes"/> mode, how many bearer tokens per second, at most, are checked
    /// with a Vault login (tokens already checked are answered from memory and never count); a request over the
    /// limit is answered 503 with <c>Retry-After</c>. 50 by default.
    /// </summary>
    [SettingRange(1, 10_000, ErrorMessage = "Trousseau:Api:Auth:MaxLoginsPerSecond is {0}; it must be a whole number from 1 to 10000.")]
    public int MaxLoginsPerSecond { get; set; } = 50;
}
