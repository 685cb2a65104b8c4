using Microsoft.Extensions.DependencyInjection;

namespace Trousseau.Tests.Unit.Lifetime;

/// <summary>
/// Two service providers (hosts) in one process, each with the local key ring and SQLite in a data directory of its
/// own, as a test host or a multi-tenant application makes them: nothing one holds reaches the other.
/// </summary>
public sealed class TwoHostsTests : IDisposable
{
    private static readonly Dictionary<string, string> Data = new(StringComparer.Ordinal) { ["password"] = "first-host-only" };

    private readonly TempDirectory _first = new();
    private readonly TempDirectory _second = new();

    public void Dispose()
    {
        _first.Dispose();
        _second.Dispose();
    }

    private static ServiceProvider Start(TempDirectory directory)
    {
        var services = new ServiceCollection();
        services.AddTrousseau(_ => { })
            .UseLocalKeyRing(ring => ring.KeyFile = directory.Combine("ring.json"))
            .UseSqliteStore(sqlite => sqlite.Path = directory.Combine("store.db"));
        return services.BuildServiceProvider(new ServiceProviderOptions { ValidateOnBuild = true });
    }

    [Fact]
    public async Task A_secret_written_through_one_host_is_neither_read_nor_listed_nor_decrypted_through_the_other()
    {
        await using var first = Start(_first);
        await using var second = Start(_second);
        var one = first.GetRequiredService<ITrousseau>();
        var other = second.GetRequiredService<ITrousseau>();

        await one.CreateSecretAsync("db/orders", SecretType.Opaque, Data);
        Assert.Equal("first-host-only", (await one.GetSecretAsync("db/orders")).Data["password"]);
        var sealedByOne = await one.EncryptAsync("only the first opens this"u8.ToArray());

        await Assert.ThrowsAsync<SecretNotFoundException>(async () => await other.GetSecretAsync("db/orders"));
        Assert.Empty(await other.ListSecretsAsync().ToListAsync());
        await Assert.ThrowsAsync<InvalidCiphertextException>(async () => await other.DecryptAsync(sealedByOne.Ciphertext));
        Assert.NotEqual(
            (await first.GetRequiredService<IKeyAdministration>().GetKeyStatusAsync()).KeyId,
            (await second.GetRequiredService<IKeyAdministration>().GetKeyStatusAsync()).KeyId);

        // The second host's own secret of the same name is its own, and leaves the first's as it was.
        await other.CreateSecretAsync("db/orders", SecretType.Opaque, new Dictionary<string, string>(StringComparer.Ordinal) { ["password"] = "second" });
        Assert.Equal("first-host-only", (await one.GetSecretAsync("db/orders")).Data["password"]);
        Assert.Equal("second", (await other.GetSecretAsync("db/orders")).Data["password"]);
    }

    [Fact]
    public async Task Disposing_one_host_leaves_the_other_reading_writing_rotating_and_healthy()
    {
        var first = Start(_first);
        await using var second = Start(_second);
        var other = second.GetRequiredService<ITrousseau>();
        await first.GetRequiredService<ITrousseau>().CreateSecretAsync("first", SecretType.Opaque, Data);
        await other.CreateSecretAsync("kept", SecretType.Opaque, Data);
        var sealedBySecond = await other.EncryptAsync("x"u8.ToArray());
        await first.DisposeAsync();

        Assert.Equal("first-host-only", (await other.GetSecretAsync("kept")).Data["password"]);
        Assert.Equal("x"u8.ToArray(), await other.DecryptAsync(sealedBySecond.Ciphertext));
        await other.CreateSecretAsync("after", SecretType.Opaque, Data);
        var keys = second.GetRequiredService<IKeyAdministration>();
        var rotated = await keys.RotateKeyAsync();
        Assert.Equal(2L, (await keys.RewrapSecretsAsync()).Rewrapped);
        Assert.Equal(rotated.KeyId, (await keys.GetKeyStatusAsync()).KeyId);
        Assert.Equal(["after", "kept"], (await other.ListSecretsAsync().ToListAsync()).Select(s => s.Name));
        Assert.True((await second.GetRequiredService<ISecretStore>().CheckHealthAsync()).IsHealthy);
        Assert.True((await second.GetRequiredService<IKeyProvider>().CheckHealthAsync()).IsHealthy);
    }
}
