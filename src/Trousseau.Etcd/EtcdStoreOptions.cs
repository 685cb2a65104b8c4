namespace Trousseau.Etcd;

/// <summary>
/// How Trousseau reaches etcd, under <c>Trousseau:Etcd</c>; <see cref="EtcdSecretStore"/> uses them.
/// </summary>
public sealed class EtcdStoreOptions
{
    /// <summary>The cluster's client URLs, <c>http(s)://host:port</c>, all http or all https; calls go to the members that are connected.</summary>
    [RequiredSetting(ErrorMessage = "Trousseau:Etcd:Endpoints is {0}; it must list at least one etcd endpoint, for example http://127.0.0.1:2379.")]
    public IList<Uri> Endpoints { get; } = [];

    /// <summary>The key prefix under which records live. Default <c>/trousseau/</c>.</summary>
    public string Prefix { get; set; } = "/trousseau/";

    /// <summary>etcd user name, when etcd auth is on.</summary>
    public string? Username { get; set; }

    /// <summary>etcd password, when etcd auth is on.</summary>
    public string? Password { get; set; }

    /// <summary>A PEM bundle of CA certificates trusted for etcd's TLS.</summary>
    public string? CaFile { get; set; }

    /// <summary>The client certificate (PEM) for mutual TLS.</summary>
    public string? CertFile { get; set; }

    /// <summary>The client certificate's private key (PEM).</summary>
    public string? KeyFile { get; set; }
}
