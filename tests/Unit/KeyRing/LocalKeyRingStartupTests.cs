using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;
using Trousseau.Tests.Unit.Support;

namespace Trousseau.Tests.Unit.KeyRing;

/// <summary>
/// The key ring check an application's host runs at start (<see cref="IStartupValidator"/>, as
/// <c>Host.StartAsync</c> does): a lost key ring is never replaced by a new one while stored secrets need it.
/// </summary>
public sealed class LocalKeyRingStartupTests : IDisposable
{
    private readonly TempDirectory _directory = new();

    private string KeyFile => _directory.Combine("local.keyring");

    public void Dispose() => _directory.Dispose();

    [Fact]
    public async Task A_missing_key_file_while_the_store_holds_secrets_sealed_under_it_fails_the_start_naming_the_setting_and_the_file()
    {
        await using (var first = Services())
        {
            first.GetRequiredService<IStartupValidator>().Validate();
            await first.GetRequiredService<ITrousseau>().CreateSecretAsync("app/db", SecretType.Opaque, new Dictionary<string, string> { ["password"] = "hunter2" });
        }

        File.Delete(KeyFile);
        await using var second = Services();
        var error = Assert.Throws<OptionsValidationException>(() => second.GetRequiredService<IStartupValidator>().Validate());

        Assert.StartsWith($"Trousseau:Local:KeyFile is '{KeyFile}', which does not exist, but the store holds secrets sealed under local key ring key 'local-", error.Message, StringComparison.Ordinal);
        Assert.Contains("(secret 'app/db', for one)", error.Message, StringComparison.Ordinal);
        Assert.False(File.Exists(KeyFile));
    }

    [Fact]
    public async Task A_missing_key_file_with_an_empty_store_is_created_on_first_use()
    {
        await using var services = Services();

        services.GetRequiredService<IStartupValidator>().Validate();
        await services.GetRequiredService<ITrousseau>().CreateSecretAsync("app/db", SecretType.Opaque, new Dictionary<string, string> { ["k"] = "v" });

        Assert.True(File.Exists(KeyFile));
    }

    [Fact]
    public async Task A_damaged_key_file_fails_the_start_naming_the_file()
    {
        await using (var first = Services())
        {
            await first.GetRequiredService<IKeyProvider>().GetCurrentKeyAsync();
        }

        await File.WriteAllTextAsync(KeyFile, (await File.ReadAllTextAsync(KeyFile)).Replace("\"latestVersion\": 1", "\"latestVersion\": 2", StringComparison.Ordinal));
        await using var second = Services();
        var error = Assert.Throws<DependencyUnavailableException>(() => second.GetRequiredService<IStartupValidator>().Validate());

        Assert.Equal($"The local key ring '{KeyFile}' cannot be used: key version 2 was issued but the file holds key version 1 only: it was damaged or edited; restore it from a backup", error.Message);
    }

    private ServiceProvider Services()
    {
        var services = new ServiceCollection();
        services.AddTrousseau(_ => { })
            .UseLocalKeyRing(ring => ring.KeyFile = KeyFile)
            .UseSqliteStore(store => store.Path = _directory.Combine("store.db"));
        return services.BuildServiceProvider(new ServiceProviderOptions { ValidateOnBuild = true, ValidateScopes = true });
    }
}
