using Microsoft.Extensions.DependencyInjection;
using Trousseau.Tests.Integration.Infrastructure;
using Trousseau.Tests.StoreContract;

namespace Trousseau.Tests.Integration.Etcd;

/// <summary>
/// Two service providers (hosts) in one process, each with a key ring of its own: one on SQLite, one on a real etcd.
/// Nothing one holds reaches the other, and disposing one leaves the other working.
/// </summary>
public sealed class EtcdBesideSqliteHostTests(EtcdFixture fixture) : IClassFixture<EtcdFixture>, IDisposable
{
    /// <summary>Read by <see cref="StoreFactAttribute"/>: skip when etcd is missing outside CI.</summary>
    public static string? SkipReason => EtcdProcess.SkipReason;

    private static readonly Dictionary<string, string> Data = new(StringComparer.Ordinal) { ["k"] = "sqlite-host-only" };

    private readonly TempDirectory _temp = new();

    public void Dispose() => _temp.Dispose();

    [StoreFact]
    public async Task A_sqlite_host_and_an_etcd_host_keep_their_secrets_apart_and_the_etcd_host_outlives_the_other()
    {
        var prefix = $"/beside-{Guid.NewGuid():N}/";
        var sqliteHost = new ServiceCollection();
        sqliteHost.AddTrousseau(_ => { })
            .UseLocalKeyRing(ring => ring.KeyFile = _temp.Combine("sqlite-ring.json"))
            .UseSqliteStore(sqlite => sqlite.Path = _temp.Combine("store.db"));
        var etcdHost = new ServiceCollection();
        etcdHost.AddTrousseau(_ => { })
            .UseLocalKeyRing(ring => ring.KeyFile = _temp.Combine("etcd-ring.json"))
            .UseEtcdStore(o =>
            {
                o.Endpoints.Add(fixture.Etcd.ClientUrl);
                o.Prefix = prefix;
            });
        var first = sqliteHost.BuildServiceProvider();
        await using var second = etcdHost.BuildServiceProvider();
        var onSqlite = first.GetRequiredService<ITrousseau>();
        var onEtcd = second.GetRequiredService<ITrousseau>();

        await onSqlite.CreateSecretAsync("shared/name", SecretType.Opaque, Data);
        var sealedBySqliteHost = await onSqlite.EncryptAsync("x"u8.ToArray());
        await Assert.ThrowsAsync<SecretNotFoundException>(async () => await onEtcd.GetSecretAsync("shared/name"));
        Assert.Empty(await onEtcd.ListSecretsAsync().ToListAsync());
        await Assert.ThrowsAsync<InvalidCiphertextException>(async () => await onEtcd.DecryptAsync(sealedBySqliteHost.Ciphertext));
        await onEtcd.CreateSecretAsync("shared/name", SecretType.Opaque, new Dictionary<string, string>(StringComparer.Ordinal) { ["k"] = "etcd-host" });
        Assert.Equal("sqlite-host-only", (await onSqlite.GetSecretAsync("shared/name")).Data["k"]);
        await first.DisposeAsync();

        Assert.Equal("etcd-host", (await onEtcd.GetSecretAsync("shared/name")).Data["k"]);
        await onEtcd.CreateSecretAsync("after", SecretType.Opaque, Data);
        var keys = second.GetRequiredService<IKeyAdministration>();
        var rotated = await keys.RotateKeyAsync();
        Assert.Equal(2L, (await keys.RewrapSecretsAsync()).Rewrapped);
        Assert.Equal(rotated.KeyId, (await keys.GetKeyStatusAsync()).KeyId);
        Assert.True((await second.GetRequiredService<ISecretStore>().CheckHealthAsync()).IsHealthy);
    }
}
