namespace Trousseau;

/// <summary>Options of the local key ring, under <c>Trousseau:Local</c>.</summary>
public sealed class LocalKeyRingOptions
{
    /// <summary>
    /// The key ring file. Created with mode 0600 (and its directory with 0700) on first use. It holds the
    /// key-encryption keys in the clear, like any local master key: protect it as such, or use Vault Transit.
    /// </summary>
    [RequiredSetting(ErrorMessage = "Trousseau:Local:KeyFile is {0}; it must be the path of the local key ring file (for example /var/lib/trousseau/local.keyring).")]
    public string? KeyFile { get; set; }
}
