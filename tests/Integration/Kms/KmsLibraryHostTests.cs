using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;
using Trousseau.Kms;

namespace Trousseau.Tests.Integration.Kms;

/// <summary>An application that hosts the KMS plugin itself, over Vault Transit, gets the checks trousseaud gets.</summary>
public sealed class KmsLibraryHostTests
{
    [Fact]
    public void A_vault_timeout_longer_than_the_kms_provider_timeout_stops_the_start_naming_the_applications_keys()
    {
        using var services = Host(vaultTimeout: "00:00:05", providerTimeout: "00:00:02");

        var refused = Assert.Throws<OptionsValidationException>(() => services.GetRequiredService<IOptions<KmsOptions>>().Value);

        Assert.Contains(
            "App:Secrets:Vault:Timeout is 00:00:05, more than App:Secrets:Kms:ProviderTimeout (00:00:02): a KMS call would give up while the key provider's retries still run.",
            refused.Message,
            StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("00:00:02", "00:00:02")]
    [InlineData("00:00:02", "00:00:05")]
    public void A_vault_timeout_within_the_kms_provider_timeout_starts(string vaultTimeout, string providerTimeout)
    {
        using var services = Host(vaultTimeout, providerTimeout);

        Assert.Equal(TimeSpan.Parse(providerTimeout, System.Globalization.CultureInfo.InvariantCulture), services.GetRequiredService<IOptions<KmsOptions>>().Value.ProviderTimeout);
    }

    private static ServiceProvider Host(string vaultTimeout, string providerTimeout)
    {
        var configuration = new ConfigurationBuilder().AddInMemoryCollection(new Dictionary<string, string?>
        {
            ["App:Secrets:KeyProvider"] = "vault",
            ["App:Secrets:Vault:Address"] = "http://127.0.0.1:8200",
            ["App:Secrets:Vault:Auth:Token"] = "not-used-here",
            ["App:Secrets:Vault:Timeout"] = vaultTimeout,
            ["App:Secrets:Kms:Socket"] = "/run/kms/plugin.sock",
            ["App:Secrets:Kms:ProviderTimeout"] = providerTimeout,
        }).Build();
        var services = new ServiceCollection();
        services.AddLogging();
        services.AddTrousseau(configuration.GetSection("App:Secrets")).UseInMemoryStore().UseVaultTransit().AddKmsPlugin();
        return services.BuildServiceProvider();
    }
}
