using System.Text.Json;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Trousseau.Tests.Integration.Infrastructure;
using Trousseau.Vault;

namespace Trousseau.Tests.Integration.Vault;

/// <summary>
/// trousseaud keeps its secrets through what operators change around a Vault Transit key: how Vault's address or
/// the mount is written, versions Vault archives, and key ids written by the previous release.
/// </summary>
public sealed class VaultKeyIdentityTests(VaultFixture fixture) : IClassFixture<VaultFixture>, IDisposable
{
    private readonly TempDirectory _temp = new();
    private readonly string _keyName = VaultTarget.UniqueKeyName();

    private VaultTarget Vault => fixture.Vault;

    private string DataDir => _temp.Combine("data");

    public void Dispose() => _temp.Dispose();

    [Fact]
    public async Task A_secret_reads_back_and_the_key_id_stays_after_restarting_with_the_vault_address_spelled_another_way()
    {
        await Vault.CreateKeyAsync(_keyName);
        string keyId;
        await using (var first = await StartAsync(Vault.Address))
        {
            var clectl = ClectlRunner.For(first, DataDir, _temp.Path);
            Assert.Equal(0, (await clectl.RunAsync("secret", "create", "respelled/db", "--from-literal", "password=p-1")).ExitCode);
            keyId = await KeyIdAsync(clectl);
            await first.StopAsync();
        }

        await using var second = await StartAsync(await Vault.AlternateAddressAsync());
        var again = ClectlRunner.For(second, DataDir, _temp.Path);
        var read = await again.RunAsync("secret", "get", "respelled/db", "--key", "password");

        Assert.True(read.ExitCode == 0, read.Stderr);
        Assert.Equal("p-1", read.Stdout);
        Assert.Equal(keyId, await KeyIdAsync(again));
    }

    [Fact]
    public async Task A_secret_reads_back_and_the_key_id_stays_after_restarting_with_slashes_around_the_transit_mount()
    {
        await Vault.CreateKeyAsync(_keyName);
        string keyId;
        await using (var first = await StartAsync(Vault.Address))
        {
            var clectl = ClectlRunner.For(first, DataDir, _temp.Path);
            Assert.Equal(0, (await clectl.RunAsync("secret", "create", "mounted/db", "--from-literal", "password=p-2")).ExitCode);
            keyId = await KeyIdAsync(clectl);
            await first.StopAsync();
        }

        foreach (var mount in new[] { "transit/", "/transit/" })
        {
            await using var restarted = await StartAsync(Vault.Address, mount);
            var again = ClectlRunner.For(restarted, DataDir, _temp.Path);
            var read = await again.RunAsync("secret", "get", "mounted/db", "--key", "password");

            Assert.True(read.ExitCode == 0, $"{mount}: {read.Stderr}");
            Assert.Equal("p-2", read.Stdout);
            Assert.Equal(keyId, await KeyIdAsync(again));
            await restarted.StopAsync();
        }
    }

    [Fact]
    public async Task Archiving_version_1_with_min_decryption_version_changes_no_key_id_and_keeps_rewrapped_secrets_readable()
    {
        await Vault.CreateKeyAsync(_keyName);
        string keyId;
        await using (var first = await StartAsync(Vault.Address))
        {
            var clectl = ClectlRunner.For(first, DataDir, _temp.Path);
            Assert.Equal(0, (await clectl.RunAsync("secret", "create", "archived/a", "--from-literal", "k=a")).ExitCode);
            Assert.Equal(0, (await clectl.RunAsync("key", "rotate")).ExitCode);
            Assert.Equal(0, (await clectl.RunAsync("key", "rewrap")).ExitCode);
            Assert.Equal(0, (await clectl.RunAsync("secret", "create", "archived/b", "--from-literal", "k=b")).ExitCode);
            keyId = await KeyIdAsync(clectl);
            await first.StopAsync();
        }

        // Vault now archives version 1: its read-key answer lists versions 2 and up only.
        await Vault.ConfigureKeyAsync(_keyName, new Dictionary<string, string> { ["min_decryption_version"] = "2" });
        var listed = await Vault.ReadKeyAsync(_keyName);
        await using var restarted = await StartAsync(Vault.Address);
        var again = ClectlRunner.For(restarted, DataDir, _temp.Path);
        var a = await again.RunAsync("secret", "get", "archived/a", "--key", "k");
        var b = await again.RunAsync("secret", "get", "archived/b", "--key", "k");

        Assert.False(listed.GetProperty("keys").TryGetProperty("1", out _), listed.ToString());
        Assert.True(a.ExitCode == 0, a.Stderr);
        Assert.Equal("a", a.Stdout);
        Assert.True(b.ExitCode == 0, b.Stderr);
        Assert.Equal("b", b.Stdout);
        Assert.Equal(keyId, await KeyIdAsync(again));
    }

