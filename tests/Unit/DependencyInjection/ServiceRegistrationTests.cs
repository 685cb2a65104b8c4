using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Trousseau.Envelope;
using Trousseau.Sqlite;
using Trousseau.Tests.Unit.Support;

namespace Trousseau.Tests.Unit.DependencyInjection;

public sealed class ServiceRegistrationTests : IDisposable
{
    private readonly TempDirectory _directory = new();

    public void Dispose() => _directory.Dispose();

    private static IConfigurationSection Section(params (string Key, string Value)[] settings) =>
        new ConfigurationBuilder()
            .AddInMemoryCollection(settings.Select(s => KeyValuePair.Create<string, string?>(s.Key, s.Value)))
            .Build()
            .GetSection("Trousseau");

    private ServiceCollection EmbeddedDefault(IConfigurationSection section)
    {
        var services = new ServiceCollection();
        services.AddTrousseau(section)
            .UseLocalKeyRing(ring => ring.KeyFile = _directory.Combine("ring.json"))
            .UseSqliteStore(store => store.Path = _directory.Combine("secrets.db"))
            .UseInMemoryStore();
        return services;
    }

    [Fact]
    public async Task Every_registered_service_resolves()
    {
        var services = EmbeddedDefault(Section(("Trousseau:Store", "sqlite")));
        await using var provider = services.BuildServiceProvider(new ServiceProviderOptions { ValidateOnBuild = true, ValidateScopes = true });

        foreach (var descriptor in services.Where(d => !d.ServiceType.IsGenericTypeDefinition))
        {
            Assert.NotEmpty(provider.GetServices(descriptor.ServiceType).OfType<object>());
        }

        Assert.IsType<SqliteSecretStore>(provider.GetRequiredService<ISecretStore>());
        Assert.IsType<LocalKeyRingProvider>(provider.GetRequiredService<IKeyProvider>());
    }

    [Fact]
    public async Task Adding_trousseau_before_logging_leaves_every_logger_of_the_application_working()
    {
        var services = EmbeddedDefault(Section(("Trousseau:Store", "sqlite")));
        services.AddLogging(logging => logging.AddFakeLogging());
        await using var provider = services.BuildServiceProvider();

        provider.GetRequiredService<ILogger<ServiceRegistrationTests>>().Log(LogLevel.Warning, default, "the application's own line", null, (line, _) => line);
        await provider.GetRequiredService<ITrousseau>().CreateSecretAsync("app/key", SecretType.Opaque, new Dictionary<string, string> { ["k"] = "v" });
        var written = provider.GetFakeLogCollector().GetSnapshot().Select(r => r.Message).ToList();

        Assert.Contains("the application's own line", written);
        Assert.Contains(written, line => line.StartsWith("Created local key ring", StringComparison.Ordinal));
    }

    [Fact]
    public async Task Trousseau_works_without_any_logging_registered()
    {
        await using var provider = EmbeddedDefault(Section(("Trousseau:Store", "sqlite"))).BuildServiceProvider();

        var trousseau = provider.GetRequiredService<ITrousseau>();
        await trousseau.CreateSecretAsync("app/key", SecretType.Opaque, new Dictionary<string, string> { ["k"] = "v" });

        Assert.Equal("v", (await trousseau.GetSecretAsync("app/key")).Data["k"]);
        Assert.Null(provider.GetService<ILoggerFactory>());
    }

    [Fact]
    public async Task The_configured_store_is_the_one_used()
    {
        await using var provider = EmbeddedDefault(Section(("Trousseau:Store", "memory"))).BuildServiceProvider();

        Assert.IsType<InMemorySecretStore>(provider.GetRequiredService<ISecretStore>());
    }

    [Fact]
    public async Task Two_stores_without_a_choice_name_the_key_to_set()
    {
        await using var provider = EmbeddedDefault(Section()).BuildServiceProvider();

        var error = Assert.Throws<OptionsValidationException>(() => provider.GetRequiredService<ITrousseau>());

        Assert.Contains("Trousseau:Store must name the store to use: one of sqlite, memory.", error.Failures);
    }

    [Fact]
    public async Task Without_a_backend_the_error_names_each_call_that_adds_one_and_its_package()
    {
        var services = new ServiceCollection();
        services.AddTrousseau(_ => { });
        await using var provider = services.BuildServiceProvider();

        var error = Assert.Throws<OptionsValidationException>(() => provider.GetRequiredService<ITrousseau>());

        Assert.Contains(
            "No key provider is registered: call UseLocalKeyRing() or UseVaultTransit() (package Trousseau.Vault) on the Trousseau builder.",
            error.Failures);
        Assert.Contains(
            "No store is registered: call UseSqliteStore() (package Trousseau.Sqlite), UseEtcdStore() (package Trousseau.Etcd) or UseInMemoryStore() on the Trousseau builder.",
            error.Failures);
    }

