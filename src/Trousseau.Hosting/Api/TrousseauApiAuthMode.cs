namespace Trousseau.Hosting;

/// <summary>How the HTTP API authenticates callers.</summary>
public enum TrousseauApiAuthMode
{
    /// <summary>A bearer token, read from (or created in) <see cref="TrousseauApiAuthOptions.TokenFile"/>.</summary>
    Token,

    /// <summary>No authentication; requests are accepted only on loopback connections.</summary>
    None,
}
