using Microsoft.Extensions.DependencyInjection;
using Trousseau.Tests.Unit.Support;

namespace Trousseau.Tests.Unit.Lifetime;

/// <summary>
/// <see cref="ITrousseau"/> and <see cref="IKeyAdministration"/> kept by an application after the service provider
/// (the host) that made them was disposed, with the local key ring and SQLite as an application configures them.
/// </summary>
public sealed class DisposedServicesTests : IDisposable
{
    private const string Disposed = "has been disposed: the service provider (host) that made it has stopped";

    private readonly TempDirectory _directory = new();

    public void Dispose() => _directory.Dispose();

    private ServiceProvider Start()
    {
        var services = new ServiceCollection();
        services.AddTrousseau(_ => { })
            .UseLocalKeyRing(ring => ring.KeyFile = _directory.Combine("ring.json"))
            .UseSqliteStore(sqlite => sqlite.Path = _directory.Combine("store.db"));
        return services.BuildServiceProvider();
    }

    /// <summary>The library on this test's key ring, through a <see cref="HeldKeyProvider"/> that can hold a wrap or an unwrap.</summary>
    private ServiceProvider StartHeld()
    {
        var services = new ServiceCollection();
        services.AddSingleton(sp => new HeldKeyProvider(sp.GetRequiredService<LocalKeyRingProvider>()));
        services.AddTrousseau(o => o.KeyProvider = "held")
            .UseLocalKeyRing(ring => ring.KeyFile = _directory.Combine("ring.json"))
            .AddKeyProvider("held", sp => sp.GetRequiredService<HeldKeyProvider>())
            .UseInMemoryStore();
        return services.BuildServiceProvider();
    }

    [Fact]
    public async Task Every_call_after_the_provider_is_disposed_throws_ObjectDisposedException_saying_the_host_stopped()
    {
        var services = Start();
        var trousseau = services.GetRequiredService<ITrousseau>();
        var keys = services.GetRequiredService<IKeyAdministration>();
        var data = new Dictionary<string, string>(StringComparer.Ordinal) { ["k"] = "v" };
        await trousseau.CreateSecretAsync("kept", SecretType.Opaque, data);
        var encrypted = await trousseau.EncryptAsync("x"u8.ToArray());
        services.Dispose();

        var calls = new Func<Task>[]
        {
            async () => await trousseau.EncryptAsync("x"u8.ToArray()),
            async () => await trousseau.DecryptAsync(encrypted.Ciphertext),
            async () => await trousseau.CreateSecretAsync("new", SecretType.Opaque, data),
            async () => await trousseau.GenerateSecretAsync("generated"),
            async () => await trousseau.GetSecretAsync("kept"),
            async () => await trousseau.UpdateSecretAsync("kept", data),
            async () => await trousseau.PatchSecretAsync("kept", new Dictionary<string, string?>(StringComparer.Ordinal) { ["k"] = "p" }),
            async () => await trousseau.RegenerateSecretAsync("kept"),
            async () => await trousseau.DeleteSecretAsync("kept"),
            async () => await trousseau.ListSecretsPageAsync(),
            async () => await trousseau.ListSecretsAsync().ToListAsync(),
            async () => await keys.GetKeyStatusAsync(),
            async () => await keys.RotateKeyAsync(),
            async () => await keys.RewrapSecretsAsync(),
        };

        foreach (var call in calls)
        {
            var error = await Assert.ThrowsAsync<ObjectDisposedException>(call);
            Assert.Contains(Disposed, error.Message, StringComparison.Ordinal);
        }
    }

    [Fact]
    public async Task A_rotation_asked_of_a_disposed_provider_leaves_the_key_ring_file_as_it_was()
    {
        string keyId;
        IKeyAdministration stale;
        IKeyProvider staleProvider;
        using (var first = Start())
        {
            stale = first.GetRequiredService<IKeyAdministration>();
            staleProvider = first.GetRequiredService<IKeyProvider>();
            keyId = (await stale.GetKeyStatusAsync()).KeyId;
        }

        await Assert.ThrowsAsync<ObjectDisposedException>(async () => await stale.RotateKeyAsync());
        var fromProvider = await Assert.ThrowsAsync<ObjectDisposedException>(async () => await staleProvider.RotateAsync());
        Assert.Contains("has been disposed", fromProvider.Message, StringComparison.Ordinal);

        using var second = Start();
        Assert.Equal(keyId, (await second.GetRequiredService<IKeyAdministration>().GetKeyStatusAsync()).KeyId);
    }

