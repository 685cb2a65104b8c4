using Microsoft.Extensions.DependencyInjection;
using Trousseau.Tests.Integration.Infrastructure;
using Trousseau.Tests.StoreContract;

namespace Trousseau.Tests.Integration.Etcd;

/// <summary>
/// Two instances of the library on one etcd prefix and one key ring, as two trousseaud processes would be. Each
/// remembers the record it last saw of a secret and updates it without reading it again; these tests write, rewrap
/// or delete the secret through the other instance in between, and check that the answers are those of an instance
/// that remembers nothing.
/// </summary>
public sealed class EtcdSharedSecretWriteTests(EtcdFixture fixture) : IClassFixture<EtcdFixture>, IDisposable
{
    /// <summary>Read by <see cref="StoreFactAttribute"/>: skip when etcd is missing outside CI.</summary>
    public static string? SkipReason => EtcdProcess.SkipReason;

    private readonly TempDirectory _temp = new();
    private readonly List<ServiceProvider> _providers = [];
    private readonly string _prefix = $"/shared-{Guid.NewGuid():N}/";

    public void Dispose()
    {
        foreach (var provider in _providers)
        {
            provider.Dispose();
        }

        _temp.Dispose();
    }

    private static Dictionary<string, string> Data(params (string Key, string Value)[] pairs) =>
        pairs.ToDictionary(p => p.Key, p => p.Value, StringComparer.Ordinal);

    /// <summary>One more instance on this test's prefix and key ring.</summary>
    private Instance Start()
    {
        var services = new ServiceCollection();
        services.AddTrousseau(_ => { })
            .UseLocalKeyRing(ring => ring.KeyFile = _temp.Combine("local.keyring"))
            .UseEtcdStore(etcd =>
            {
                etcd.Endpoints.Add(fixture.Etcd.ClientUrl);
                etcd.Prefix = _prefix;
            });
        var provider = services.BuildServiceProvider();
        _providers.Add(provider);
        return new Instance(provider.GetRequiredService<ITrousseau>(), provider.GetRequiredService<IKeyAdministration>());
    }

    [StoreFact]
    public async Task An_update_without_a_revision_after_the_other_instance_wrote_the_secret_replaces_that_write()
    {
        var (a, b) = (Start(), Start());
        await a.Secrets.CreateSecretAsync("app/db", SecretType.Opaque, Data(("k", "v1")));
        await a.Secrets.GetSecretAsync("app/db");
        var theirs = await b.Secrets.UpdateSecretAsync("app/db", Data(("k", "from-b")));

        var mine = await a.Secrets.UpdateSecretAsync("app/db", Data(("k", "from-a")));

        var read = await b.Secrets.GetSecretAsync("app/db");
        Assert.True(mine.Revision > theirs.Revision);
        Assert.Equal(("from-a", mine.Revision), (read.Data["k"], read.Revision));
    }

    [StoreFact]
    public async Task An_update_at_the_revision_read_before_the_other_instances_write_conflicts_and_keeps_that_write()
    {
        var (a, b) = (Start(), Start());
        await a.Secrets.CreateSecretAsync("app/db", SecretType.Opaque, Data(("k", "v1")));
        var seen = await a.Secrets.GetSecretAsync("app/db");
        var theirs = await b.Secrets.UpdateSecretAsync("app/db", Data(("k", "from-b")));

        var refused = await Assert.ThrowsAsync<SecretConflictException>(
            async () => await a.Secrets.UpdateSecretAsync("app/db", Data(("k", "from-a")), expectedRevision: seen.Revision));

        var read = await a.Secrets.GetSecretAsync("app/db");
        Assert.Equal(SecretConflictReason.RevisionMismatch, refused.Reason);
        Assert.Equal(("from-b", theirs.Revision), (read.Data["k"], read.Revision));
    }

    [StoreFact]
    public async Task An_update_at_the_revision_the_other_instance_wrote_succeeds_though_this_one_never_read_it()
    {
        var (a, b) = (Start(), Start());
        await a.Secrets.CreateSecretAsync("app/db", SecretType.Opaque, Data(("k", "v1")));
        await a.Secrets.GetSecretAsync("app/db");
        var theirs = await b.Secrets.UpdateSecretAsync("app/db", Data(("k", "from-b")));

        var mine = await a.Secrets.UpdateSecretAsync("app/db", Data(("k", "from-a")), expectedRevision: theirs.Revision);

        var read = await b.Secrets.GetSecretAsync("app/db");
        Assert.True(mine.Revision > theirs.Revision);
        Assert.Equal(("from-a", mine.Revision), (read.Data["k"], read.Revision));
    }

