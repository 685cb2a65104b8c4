namespace Trousseau;

/// <summary>The fixed limits every Trousseau host enforces.</summary>
public static class TrousseauLimits
{
    /// <summary>The largest secret data, in bytes of UTF-8 keys and values: 1 MiB.</summary>
    public const int MaxSecretDataBytes = 1024 * 1024;

    /// <summary>The longest secret name.</summary>
    public const int MaxNameLength = 253;

    /// <summary>The longest data key.</summary>
    public const int MaxDataKeyLength = 253;

    /// <summary>The largest plaintext <see cref="ITrousseau.EncryptAsync"/> takes: 1 MiB.</summary>
    public const int MaxPlaintextBytes = 1024 * 1024;

    /// <summary>The largest context (associated data) <see cref="ITrousseau.EncryptAsync"/> takes.</summary>
    public const int MaxContextBytes = 4096;

    /// <summary>The page size of a listing when the caller names none (<see cref="ITrousseau.ListSecretsPageAsync"/>).</summary>
    public const int DefaultListPageSize = 500;

    /// <summary>The largest page a listing returns (<see cref="ITrousseau.ListSecretsPageAsync"/>).</summary>
    public const int MaxListPageSize = 1000;
}
