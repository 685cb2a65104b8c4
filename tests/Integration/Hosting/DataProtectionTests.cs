using Microsoft.AspNetCore.DataProtection;
using Microsoft.Extensions.DependencyInjection;
using Trousseau.Tests.Integration.Infrastructure;

namespace Trousseau.Tests.Integration.Hosting;

/// <summary>ASP.NET Core Data Protection keys protected by Trousseau, across two application instances.</summary>
public sealed class DataProtectionTests : IDisposable
{
    private readonly TempDirectory _temp = new();

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

    private ServiceProvider Build(string? keyRing = null)
    {
        var services = new ServiceCollection();
        services.AddLogging();
        services.AddTrousseau(_ => { })
            .UseLocalKeyRing(ring => ring.KeyFile = keyRing ?? _temp.Combine("ring.json"))
            .UseInMemoryStore();
        services.AddDataProtection()
            .SetApplicationName("trousseau-tests")
            .PersistKeysToFileSystem(new DirectoryInfo(_temp.Combine("keys")))
            .ProtectKeysWithTrousseau();
        return services.BuildServiceProvider();
    }
}
