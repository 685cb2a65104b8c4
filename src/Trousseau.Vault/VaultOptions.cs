namespace Trousseau.Vault;

/// <summary>
/// How Trousseau reaches Vault, under <c>Trousseau:Vault</c>; <see cref="VaultTransitKeyProvider"/> uses them.
/// </summary>
public sealed class VaultOptions
{
    /// <summary>Vault's address, for example <c>https://vault:8200</c>.</summary>
    [RequiredSetting(ErrorMessage = "Trousseau:Vault:Address is required: Vault's http(s) URL, for example https://vault:8200.")]
    public Uri? Address { get; set; }

    /// <summary>The Vault Enterprise namespace, sent as <c>X-Vault-Namespace</c>; none by default.</summary>
    public string? Namespace { get; set; }

    /// <summary>The Transit secrets engine's mount. Default <c>transit</c>.</summary>
    [RequiredSetting(ErrorMessage = "Trousseau:Vault:TransitMount is {0}; it must name the Transit mount (default transit).")]
    public string TransitMount { get; set; } = "transit";

    /// <summary>The Transit key that wraps data keys. Default <c>trousseau</c>.</summary>
    [RequiredSetting(ErrorMessage = "Trousseau:Vault:KeyName is {0}; it must name the Transit key (default trousseau).")]
    public string KeyName { get; set; } = "trousseau";

    /// <summary>A PEM bundle of CA certificates trusted for Vault's TLS; the system's by default.</summary>
    public string? CaFile { get; set; }

    /// <summary>An optional KV v2 path (for example <c>secret/data/trousseau/config</c>) laid over local configuration.</summary>
    public string? ConfigPath { get; set; }

    /// <summary>
    /// How long one call to Vault may take in all, retries and their waits included; then it fails as unavailable.
    /// Default 2 s. trousseaud refuses to start when it exceeds <c>Kms:ProviderTimeout</c> with the KMS plugin on.
    /// </summary>
    [SettingRange("00:00:00.01", "00:05:00", ErrorMessage = "Trousseau:Vault:Timeout is {0}; it must be at least 00:00:00.01 and at most 00:05:00.")]
    public TimeSpan Timeout { get; set; } = TimeSpan.FromSeconds(2);

    /// <summary>
    /// How long one attempt of a call that is safe to repeat (reads, encrypt, decrypt, datakey, token renewal) may
    /// take before it is abandoned and retried. Default 1 s; at most <see cref="Timeout"/>. Logins and key rotation
    /// are sent once and bounded by <see cref="Timeout"/> alone.
    /// </summary>
    public TimeSpan AttemptTimeout { get; set; } = TimeSpan.FromSeconds(1);

    /// <summary>How Trousseau logs in.</summary>
    public VaultAuthOptions Auth { get; set; } = new();
}

/// <summary>How Trousseau logs in to Vault, under <c>Trousseau:Vault:Auth</c>.</summary>
public sealed class VaultAuthOptions
{
    /// <summary><c>token</c> (default), <c>kubernetes</c> or <c>approle</c>.</summary>
    public string Method { get; set; } = "token";

    /// <summary>Token auth: the token itself. Prefer <see cref="TokenFile"/>.</summary>
    public string? Token { get; set; }

    /// <summary>Token auth: a file holding the token.</summary>
    public string? TokenFile { get; set; }

    /// <summary>Kubernetes auth: the Vault role to log in as.</summary>
    public string? Role { get; set; }

    /// <summary>Kubernetes auth: the service-account token file, re-read at every login.</summary>
    public string JwtFile { get; set; } = "/var/run/secrets/kubernetes.io/serviceaccount/token";

    /// <summary>Kubernetes auth: the auth method's mount. Default <c>kubernetes</c>.</summary>
    public string Mount { get; set; } = "kubernetes";

    /// <summary>AppRole auth: the role id.</summary>
    public string? RoleId { get; set; }

    /// <summary>AppRole auth: the secret id. Prefer <see cref="SecretIdFile"/>.</summary>
    public string? SecretId { get; set; }

    /// <summary>AppRole auth: a file holding the secret id.</summary>
    public string? SecretIdFile { get; set; }
}
