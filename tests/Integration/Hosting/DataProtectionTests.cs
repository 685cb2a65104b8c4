using Microsoft.AspNetCore.DataProtection;
using Microsoft.Extensions.DependencyInjection;
using Trousseau.Tests.Integration.Infrastructure;
using Trousseau.Tests.Integration.Vault;

namespace Trousseau.Tests.Integration.Hosting;

/// <summary>ASP.NET Core Data Protection keys protected by Trousseau, across two application instances.</summary>
public sealed class DataProtectionTests(VaultFixture fixture) : IClassFixture<VaultFixture>, IDisposable
{
    private readonly TempDirectory _temp = new();
    private readonly VaultTarget _vault = fixture.ForNextTest();

    public void Dispose() => _temp.Dispose();

    [Fact]
    public async Task A_second_instance_unprotects_what_the_first_protected_and_key_files_hold_no_plaintext_key()
    {
        string protectedPayload;
        await using (var first = Build())
        {
            protectedPayload = first.GetRequiredService<IDataProtectionProvider>().CreateProtector("orders").Protect("cookie payload");
        }

        await using var second = Build();
        var unprotected = second.GetRequiredService<IDataProtectionProvider>().CreateProtector("orders").Unprotect(protectedPayload);

        Assert.Equal("cookie payload", unprotected);
        var keyFiles = Directory.GetFiles(_temp.Combine("keys"), "key-*.xml");
        Assert.NotEmpty(keyFiles);
        foreach (var file in keyFiles)
        {
            var xml = await File.ReadAllTextAsync(file);
            Assert.Contains("trousseauEncryptedKey", xml, StringComparison.Ordinal);
            Assert.DoesNotContain("masterKey", xml, StringComparison.Ordinal);
            Assert.DoesNotContain("unencrypted form", xml, StringComparison.Ordinal);
        }
    }

    [Fact]
    public async Task Another_key_ring_cannot_read_the_protected_keys()
    {
        string protectedPayload;
        await using (var first = Build())
        {
            protectedPayload = first.GetRequiredService<IDataProtectionProvider>().CreateProtector("orders").Protect("secret");
        }

        await using var stranger = Build(keyRing: _temp.Combine("other-ring.json"));

        Assert.ThrowsAny<System.Security.Cryptography.CryptographicException>(() => stranger.GetRequiredService<IDataProtectionProvider>().CreateProtector("orders").Unprotect(protectedPayload));
    }

    [Fact]
    public async Task With_the_key_provider_failing_protect_throws_and_no_new_key_replaces_the_unreadable_one()
    {
        string protectedPayload;
        await using (var first = Build())
        {
            protectedPayload = first.GetRequiredService<IDataProtectionProvider>().CreateProtector("orders").Protect("payload");
        }

        var keysBefore = Directory.GetFiles(_temp.Combine("keys"));
        var ring = await File.ReadAllBytesAsync(_temp.Combine("ring.json"));
        await File.WriteAllTextAsync(_temp.Combine("ring.json"), "{ not a key ring");
        await using (var broken = Build())
        {
            var protector = broken.GetRequiredService<IDataProtectionProvider>().CreateProtector("orders");

            Assert.ThrowsAny<System.Security.Cryptography.CryptographicException>(() => protector.Protect("payload"));
            Assert.Equal(keysBefore, Directory.GetFiles(_temp.Combine("keys")));
        }

        await File.WriteAllBytesAsync(_temp.Combine("ring.json"), ring);
        await using var restored = Build();
        Assert.Equal("payload", restored.GetRequiredService<IDataProtectionProvider>().CreateProtector("orders").Unprotect(protectedPayload));
    }

