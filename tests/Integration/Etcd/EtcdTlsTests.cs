using Microsoft.Extensions.DependencyInjection;
using Trousseau.Etcd;
using Trousseau.Tests.Integration.Infrastructure;
using Trousseau.Tests.StoreContract;

namespace Trousseau.Tests.Integration.Etcd;

/// <summary>The etcd store over TLS, on an etcd of its own that asks clients for a certificate.</summary>
public sealed class EtcdTlsTests : IAsyncLifetime, IDisposable
{
    /// <summary>Read by <see cref="StoreFactAttribute"/>: skip when etcd is missing outside CI.</summary>
    public static string? SkipReason => EtcdProcess.SkipReason;

    private readonly TempDirectory _temp = new();
    private readonly List<ServiceProvider> _providers = [];
    private EtcdTlsFiles _tls = null!;
    private EtcdProcess _etcd = null!;

    public async Task InitializeAsync()
    {
        _tls = EtcdTlsFiles.Create(_temp.Path, "etcd");
        _etcd = await EtcdProcess.StartTlsAsync(_tls);
    }

    public async Task DisposeAsync()
    {
        foreach (var provider in _providers)
        {
            await provider.DisposeAsync();
        }

        await _etcd.DisposeAsync();
    }

    public void Dispose() => _temp.Dispose();

    [StoreFact]
    public async Task With_the_CA_and_a_client_certificate_the_store_reads_and_writes()
    {
        var store = OpenStore(_etcd.ClientUrl, _tls.CaFile, _tls.ClientCert, _tls.ClientKey);

        var created = await store.CreateAsync("tls/one", "v1"u8.ToArray());

        Assert.Equal(created, (await store.GetAsync("tls/one"))?.Revision);
    }

    [StoreFact]
    public async Task Without_a_client_certificate_an_untrusted_server_or_a_host_the_certificate_does_not_name_etcd_is_unavailable()
    {
        var other = EtcdTlsFiles.Create(_temp.Path, "other");
        var byName = new UriBuilder(_etcd.ClientUrl) { Host = "localhost" }.Uri;

        var noClientCertificate = await Assert.ThrowsAsync<DependencyUnavailableException>(async () =>
            await OpenStore(_etcd.ClientUrl, _tls.CaFile, null, null).GetAsync("tls/any"));
        var untrusted = await Assert.ThrowsAsync<DependencyUnavailableException>(async () =>
            await OpenStore(_etcd.ClientUrl, other.CaFile, _tls.ClientCert, _tls.ClientKey).GetAsync("tls/any"));
        var wrongName = await Assert.ThrowsAsync<DependencyUnavailableException>(async () =>
            await OpenStore(byName, _tls.CaFile, _tls.ClientCert, _tls.ClientKey).GetAsync("tls/any"));

        Assert.Contains("etcd cannot be reached", noClientCertificate.Message, StringComparison.Ordinal);
        Assert.All([untrusted, wrongName], e => Assert.Contains("remote certificate was rejected", e.Message, StringComparison.Ordinal));
    }

    private EtcdSecretStore OpenStore(Uri endpoint, string caFile, string? certFile, string? keyFile)
    {
        var services = new ServiceCollection();
        services.AddTrousseau(_ => { }).UseEtcdStore(o =>
        {
            o.Endpoints.Add(endpoint);
            o.CaFile = caFile;
            o.CertFile = certFile;
            o.KeyFile = keyFile;
        });
        var provider = services.BuildServiceProvider();
        _providers.Add(provider);
        return provider.GetRequiredService<EtcdSecretStore>();
    }
}
