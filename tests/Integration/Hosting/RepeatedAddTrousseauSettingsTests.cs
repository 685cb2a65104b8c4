using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;
using Trousseau.Etcd;
using Trousseau.Hosting;
using Trousseau.Kms;
using Trousseau.Tests.Integration.Infrastructure;
using Trousseau.Sqlite;
using Trousseau.Vault;

namespace Trousseau.Tests.Integration.Hosting;

/// <summary>
/// An application that calls <c>AddTrousseau()</c> in one module and <c>AddTrousseau(section)</c> in another reads
/// each bad setting once, under the key of the section it gave, whichever call comes first.
/// </summary>
public sealed class RepeatedAddTrousseauSettingsTests
{
    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void A_bad_setting_is_reported_once_under_the_section_given_whichever_AddTrousseau_call_comes_first(bool sectionFirst)
    {
        var configuration = new ConfigurationBuilder().AddInMemoryCollection(new Dictionary<string, string?>
        {
            ["App:Secrets:DataKeys:MaxUses"] = "0",
            ["App:Secrets:Sqlite:Path"] = " ",
            ["App:Secrets:Etcd:Endpoints:0"] = "etcd-0",
        }).Build();
        var services = new ServiceCollection();
        if (sectionFirst)
        {
            AddEveryBackend(services.AddTrousseau(configuration.GetSection("App:Secrets")));
            AddEveryBackend(services.AddTrousseau());
        }
        else
        {
            AddEveryBackend(services.AddTrousseau());
            AddEveryBackend(services.AddTrousseau(configuration.GetSection("App:Secrets")));
        }

        using var provider = services.BuildServiceProvider();

        Assert.Equal(
            ["App:Secrets:DataKeys:MaxUses must be between 1 and 2147483648, not 0."],
            Failures<TrousseauOptions>(provider).Where(f => f.Contains("MaxUses", StringComparison.Ordinal)));
        Assert.Equal(
            ["App:Secrets:Sqlite:Path is ' '; it must be the path of the SQLite database file (for example /var/lib/trousseau/store.db)."],
            Failures<SqliteStoreOptions>(provider));
        Assert.Equal(
            ["App:Secrets:Local:KeyFile is not set; it must be the path of the local key ring file (for example /var/lib/trousseau/local.keyring)."],
            Failures<LocalKeyRingOptions>(provider));
        Assert.Equal(
            ["App:Secrets:Etcd:Endpoints holds 'etcd-0', which is not an http(s) URL such as http://127.0.0.1:2379."],
            Failures<EtcdStoreOptions>(provider));
        var vault = Failures<VaultOptions>(provider);
        Assert.Single(vault, f => f.StartsWith("App:Secrets:Vault:Address is required", StringComparison.Ordinal));
        Assert.All(vault, f => Assert.DoesNotContain("Trousseau:", f, StringComparison.Ordinal));
        Assert.Equal(vault.Distinct(), vault);
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void Backends_chosen_on_a_builder_without_a_section_bind_from_the_section_another_AddTrousseau_call_gave(bool sectionFirst)
    {
        var configuration = new ConfigurationBuilder().AddInMemoryCollection(new Dictionary<string, string?>
        {
            ["X:Sqlite:Path"] = "/data/x.db",
            ["X:Etcd:Prefix"] = "/x/",
            ["X:Vault:TransitMount"] = "x-transit",
            ["X:Local:KeyFile"] = "/data/x.keyring",
            ["X:Kms:Socket"] = "/run/x.sock",
            ["X:Api:AllowedHosts:0"] = "x.example",
            ["X:Audit:Path"] = "/data/x-audit.log",
            ["X:Worker:Interval"] = "00:01:07",
        }).Build();
        var services = WithEveryOptionBesideASection(configuration.GetSection("X"), sectionFirst);

        using var provider = services.BuildServiceProvider();

        Assert.Equal("/data/x.db", Bound<SqliteStoreOptions>(provider).Path);
        Assert.Equal("/x/", Bound<EtcdStoreOptions>(provider).Prefix);
        Assert.Equal("x-transit", Bound<VaultOptions>(provider).TransitMount);
        Assert.Equal("/data/x.keyring", Bound<LocalKeyRingOptions>(provider).KeyFile);
        Assert.Equal("/run/x.sock", Bound<KmsOptions>(provider).Socket);
        Assert.Equal(["x.example"], Bound<TrousseauApiOptions>(provider).AllowedHosts);
        Assert.Equal("/data/x-audit.log", Bound<TrousseauAuditOptions>(provider).Path);
        Assert.Equal(TimeSpan.FromSeconds(67), Bound<TrousseauWorkerOptions>(provider).Interval);
    }

    /// <summary>
    /// <c>AddTrousseau(section)</c> alone, and every backend and host option chosen on an <c>AddTrousseau()</c> without a
    /// section, called after it or before it.
    /// </summary>
    private static ServiceCollection WithEveryOptionBesideASection(IConfigurationSection section, bool sectionFirst)
    {
        var services = new ServiceCollection();
        if (sectionFirst)
        {
            services.AddTrousseau(section);
        }

        services.AddTrousseau().UseLocalKeyRing().UseSqliteStore().UseEtcdStore().UseVaultTransit().AddKmsPlugin().AddHttpApi().AddAuditTrail().AddWorker();
        if (!sectionFirst)
        {
            services.AddTrousseau(section);
        }

        return services;
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void Backends_chosen_only_on_a_builder_without_a_section_name_the_keys_of_the_section_given_whichever_call_comes_first(bool sectionFirst)
    {
        var configuration = new ConfigurationBuilder().AddInMemoryCollection(new Dictionary<string, string?>
        {
            ["App:Secrets:Sqlite:Path"] = " ",
            ["App:Secrets:Sqlite:BusyTimeout"] = "-00:00:01",
            ["App:Secrets:Etcd:Endpoints:0"] = "etcd-0",
            ["App:Secrets:Api:Auth:TokenFile"] = " ",
            ["App:Secrets:Vault:Address"] = "http://127.0.0.1:9",
            ["App:Secrets:Vault:Timeout"] = "00:00:00",
        }).Build();
        var services = WithEveryOptionBesideASection(configuration.GetSection("App:Secrets"), sectionFirst);

        using var provider = services.BuildServiceProvider();

        string[] failures =
        [
            .. Failures<SqliteStoreOptions>(provider), .. Failures<LocalKeyRingOptions>(provider), .. Failures<EtcdStoreOptions>(provider),
            .. Failures<KmsOptions>(provider), .. Failures<TrousseauApiOptions>(provider), .. Failures<VaultOptions>(provider),
        ];
        foreach (var key in new[] { "Sqlite:Path", "Sqlite:BusyTimeout", "Local:KeyFile", "Etcd:Endpoints", "Api:Auth:TokenFile", "Vault:Timeout" })
        {
            Assert.True(failures.Any(f => f.StartsWith($"App:Secrets:{key}", StringComparison.Ordinal)), $"no failure names App:Secrets:{key}:\n{string.Join('\n', failures)}");
        }

        Assert.All(failures, f => Assert.DoesNotContain("Trousseau:", f, StringComparison.Ordinal));
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void A_bad_worker_setting_is_reported_once_when_the_application_calls_both_AddWorker_and_AddTrousseauWorker(bool addWorkerFirst)
    {
        var configuration = new ConfigurationBuilder().AddInMemoryCollection(new Dictionary<string, string?>
        {
            ["App:Secrets:Worker:Interval"] = "00:00:00",
        }).Build();
        var services = new ServiceCollection();
        if (addWorkerFirst)
        {
            services.AddTrousseau(configuration.GetSection("App:Secrets")).UseInMemoryStore().AddWorker();
            services.AddTrousseauWorker();
        }
        else
        {
            services.AddTrousseauWorker();
            services.AddTrousseau(configuration.GetSection("App:Secrets")).UseInMemoryStore().AddWorker();
        }

        using var provider = services.BuildServiceProvider();

        Assert.Equal(
            ["App:Secrets:Worker:Interval is 00:00:00; it must be at least 00:00:00.1 and at most 1.00:00:00."],
            Failures<TrousseauWorkerOptions>(provider));
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task Vault_errors_at_run_time_name_the_keys_of_the_section_given_whichever_AddTrousseau_call_comes_first(bool sectionFirst)
    {
        using var directory = new TempDirectory();
        var tokenFile = directory.Combine("vault.token");
        await File.WriteAllTextAsync(tokenFile, "");
        var configuration = new ConfigurationBuilder().AddInMemoryCollection(new Dictionary<string, string?>
        {
            ["App:Secrets:Vault:Address"] = "http://127.0.0.1:9",
            ["App:Secrets:Vault:Auth:TokenFile"] = tokenFile,
        }).Build();
        var services = new ServiceCollection();
        if (sectionFirst)
        {
            services.AddTrousseau(configuration.GetSection("App:Secrets")).UseVaultTransit().UseInMemoryStore();
            services.AddTrousseau().UseVaultTransit();
        }
        else
        {
            services.AddTrousseau().UseVaultTransit();
            services.AddTrousseau(configuration.GetSection("App:Secrets")).UseVaultTransit().UseInMemoryStore();
        }

        await using var provider = services.BuildServiceProvider();

        var error = await Assert.ThrowsAnyAsync<TrousseauException>(() => provider.GetRequiredService<ITrousseau>().EncryptAsync("x"u8.ToArray()).AsTask());
        Assert.Equal($"App:Secrets:Vault:Auth:TokenFile '{tokenFile}' is empty; it must hold a Vault token.", error.Message);
    }

    private static void AddEveryBackend(ITrousseauBuilder builder) =>
        builder.UseLocalKeyRing().UseSqliteStore().UseEtcdStore().UseVaultTransit().UseInMemoryStore();

    private static TOptions Bound<TOptions>(IServiceProvider provider)
        where TOptions : class, new()
    {
        var options = new TOptions();
        foreach (var configure in provider.GetServices<IConfigureOptions<TOptions>>())
        {
            configure.Configure(options);
        }

        return options;
    }

    private static IReadOnlyList<string> Failures<TOptions>(IServiceProvider provider)
        where TOptions : class =>
        [.. Assert.Throws<OptionsValidationException>(() => provider.GetRequiredService<IOptions<TOptions>>().Value).Failures];
}