    [StoreFact]
    public async Task An_update_after_the_other_instance_deleted_the_secret_is_not_found_and_creates_nothing()
    {
        var (a, b) = (Start(), Start());
        var created = await a.Secrets.CreateSecretAsync("app/db", SecretType.Opaque, Data(("k", "v1")));
        await a.Secrets.GetSecretAsync("app/db");
        await b.Secrets.DeleteSecretAsync("app/db");

        await Assert.ThrowsAsync<SecretNotFoundException>(async () => await a.Secrets.UpdateSecretAsync("app/db", Data(("k", "from-a"))));
        await Assert.ThrowsAsync<SecretNotFoundException>(
            async () => await a.Secrets.UpdateSecretAsync("app/db", Data(("k", "from-a")), expectedRevision: created.Revision));

        await Assert.ThrowsAsync<SecretNotFoundException>(async () => await b.Secrets.GetSecretAsync("app/db"));
    }

    [StoreFact]
    public async Task An_update_at_the_revision_read_before_the_other_instances_rewrap_succeeds()
    {
        var (a, b) = (Start(), Start());
        await a.Secrets.CreateSecretAsync("app/db", SecretType.Login, Data(("username", "app"), ("password", "v1")));
        var seen = await a.Secrets.GetSecretAsync("app/db");
        await b.Keys.RotateKeyAsync();
        Assert.Equal(1, (await b.Keys.RewrapSecretsAsync()).Rewrapped);
        var rewrapped = await b.Secrets.GetSecretAsync("app/db");

        var mine = await a.Secrets.UpdateSecretAsync("app/db", Data(("username", "app"), ("password", "from-a")), expectedRevision: seen.Revision);

        var read = await b.Secrets.GetSecretAsync("app/db");
        Assert.Equal(seen.Metadata, rewrapped.Metadata);
        Assert.True(mine.Revision > seen.Revision);
        Assert.Equal((SecretType.Login, seen.Metadata.CreatedAt), (mine.Type, mine.CreatedAt));
        Assert.Equal(("from-a", mine), (read.Data["password"], read.Metadata));
    }

    [StoreFact]
    public async Task An_update_without_a_type_after_the_other_instance_changed_the_type_follows_the_new_type()
    {
        var (a, b) = (Start(), Start());
        await a.Secrets.CreateSecretAsync("app/db", SecretType.Login, Data(("username", "app"), ("password", "v1")));
        await a.Secrets.GetSecretAsync("app/db");
        await b.Secrets.UpdateSecretAsync("app/db", Data(("token", "from-b")), SecretType.Opaque);

        var mine = await a.Secrets.UpdateSecretAsync("app/db", Data(("token", "from-a")));

        var read = await b.Secrets.GetSecretAsync("app/db");
        Assert.Equal(SecretType.Opaque, mine.Type);
        Assert.Equal((SecretType.Opaque, "from-a"), (read.Type, read.Data["token"]));
    }

    [StoreFact]
    public async Task An_update_of_a_secret_this_instance_last_read_or_wrote_is_one_etcd_write_without_a_read()
    {
        var a = Start();
        await a.Secrets.CreateSecretAsync("app/created", SecretType.Opaque, Data(("k", "v1")));
        await a.Secrets.CreateSecretAsync("app/read", SecretType.Opaque, Data(("k", "v1")));
        var seen = await a.Secrets.GetSecretAsync("app/read");
        using var recorder = new TraceRecorder();

        using (recorder.StartRoot())
        {
            await a.Secrets.UpdateSecretAsync("app/created", Data(("k", "v2")));
            await a.Secrets.UpdateSecretAsync("app/read", Data(("k", "v2")), expectedRevision: seen.Revision);
            await a.Secrets.UpdateSecretAsync("app/read", Data(("k", "v3")));
        }

        Assert.Equal(
            ["trousseau.store.update", "trousseau.store.update", "trousseau.store.update"],
            recorder.Spans.Select(s => s.OperationName).Where(n => n.StartsWith("trousseau.store.", StringComparison.Ordinal)));
        Assert.Equal("v3", (await Start().Secrets.GetSecretAsync("app/read")).Data["k"]);
    }

    private sealed record Instance(ITrousseau Secrets, IKeyAdministration Keys);
}
