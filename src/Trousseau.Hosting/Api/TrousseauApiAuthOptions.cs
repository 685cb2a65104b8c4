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
}
