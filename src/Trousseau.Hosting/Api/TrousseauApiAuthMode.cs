namespace Trousseau.Hosting;

/// <summary>How the HTTP API authenticates callers.</summary>
public enum TrousseauApiAuthMode
{
    /// <summary>A bearer token, read from (or created in) <see cref="TrousseauApiAuthOptions.TokenFile"/>.</summary>
    Token,

    /// <summary>No authentication; requests are accepted only on loopback connections, each as the identity <c>anonymous</c>.</summary>
    None,

    /// <summary>
    /// The caller's Kubernetes service-account JWT, checked by logging in to Vault's Kubernetes auth with
    /// <see cref="TrousseauApiAuthOptions.KubernetesRole"/>; needs the Vault key provider.
    /// </summary>
    Kubernetes,
}
