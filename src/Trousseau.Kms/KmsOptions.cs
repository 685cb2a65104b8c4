namespace Trousseau.Kms;

/// <summary>The Kubernetes KMS plugin, under <c>Trousseau:Kms</c>.</summary>
public sealed class KmsOptions
{
    /// <summary>Whether the host serves the KMS plugin. Default <see langword="true"/>.</summary>
    public bool Enabled { get; set; } = true;

    /// <summary>
    /// The Unix socket kube-apiserver calls, for example <c>/var/run/kmsplugin/socket.sock</c>; <c>trousseaud</c>
    /// defaults it to <c>&lt;data dir&gt;/kms.sock</c>. The parent directory is created (mode 0700) when missing and
    /// refused when group or others may write it, or when a user other than root or the one the application runs as
    /// owns it; a stale socket file is replaced; the socket is owner-only (0600) from the instant it appears and
    /// removed on shutdown.
    /// </summary>
    public string? Socket { get; set; }

    /// <summary>
    /// How long one key-provider call may take before the plugin answers UNAVAILABLE. Default 2 s, inside
    /// kube-apiserver's 3 s deadline.
    /// </summary>
    [SettingRange("00:00:00", "00:00:30", MinimumIsExclusive = true, ErrorMessage = "Trousseau:Kms:ProviderTimeout is {0}; it must be above 00:00:00 and at most 00:00:30.")]
    public TimeSpan ProviderTimeout { get; set; } = TimeSpan.FromSeconds(2);

    /// <summary>
    /// Whether Decrypt accepts ciphertexts in the formats written before the plugin labelled its wraps with its purpose
    /// (formats 1 and 2), so that what kube-apiserver stored before an upgrade still decrypts. Default
    /// <see langword="true"/>. Such a ciphertext cannot be told apart from a Trousseau data key written before the
    /// upgrade, which therefore also unwraps through the socket while this is on; data keys written since carry their
    /// own label and are always refused. Set it to <see langword="false"/> once kube-apiserver has re-encrypted what it
    /// stores (docs/kms.md).
    /// </summary>
    public bool AcceptLegacyCiphertext { get; set; } = true;

    /// <summary>How long a healthy Status result is reused before the provider is asked again. Default 5 s.</summary>
    [SettingRange("00:00:00", "00:00:50", ErrorMessage = "Trousseau:Kms:StatusCacheDuration is {0}; it must be at least 00:00:00 and at most 00:00:50.")]
    public TimeSpan StatusCacheDuration { get; set; } = TimeSpan.FromSeconds(5);
}