    [Fact]
    public async Task An_unknown_backend_is_named_with_its_key_and_the_choices_at_start()
    {
        await using var provider = EmbeddedDefault(Section(("Trousseau:Store", "redis"), ("Trousseau:KeyProvider", "kms"))).BuildServiceProvider();

        var error = Assert.Throws<OptionsValidationException>(() => provider.GetRequiredService<IStartupValidator>().Validate());

        Assert.Contains("Trousseau:Store is 'redis', which is not an available store: use one of sqlite, memory (case-insensitive).", error.Failures);
        Assert.Contains("Trousseau:KeyProvider is 'kms', which is not an available key provider: use one of local (case-insensitive).", error.Failures);
    }

    [Theory]
    [InlineData("Trousseau:DataKeys:MaxUses", "0")]
    [InlineData("Trousseau:DataKeys:MaxAge", "-00:01:00")]
    [InlineData("Trousseau:DataKeys:CacheSize", "0")]
    [InlineData("Trousseau:DataKeys:CacheTimeToLive", "00:00:00")]
    public async Task Out_of_range_data_key_settings_are_named(string key, string value)
    {
        await using var provider = EmbeddedDefault(Section(("Trousseau:Store", "memory"), (key, value))).BuildServiceProvider();

        var error = Assert.Throws<OptionsValidationException>(() => provider.GetRequiredService<IOptions<TrousseauOptions>>().Value);

        var failure = Assert.Single(error.Failures);
        Assert.StartsWith(key + " must ", failure, StringComparison.Ordinal);
        Assert.EndsWith($", not {value}.", failure, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Data_key_settings_set_to_null_in_code_are_named()
    {
        var services = new ServiceCollection();
        services.AddTrousseau(options => options.DataKeys = null!).UseLocalKeyRing(ring => ring.KeyFile = _directory.Combine("ring.json")).UseInMemoryStore();
        await using var provider = services.BuildServiceProvider();

        var error = Assert.Throws<OptionsValidationException>(() => provider.GetRequiredService<IOptions<TrousseauOptions>>().Value);

        Assert.Equal("Trousseau:DataKeys is not set; it must hold the data-key settings.", Assert.Single(error.Failures));
    }

    [Fact]
    public async Task A_bad_backend_setting_is_reported_once_with_its_full_key_the_value_given_and_what_is_valid()
    {
        var services = new ServiceCollection();
        var section = Section(("Trousseau:Sqlite:Path", " "), ("Trousseau:Sqlite:BusyTimeout", "00:10:01"));
        services.AddTrousseau(section).UseLocalKeyRing(ring => ring.KeyFile = _directory.Combine("ring.json")).UseSqliteStore();
        services.AddTrousseau(section).UseLocalKeyRing().UseSqliteStore();
        await using var provider = services.BuildServiceProvider();

        var error = Assert.Throws<OptionsValidationException>(() => provider.GetRequiredService<IOptions<SqliteStoreOptions>>().Value);

        Assert.Equal(
            [
                "Trousseau:Sqlite:Path is ' '; it must be the path of the SQLite database file (for example /var/lib/trousseau/store.db).",
                "Trousseau:Sqlite:BusyTimeout is 00:10:01; it must be above 00:00:00 and at most 00:10:00.",
            ],
            error.Failures);
    }

    [Fact]
    public async Task A_missing_key_ring_path_says_it_is_not_set()
    {
        var services = new ServiceCollection();
        services.AddTrousseau(Section()).UseLocalKeyRing().UseInMemoryStore();
        await using var provider = services.BuildServiceProvider();

        var error = Assert.Throws<OptionsValidationException>(() => provider.GetRequiredService<IOptions<LocalKeyRingOptions>>().Value);

        Assert.Equal(
            "Trousseau:Local:KeyFile is not set; it must be the path of the local key ring file (for example /var/lib/trousseau/local.keyring).",
            Assert.Single(error.Failures));
    }

    [Fact]
    public void Each_options_validator_is_registered_once_however_often_the_builder_methods_are_called()
    {
        var services = EmbeddedDefault(Section(("Trousseau:Store", "sqlite")));
        services.AddTrousseau(Section()).UseLocalKeyRing().UseSqliteStore().UseInMemoryStore();

        var validators = services.Where(d => d.ServiceType.IsGenericType && d.ServiceType.GetGenericTypeDefinition() == typeof(IValidateOptions<>))
            .Select(d => (d.ServiceType, Implementation: d.ImplementationType ?? d.ImplementationInstance?.GetType() ?? d.ImplementationFactory!.Method.ReturnType))
            .ToList();

        Assert.Equal(validators.Distinct().Count(), validators.Count);
        Assert.Single(validators, v => v.ServiceType == typeof(IValidateOptions<TrousseauOptions>));
        Assert.Single(validators, v => v.ServiceType == typeof(IValidateOptions<BackendChoice>));
        Assert.Equal(2, validators.Count(v => v.ServiceType == typeof(IValidateOptions<LocalKeyRingOptions>)));
        Assert.Equal(2, validators.Count(v => v.ServiceType == typeof(IValidateOptions<SqliteStoreOptions>)));
    }

    [Fact]
    public void AddTrousseau_again_with_another_section_fails_at_once_naming_both_and_registers_nothing()
    {
        var configuration = new ConfigurationBuilder().AddInMemoryCollection(new Dictionary<string, string?>
        {
            ["Trousseau:Store"] = "sqlite",
            ["App:Secrets:Store"] = "memory",
        }).Build();
        var services = EmbeddedDefault(configuration.GetSection("Trousseau"));
        var registered = services.Count;

        var error = Assert.Throws<InvalidOperationException>(() => services.AddTrousseau(configuration.GetSection("App:Secrets")));

        Assert.Contains("'App:Secrets'", error.Message, StringComparison.Ordinal);
        Assert.Contains("'Trousseau'", error.Message, StringComparison.Ordinal);
        Assert.Equal(registered, services.Count);
    }

    [Fact]
    public async Task AddTrousseau_twice_with_the_same_section_and_logging_works_as_one_registration()
    {
        var configuration = new ConfigurationBuilder().AddInMemoryCollection(new Dictionary<string, string?>
        {
            ["Trousseau:Store"] = "sqlite",
            ["Trousseau:Local:KeyFile"] = _directory.Combine("ring.json"),
            ["Trousseau:Sqlite:Path"] = _directory.Combine("secrets.db"),
        }).Build();
        var services = new ServiceCollection();
        services.AddLogging(logging => logging.AddFakeLogging());
        services.AddTrousseau(configuration.GetSection("Trousseau")).UseLocalKeyRing().UseSqliteStore();
        services.AddTrousseau(configuration.GetSection("Trousseau")).UseLocalKeyRing().UseSqliteStore().UseInMemoryStore();
        await using var provider = services.BuildServiceProvider(new ServiceProviderOptions { ValidateOnBuild = true });

        var trousseau = provider.GetRequiredService<ITrousseau>();
        await trousseau.CreateSecretAsync("app/key", SecretType.Opaque, new Dictionary<string, string> { ["k"] = "v" });
        var changes = new List<string>();
        using var core = provider.GetRequiredService<IOptionsMonitor<TrousseauOptions>>().OnChange(_ => changes.Add("core"));
        using var sqlite = provider.GetRequiredService<IOptionsMonitor<SqliteStoreOptions>>().OnChange(_ => changes.Add("sqlite"));
        using var ring = provider.GetRequiredService<IOptionsMonitor<LocalKeyRingOptions>>().OnChange(_ => changes.Add("ring"));
        configuration.Reload();

        // One configuration reload is one change of each options type, not one per AddTrousseau call.
        Assert.Equal(["core", "ring", "sqlite"], changes.Order(StringComparer.Ordinal));
        Assert.Single(provider.GetServices<ITrousseau>());
        Assert.Equal("v", (await provider.GetRequiredService<ITrousseau>().GetSecretAsync("app/key")).Data["k"]);
        Assert.Single(provider.GetFakeLogCollector().GetSnapshot(), r => r.Message.StartsWith("Created local key ring", StringComparison.Ordinal));
    }

    [Fact]
    public async Task Options_set_in_code_reach_the_library()
    {
        var services = new ServiceCollection();
        services.AddTrousseau(options => options.DataKeys.MaxUses = 2)
            .UseLocalKeyRing(ring => ring.KeyFile = _directory.Combine("ring.json"))
            .UseInMemoryStore();
        await using var provider = services.BuildServiceProvider();

        var trousseau = provider.GetRequiredService<ITrousseau>();
        var envelopes = new List<byte[]>();
        for (var i = 0; i < 5; i++)
        {
            envelopes.Add((await trousseau.EncryptAsync("x"u8.ToArray())).Ciphertext);
        }

        // Two uses per data key: five encryptions need three, each wrapped anew and named in its envelope's header.
        Assert.Equal(3, envelopes.Select(e => Convert.ToHexString(e[EnvelopeFormat.Parse(e).Wrapped])).Distinct().Count());
        foreach (var envelope in envelopes)
        {
            Assert.Equal("x"u8.ToArray(), await trousseau.DecryptAsync(envelope));
        }
    }

    [Fact]
    public void Settings_errors_name_the_keys_of_the_section_the_application_gave_AddTrousseau()
    {
        var configuration = new ConfigurationBuilder().AddInMemoryCollection(new Dictionary<string, string?>
        {
            ["App:Secrets:DataKeys:MaxUses"] = "0",
            ["App:Secrets:Sqlite:Path"] = " ",
        }).Build();
        var services = new ServiceCollection();
        services.AddTrousseau(configuration.GetSection("App:Secrets")).UseSqliteStore();
        using var provider = services.BuildServiceProvider();

        var dataKeys = Assert.Throws<OptionsValidationException>(() => provider.GetRequiredService<IOptions<TrousseauOptions>>().Value);
        var sqlite = Assert.Throws<OptionsValidationException>(() => provider.GetRequiredService<IOptions<SqliteStoreOptions>>().Value);

        Assert.Contains("App:Secrets:DataKeys:MaxUses must be between 1 and 2147483648, not 0.", dataKeys.Message, StringComparison.Ordinal);
        Assert.Contains("App:Secrets:Sqlite:Path is ' '", sqlite.Message, StringComparison.Ordinal);
        Assert.DoesNotContain("Trousseau:", dataKeys.Message + sqlite.Message, StringComparison.Ordinal);
    }
}