    [Fact]
    public async Task A_secret_stored_under_the_previous_releases_key_id_reads_back_and_rewrap_moves_it_to_the_current_key_id()
    {
        await Vault.CreateKeyAsync(_keyName);
        var key = await Vault.ReadKeyAsync(_keyName);
        await WriteAsPreviousReleaseAsync("legacy/db", "password", "from-the-previous-release", key);

        // The worker's rewrap at start would move the secret first: this test is about the operator's rewrap.
        await using var server = await StartAsync(await Vault.AlternateAddressAsync(), "transit/", "--Trousseau:Worker:RewrapAfterRotation=false");
        var clectl = ClectlRunner.For(server, DataDir, _temp.Path);
        var read = await clectl.RunAsync("secret", "get", "legacy/db", "--key", "password");
        var rewrap = await clectl.RunAsync("key", "rewrap", "-o", "json");
        var again = await clectl.RunAsync("key", "rewrap", "-o", "json");
        var reread = await clectl.RunAsync("secret", "get", "legacy/db", "--key", "password");

        Assert.True(read.ExitCode == 0, read.Stderr);
        Assert.Equal("from-the-previous-release", read.Stdout);
        Assert.True(rewrap.ExitCode == 0, rewrap.Stderr);
        Assert.Equal(1, Rewrapped(rewrap));
        Assert.Equal(0, Rewrapped(again));
        Assert.Equal("from-the-previous-release", reread.Stdout);
    }

    /// <summary>Stores a secret in the data directory's SQLite store exactly as the previous release wrote it.</summary>
    private async Task WriteAsPreviousReleaseAsync(string name, string dataKey, string value, JsonElement key)
    {
        var services = new ServiceCollection();
        services.AddTrousseau(_ => { })
            .UseVaultTransit(o =>
            {
                o.Address = Vault.Address;
                o.KeyName = _keyName;
                o.Auth.Token = Vault.Token;
            })
            .UseSqliteStore(o => o.Path = Path.Combine(DataDir, "store.db"));
        services.Replace(ServiceDescriptor.Singleton<IKeyProvider>(sp => new PreviousReleaseVaultKeyProvider(
            sp.GetRequiredService<VaultTransitKeyProvider>(),
            version => PreviousVaultKeyIds.For(Vault.Address, null, "transit", _keyName, key, version))));
        Directory.CreateDirectory(DataDir);
        await using var provider = services.BuildServiceProvider();
        await provider.GetRequiredService<ITrousseau>().CreateSecretAsync(name, SecretType.Opaque, new Dictionary<string, string> { [dataKey] = value });
    }

    private async Task<TrousseauServerProcess> StartAsync(Uri address, string mount = "transit", params string[] settings)
    {
        var tokenFile = _temp.Combine("vault-token");
        await File.WriteAllTextAsync(tokenFile, Vault.Token);
        return await TrousseauServerProcess.StartAsync(DataDir,
        [
            "--Trousseau:KeyProvider=vault",
            $"--Trousseau:Vault:Address={address}",
            $"--Trousseau:Vault:TransitMount={mount}",
            $"--Trousseau:Vault:KeyName={_keyName}",
            $"--Trousseau:Vault:Auth:TokenFile={tokenFile}",
            "--Trousseau:Kms:Enabled=false",
            .. settings,
        ]);
    }

    private static async Task<string> KeyIdAsync(ClectlRunner clectl)
    {
        var status = await clectl.RunAsync("key", "status", "-o", "json");
        Assert.True(status.ExitCode == 0, status.Stderr);
        using var json = JsonDocument.Parse(status.Stdout);
        return json.RootElement.GetProperty("keyId").GetString()!;
    }

    private static long Rewrapped(ProcessResult result)
    {
        using var json = JsonDocument.Parse(result.Stdout);
        return json.RootElement.GetProperty("rewrapped").GetInt64();
    }
}