    [Fact]
    public async Task An_encrypt_waiting_behind_a_data_key_being_made_ends_when_the_provider_is_disposed_meanwhile()
    {
        var provider = StartHeld();
        var trousseau = provider.GetRequiredService<ITrousseau>();
        var held = provider.GetRequiredService<HeldKeyProvider>();

        var wrapping = held.HoldNextWrap();
        var first = trousseau.EncryptAsync("first"u8.ToArray()).AsTask();
        await wrapping;
        var second = trousseau.EncryptAsync("second"u8.ToArray()).AsTask();
        provider.Dispose();
        held.ReleaseWrap();

        // Neither waits forever: the first, whose wrap answered after the provider went, and the second, waiting behind
        // it for the lock, are both told the provider went.
        foreach (var call in new[] { first, second })
        {
            var error = await Assert.ThrowsAsync<ObjectDisposedException>(() => call);
            Assert.Contains(Disposed, error.Message, StringComparison.Ordinal);
        }
    }

    [Fact]
    public async Task A_decrypt_waiting_for_its_data_key_unwrap_ends_when_the_provider_is_disposed_meanwhile()
    {
        EncryptResult sealedElsewhere;
        using (var first = Start())
        {
            sealedElsewhere = await first.GetRequiredService<ITrousseau>().EncryptAsync("sealed before"u8.ToArray());
        }

        var provider = StartHeld();
        var trousseau = provider.GetRequiredService<ITrousseau>();
        var held = provider.GetRequiredService<HeldKeyProvider>();

        var unwrapping = held.HoldNextUnwrap();
        var read = trousseau.DecryptAsync(sealedElsewhere.Ciphertext).AsTask();
        await unwrapping;
        provider.Dispose();
        held.ReleaseUnwrap();

        // The key the provider unwrapped after the host stopped is neither used nor kept: the read is told the host went.
        var error = await Assert.ThrowsAsync<ObjectDisposedException>(() => read);
        Assert.Contains(Disposed, error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_disposed_SQLite_store_answers_no_read_from_memory_and_writes_nothing()
    {
        var path = _directory.Combine("direct.db");
        var store = new Trousseau.Sqlite.SqliteSecretStore(Microsoft.Extensions.Options.Options.Create(new Trousseau.Sqlite.SqliteStoreOptions { Path = path }));
        var revision = await store.CreateAsync("kept", "v1"u8.ToArray());
        Assert.NotNull(await store.GetAsync("kept"));
        store.Dispose();

        var calls = new Func<Task>[]
        {
            async () => await store.GetAsync("kept"),
            async () => await store.ListAsync("", null, 10),
            async () => await store.UpdateAsync("kept", "v2"u8.ToArray(), revision),
            async () => await store.CreateAsync("new", "v"u8.ToArray()),
            async () => await store.DeleteAsync("kept"),
        };
        foreach (var call in calls)
        {
            var error = await Assert.ThrowsAsync<ObjectDisposedException>(call);
            Assert.Contains($"The SQLite store '{path}' has been disposed", error.Message, StringComparison.Ordinal);
        }
    }

    [Fact]
    public async Task A_disposed_SQLite_store_reports_no_health_and_opens_no_file_for_it()
    {
        var path = _directory.Combine("health.db");
        var store = new Trousseau.Sqlite.SqliteSecretStore(Microsoft.Extensions.Options.Options.Create(new Trousseau.Sqlite.SqliteStoreOptions { Path = path }));
        await store.CreateAsync("kept", "v1"u8.ToArray());
        Assert.True((await store.CheckHealthAsync()).IsHealthy);
        store.Dispose();

        var error = await Assert.ThrowsAsync<ObjectDisposedException>(async () => await store.CheckHealthAsync());
        Assert.Contains($"The SQLite store '{path}' has been disposed", error.Message, StringComparison.Ordinal);

        // The file is free for the store that takes it over: the disposed one's health check took back no lock.
        using var next = new Trousseau.Sqlite.SqliteSecretStore(Microsoft.Extensions.Options.Options.Create(new Trousseau.Sqlite.SqliteStoreOptions { Path = path }));
        Assert.True((await next.CheckHealthAsync()).IsHealthy);
        Assert.NotNull(await next.GetAsync("kept"));
    }
}