    [VaultTestServerFact]
    public async Task With_Vault_sealed_at_start_protect_and_unprotect_fail_with_its_reason_and_once_unsealed_the_same_app_serves_its_old_key_without_a_restart()
    {
        var server = _vault.RequireTestServer();
        var key = VaultTarget.UniqueKeyName();
        await _vault.CreateKeyAsync(key);
        string protectedPayload;
        await using (var first = Build(vaultKey: key))
        {
            protectedPayload = first.GetRequiredService<IDataProtectionProvider>().CreateProtector("orders").Protect("payload");
        }

        var keysBefore = Directory.GetFiles(_temp.Combine("keys"));
        server.Sealed = true;
        try
        {
            await using var app = Build(vaultKey: key);
            var protector = app.GetRequiredService<IDataProtectionProvider>().CreateProtector("orders");

            var unprotect = Assert.ThrowsAny<System.Security.Cryptography.CryptographicException>(() => protector.Unprotect(protectedPayload));
            Assert.Contains("sealed", Assert.IsType<DependencyUnavailableException>(unprotect.InnerException).Message, StringComparison.Ordinal);
            Assert.ThrowsAny<System.Security.Cryptography.CryptographicException>(() => protector.Protect("payload"));
            Assert.Equal(keysBefore, Directory.GetFiles(_temp.Combine("keys")));

            server.Sealed = false;

            await Eventually.ReturnsAsync(() => Task.FromResult(protector.Unprotect(protectedPayload)), unprotected => unprotected == "payload", transient: e => e is System.Security.Cryptography.CryptographicException);
            Assert.Equal("payload", protector.Unprotect(protector.Protect("payload")));
            Assert.Equal(keysBefore, Directory.GetFiles(_temp.Combine("keys")));
        }
        finally
        {
            server.Sealed = false;
        }
    }

    [VaultTestServerFact]
    public async Task With_Vault_sealed_at_start_a_protect_asks_Vault_once_and_not_again_for_each_retry_Data_Protection_makes()
    {
        var server = _vault.RequireTestServer();
        var key = VaultTarget.UniqueKeyName();
        await _vault.CreateKeyAsync(key);
        await using (var first = Build(vaultKey: key))
        {
            first.GetRequiredService<IDataProtectionProvider>().CreateProtector("orders").Protect("payload");
        }

        server.Sealed = true;
        try
        {
            await using var app = Build(vaultKey: key);
            var protector = app.GetRequiredService<IDataProtectionProvider>().CreateProtector("orders");
            var before = server.Requests.Count;

            Assert.ThrowsAny<System.Security.Cryptography.CryptographicException>(() => protector.Protect("payload"));

            // One Vault call with the client's own two retries; each call to a Vault that hangs costs Vault:Timeout.
            var calls = server.Requests.Count - before;
            Assert.True(calls <= 3, $"one protect made {calls} calls to a sealed Vault");
        }
        finally
        {
            server.Sealed = false;
        }
    }

    [Fact]
    public void Without_Trousseau_registered_and_without_a_host_Data_Protection_fails_at_first_use_naming_the_missing_call_and_writes_no_key()
    {
        var services = new ServiceCollection();
        services.AddLogging();
        services.AddDataProtection()
            .SetApplicationName("trousseau-tests")
            .PersistKeysToFileSystem(new DirectoryInfo(_temp.Combine("keys")))
            .ProtectKeysWithTrousseau();
        using var provider = services.BuildServiceProvider();

        var error = Assert.Throws<Microsoft.Extensions.Options.OptionsValidationException>(() => provider.GetRequiredService<IDataProtectionProvider>().CreateProtector("orders").Protect("payload"));

        Assert.Contains("ProtectKeysWithTrousseau needs Trousseau: call services.AddTrousseau(...)", Assert.Single(error.Failures), StringComparison.Ordinal);
        Assert.Empty(Directory.Exists(_temp.Combine("keys")) ? Directory.GetFiles(_temp.Combine("keys")) : []);
    }

    /// <summary>An application with the local key ring <paramref name="keyRing"/> (this test's own unless given), or the Vault Transit key <paramref name="vaultKey"/>.</summary>
    private ServiceProvider Build(string? keyRing = null, string? vaultKey = null)
    {
        var services = new ServiceCollection();
        services.AddLogging();
        var trousseau = services.AddTrousseau(_ => { }).UseInMemoryStore();
        if (vaultKey is null)
        {
            trousseau.UseLocalKeyRing(ring => ring.KeyFile = keyRing ?? _temp.Combine("ring.json"));
        }
        else
        {
            trousseau.UseVaultTransit(o =>
            {
                o.Address = _vault.Address;
                o.KeyName = vaultKey;
                o.Auth.Token = _vault.Token;
            });
        }

        services.AddDataProtection()
            .SetApplicationName("trousseau-tests")
            .PersistKeysToFileSystem(new DirectoryInfo(_temp.Combine("keys")))
            .ProtectKeysWithTrousseau();
        return services.BuildServiceProvider();
    }
}
