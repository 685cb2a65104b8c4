namespace Trousseau.Kms;

/// <summary>
/// The KMS plugin's socket, under <c>Trousseau:Kms</c>. Names and defaults are those of the configuration contract
/// (CONTRACT.md); the gRPC services arrive with issue #4.
/// </summary>
public sealed class KmsOptions
{
    /// <summary>Whether <c>trousseaud</c> serves the KMS plugin. Default <see langword="true"/>.</summary>
    public bool Enabled { get; set; } = true;

    /// <summary>The Unix socket kube-apiserver calls; <c>&lt;data dir&gt;/kms.sock</c> in <c>trousseaud</c>.</summary>
    public string? Socket { get; set; }
}
