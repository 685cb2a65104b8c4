using System.Collections.Concurrent;
using System.Runtime.CompilerServices;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Testing;
using Microsoft.Extensions.Options;
using Trousseau.Etcd;
using Trousseau.Remote;
using Trousseau.Tests.Integration.Etcd;
using Trousseau.Tests.Integration.Infrastructure;
using Trousseau.Tests.StoreContract;

namespace Trousseau.Tests.Integration.Hosting;

/// <summary>Secrets as <see cref="IConfiguration"/>, seen through <see cref="IOptionsMonitor{TOptions}"/> as they change.</summary>
public sealed class SecretsConfigurationTests(EtcdFixture etcd) : IClassFixture<EtcdFixture>, IDisposable
{
    private readonly TempDirectory _temp = new();

    /// <summary>Read by <see cref="StoreFactAttribute"/> for the etcd test.</summary>
    public static string? SkipReason => EtcdProcess.SkipReason;

    public void Dispose() => _temp.Dispose();

    [Fact]
    public async Task In_process_secrets_become_configuration_and_updates_reach_options_monitor_within_the_interval()
    {
        await using var library = Library(store => store.UseInMemoryStore());
        var trousseau = library.GetRequiredService<ITrousseau>();
        await trousseau.CreateSecretAsync("app/db/login", SecretType.Login, new Dictionary<string, string> { ["username"] = "app", ["password"] = "first" });
        await trousseau.CreateSecretAsync("other/ignored", SecretType.Opaque, new Dictionary<string, string> { ["k"] = "v" });

        var interval = TimeSpan.FromSeconds(1);
        await using var app = App(o => { o.Trousseau = trousseau; o.Prefix = "app/"; o.ReloadInterval = interval; });
        var monitor = app.GetRequiredService<IOptionsMonitor<DbLogin>>();
        var configuration = app.GetRequiredService<IConfiguration>();

        Assert.Equal(("app", "first"), (monitor.CurrentValue.Username, monitor.CurrentValue.Password));

        // The secrets under the prefix alone: other/ignored's value is under no key at all, whatever its name.
        Assert.Equal(
            ["db:login:password", "db:login:username"],
            configuration.AsEnumerable().Where(pair => pair.Value is not null).Select(pair => pair.Key).Order(StringComparer.Ordinal));

        await trousseau.UpdateSecretAsync("app/db/login", new Dictionary<string, string> { ["username"] = "app", ["password"] = "second" });

        // The next reload is at most one interval away; the deadline leaves a busy machine two more.
        await Eventually.HoldsAsync(() => monitor.CurrentValue.Password == "second", () => $"the password is still '{monitor.CurrentValue.Password}'", 3 * interval);
    }

    [Fact]
    public async Task A_change_fires_the_reload_token_once_reaches_options_monitor_OnChange_and_a_renamed_secret_moves_its_keys()
    {
        await using var library = Library(store => store.UseInMemoryStore());
        var trousseau = new CountingListings(library.GetRequiredService<ITrousseau>());
        await trousseau.CreateSecretAsync("app/db/login", SecretType.Login, new Dictionary<string, string> { ["username"] = "app", ["password"] = "first" });
        await trousseau.CreateSecretAsync("app/old/name", SecretType.Opaque, new Dictionary<string, string> { ["value"] = "moved" });
        await using var app = App(o => { o.Trousseau = trousseau; o.Prefix = "app/"; o.ReloadInterval = TimeSpan.FromMilliseconds(100); });
        var monitor = app.GetRequiredService<IOptionsMonitor<DbLogin>>();
        var configuration = app.GetRequiredService<IConfiguration>();
        var seen = new ConcurrentQueue<string?>();
        using var onChange = monitor.OnChange(login => seen.Enqueue(login.Password));
        var reloads = 0;
        using var counting = Microsoft.Extensions.Primitives.ChangeToken.OnChange(configuration.GetReloadToken, () => Interlocked.Increment(ref reloads));

        await trousseau.UpdateSecretAsync("app/db/login", new Dictionary<string, string> { ["username"] = "app", ["password"] = "second" });
        await Eventually.HoldsAsync(() => seen.Contains("second"), () => $"OnChange saw [{string.Join(", ", seen)}]");
        var listings = trousseau.Listings;
        await Eventually.HoldsAsync(() => trousseau.Listings >= listings + 3, () => $"{trousseau.Listings - listings} polls since");
        Assert.Equal(1, Volatile.Read(ref reloads));

        await trousseau.DeleteSecretAsync("app/old/name");
        await trousseau.CreateSecretAsync("app/new/name", SecretType.Opaque, new Dictionary<string, string> { ["value"] = "moved" });
        await Eventually.HoldsAsync(
            () => configuration["new:name:value"] == "moved" && configuration["old:name:value"] is null,
            () => $"new:name:value is '{configuration["new:name:value"]}', old:name:value is '{configuration["old:name:value"]}'");
        Assert.Equal("second", monitor.CurrentValue.Password);
    }

    [Fact]
    public async Task Two_sources_with_their_own_prefixes_and_one_whose_prefix_matches_nothing_yet_reload_side_by_side_and_keys_stay_as_written()
    {
        await using var library = Library(store => store.UseInMemoryStore());
        var trousseau = library.GetRequiredService<ITrousseau>();
        await trousseau.CreateSecretAsync("app/svc", SecretType.Opaque, new Dictionary<string, string> { ["Logging__Level"] = "Debug", ["mode"] = "a" });
        await trousseau.CreateSecretAsync("ops/svc", SecretType.Opaque, new Dictionary<string, string> { ["region"] = "eu" });
        var interval = TimeSpan.FromMilliseconds(100);
        var configuration = new ConfigurationBuilder()
            .AddTrousseauSecrets(o => { o.Trousseau = trousseau; o.Prefix = "app/"; o.ReloadInterval = interval; })
            .AddTrousseauSecrets(o => { o.Trousseau = trousseau; o.Prefix = "ops/"; o.ReloadInterval = interval; })
            .AddTrousseauSecrets(o => { o.Trousseau = trousseau; o.Prefix = "later/"; o.ReloadInterval = interval; })
            .Build();
        using var disposing = (IDisposable)configuration;

        // A data key is one last segment as written: '__' is not a separator here, as it is in environment variables.
        Assert.Equal("Debug", configuration["svc:Logging__Level"]);
        Assert.Null(configuration["svc:Logging:Level"]);
        Assert.Equal(("a", "eu"), (configuration["svc:mode"], configuration["svc:region"]));
        Assert.Empty(configuration.GetSection("later").GetChildren());

        await trousseau.UpdateSecretAsync("ops/svc", new Dictionary<string, string> { ["region"] = "us" });
        await trousseau.CreateSecretAsync("later/feature", SecretType.Opaque, new Dictionary<string, string> { ["enabled"] = "true" });
        await Eventually.HoldsAsync(
            () => configuration["svc:region"] == "us" && configuration["feature:enabled"] == "true",
            () => $"svc:region is '{configuration["svc:region"]}', feature:enabled is '{configuration["feature:enabled"]}'");
        Assert.Equal(("a", "Debug"), (configuration["svc:mode"], configuration["svc:Logging__Level"]));
    }

    [Fact]
    public async Task A_secret_value_the_applications_options_validation_refuses_does_not_stop_later_reloads()
    {
        await using var library = Library(store => store.UseInMemoryStore());
        var trousseau = library.GetRequiredService<ITrousseau>();
        await trousseau.CreateSecretAsync("app/db/login", SecretType.Login, new Dictionary<string, string> { ["username"] = "app", ["password"] = "first" });
        var configuration = new ConfigurationBuilder()
            .AddTrousseauSecrets(o => { o.Trousseau = trousseau; o.Prefix = "app/"; o.ReloadInterval = TimeSpan.FromMilliseconds(100); })
            .Build();
        using var disposing = (IDisposable)configuration;
        var services = new ServiceCollection();
        services.AddOptions<DbLogin>().Bind(configuration.GetSection("db:login")).Validate(login => login.Password != "refused", "the password is refused");
        await using var app = services.BuildServiceProvider();
        var monitor = app.GetRequiredService<IOptionsMonitor<DbLogin>>();
        Assert.Equal("first", monitor.CurrentValue.Password);

        // IOptionsMonitor validates the new value inside the configuration's reload callback, and throws there.
        await trousseau.UpdateSecretAsync("app/db/login", new Dictionary<string, string> { ["username"] = "app", ["password"] = "refused" });
        await Eventually.HoldsAsync(() => configuration["db:login:password"] == "refused");
        Assert.Throws<OptionsValidationException>(() => monitor.CurrentValue);
        await trousseau.UpdateSecretAsync("app/db/login", new Dictionary<string, string> { ["username"] = "app", ["password"] = "fixed" });

        await Eventually.HoldsAsync(() => configuration["db:login:password"] == "fixed", () => $"db:login:password is still '{configuration["db:login:password"]}'");
        Assert.Equal("fixed", monitor.CurrentValue.Password);
    }

    [Fact]
    public async Task Secrets_from_a_remote_trousseaud_reload_too()
    {
        await using var server = await TrousseauServerProcess.StartAsync(_temp.Combine("data"));
        using var http = new HttpClient { BaseAddress = server.BaseAddress };
        var client = new TrousseauClient(http, await BearerClient.ReadTokenAsync(_temp.Combine("data", "api.token")));
        await client.CreateSecretAsync("app/db/login", SecretType.Login, new Dictionary<string, string> { ["username"] = "remote", ["password"] = "one" });

        await using var app = App(o => { o.Trousseau = client; o.Prefix = "app/"; o.ReloadInterval = TimeSpan.FromMilliseconds(200); });
        var monitor = app.GetRequiredService<IOptionsMonitor<DbLogin>>();
        Assert.Equal("one", monitor.CurrentValue.Password);

        await client.UpdateSecretAsync("app/db/login", new Dictionary<string, string> { ["username"] = "remote", ["password"] = "two" });

        await Eventually.HoldsAsync(() => monitor.CurrentValue.Password == "two");
    }

    [Fact]
    public async Task A_broker_outage_after_start_keeps_the_values_fires_no_reload_reports_each_failure_and_a_deletion_after_it_is_reflected()
    {
        var data = _temp.Combine("data");
        var listener = ServerListener.Loopback();
        await using var server = await TrousseauServerProcess.StartAsync(data, listener: listener);
        using var http = new HttpClient { BaseAddress = server.BaseAddress };
        var client = new TrousseauClient(http, await BearerClient.ReadTokenAsync(_temp.Combine("data", "api.token")));
        await client.CreateSecretAsync("app/db/login", SecretType.Login, new Dictionary<string, string> { ["username"] = "remote", ["password"] = "kept-through-outage" });
        await client.CreateSecretAsync("app/cache/key", SecretType.Opaque, new Dictionary<string, string> { ["value"] = "deleted-later" });

        var failures = new System.Collections.Concurrent.ConcurrentQueue<TrousseauException>();
        await using var app = App(o =>
        {
            o.Trousseau = client;
            o.Prefix = "app/";
            o.ReloadInterval = TimeSpan.FromMilliseconds(100);
            o.OnLoadError = failures.Enqueue;
        });
        var monitor = app.GetRequiredService<IOptionsMonitor<DbLogin>>();
        var configuration = app.GetRequiredService<IConfiguration>();
        var reloads = 0;
        using var counting = Microsoft.Extensions.Primitives.ChangeToken.OnChange(configuration.GetReloadToken, () => Interlocked.Increment(ref reloads));

        await server.KillAsync();
        await Eventually.HoldsAsync(() => failures.Count >= 2);

        var failure = Assert.IsType<DependencyUnavailableException>(failures.First());
        Assert.Contains(server.BaseAddress.ToString(), failure.Message, StringComparison.Ordinal);
        Assert.Equal("kept-through-outage", monitor.CurrentValue.Password);
        Assert.Equal("deleted-later", configuration["cache:key:value"]);
        Assert.Equal(0, Volatile.Read(ref reloads));

        await using var restarted = await TrousseauServerProcess.StartAsync(data, listener: listener);
        await client.DeleteSecretAsync("app/cache/key");

        await Eventually.HoldsAsync(() => configuration["cache:key:value"] is null, () => $"cache:key:value is still '{configuration["cache:key:value"]}'");
        Assert.Equal("kept-through-outage", monitor.CurrentValue.Password);
        Assert.True(Volatile.Read(ref reloads) >= 1, "the deletion did not fire the reload token");
    }

    [Fact]
    public async Task A_secret_deleted_between_the_listing_and_its_read_leaves_configuration_at_that_reload()
    {
        await using var library = Library(store => store.UseInMemoryStore());
        var trousseau = new DeletedBeforeRead(library.GetRequiredService<ITrousseau>());
        await trousseau.CreateSecretAsync("app/db/login", SecretType.Login, new Dictionary<string, string> { ["username"] = "app", ["password"] = "first" });
        await trousseau.CreateSecretAsync("app/cache/key", SecretType.Opaque, new Dictionary<string, string> { ["value"] = "deleted-during-reload" });
        var configuration = new ConfigurationBuilder()
            .AddTrousseauSecrets(o => { o.Trousseau = trousseau; o.Prefix = "app/"; o.ReloadInterval = Timeout.InfiniteTimeSpan; })
            .Build();
        using var disposing = (IDisposable)configuration;
        Assert.Equal("deleted-during-reload", configuration["cache:key:value"]);

        // The reload lists app/cache/key, which another writer deletes before the reload reads it.
        trousseau.Deleting = "app/cache/key";
        configuration.Reload();

        Assert.Equal(1, trousseau.Deleted);
        Assert.Null(configuration["cache:key:value"]);
        Assert.Equal("first", configuration["db:login:password"]);
    }

    [Fact]
    public async Task A_secret_that_does_not_decrypt_after_start_is_reported_by_name_keeps_its_last_values_and_holds_back_no_other_secret()
    {
        await using var library = Library(store => store.UseInMemoryStore());
        var trousseau = library.GetRequiredService<ITrousseau>();
        var store = library.GetRequiredService<ISecretStore>();
        await trousseau.CreateSecretAsync("app/db/login", SecretType.Login, new Dictionary<string, string> { ["username"] = "app", ["password"] = "first" });
        await trousseau.CreateSecretAsync("app/cache/key", SecretType.Opaque, new Dictionary<string, string> { ["value"] = "last-good" });
        var failures = new ConcurrentQueue<TrousseauException>();
        await using var app = App(o => { o.Trousseau = trousseau; o.Prefix = "app/"; o.ReloadInterval = TimeSpan.FromMilliseconds(100); o.OnLoadError = failures.Enqueue; });
        var monitor = app.GetRequiredService<IOptionsMonitor<DbLogin>>();
        var configuration = app.GetRequiredService<IConfiguration>();

        // A record sealed under another key ring (copied from another installation), and one whose ciphertext was damaged.
        await store.CreateAsync("app/intruder", await SealedElsewhereAsync("app/intruder"));
        var cached = (await store.GetAsync("app/cache/key"))!;
        var damaged = cached.Value.ToArray();
        damaged[^1] ^= 0xff;
        await store.UpdateAsync("app/cache/key", damaged, cached.Revision);
        await trousseau.UpdateSecretAsync("app/db/login", new Dictionary<string, string> { ["username"] = "app", ["password"] = "second" });

        await Eventually.HoldsAsync(() => monitor.CurrentValue.Password == "second", () => $"the password is still '{monitor.CurrentValue.Password}'");
        Assert.Equal("last-good", configuration["cache:key:value"]);
        Assert.Null(configuration["intruder:value"]);
        await Eventually.HoldsAsync(() => failures.Any(f => f.Message.Contains("'app/intruder'", StringComparison.Ordinal)), () => string.Join(" | ", failures.Select(f => f.Message)));
        Assert.Contains(failures, f => f is InvalidCiphertextException && f.Message.Contains("'app/cache/key'", StringComparison.Ordinal));
    }

    [Fact]
    public async Task A_secret_that_does_not_decrypt_at_start_stops_the_start_naming_it_or_with_Optional_leaves_out_only_its_own_keys()
    {
        await using var library = Library(store => store.UseInMemoryStore());
        var trousseau = library.GetRequiredService<ITrousseau>();
        await trousseau.CreateSecretAsync("app/db/login", SecretType.Login, new Dictionary<string, string> { ["username"] = "app", ["password"] = "readable" });
        await library.GetRequiredService<ISecretStore>().CreateAsync("app/intruder", await SealedElsewhereAsync("app/intruder"));

        var error = Assert.ThrowsAny<InvalidCiphertextException>(() => new ConfigurationBuilder().AddTrousseauSecrets(o => { o.Trousseau = trousseau; o.Prefix = "app/"; }).Build());
        Assert.Contains("'app/intruder'", error.Message, StringComparison.Ordinal);

        var failures = new ConcurrentQueue<TrousseauException>();
        await using var app = App(o => { o.Trousseau = trousseau; o.Prefix = "app/"; o.Optional = true; o.OnLoadError = failures.Enqueue; });
        Assert.Equal("readable", app.GetRequiredService<IOptionsMonitor<DbLogin>>().CurrentValue.Password);
        var failure = Assert.Single(failures);
        Assert.Contains("'app/intruder'", failure.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_secret_the_application_may_list_but_not_read_is_reported_by_name_and_holds_back_no_other_secret()
    {
        // The application's identity may list everything under app/ but read only app/db/**.
        const string Policy = "--Trousseau:Api:Policies:";
        await using var server = await TrousseauServerProcess.StartAsync(
            _temp.Combine("data"),
            [
                $"{Policy}0:Subjects:0=admin", $"{Policy}0:Secrets:0=app/**", $"{Policy}0:Actions:0=list", $"{Policy}0:Actions:1=create", $"{Policy}0:Actions:2=update",
                $"{Policy}1:Subjects:0=admin", $"{Policy}1:Secrets:0=app/db/**", $"{Policy}1:Actions:0=read",
            ]);
        using var http = new HttpClient { BaseAddress = server.BaseAddress };
        var client = new TrousseauClient(http, await BearerClient.ReadTokenAsync(_temp.Combine("data", "api.token")));
        await client.CreateSecretAsync("app/db/login", SecretType.Login, new Dictionary<string, string> { ["username"] = "remote", ["password"] = "first" });
        await client.CreateSecretAsync("app/payroll/key", SecretType.Opaque, new Dictionary<string, string> { ["value"] = "not for this application" });

        var failures = new ConcurrentQueue<TrousseauException>();
        await using var app = App(o => { o.Trousseau = client; o.Prefix = "app/"; o.Optional = true; o.ReloadInterval = TimeSpan.FromMilliseconds(100); o.OnLoadError = failures.Enqueue; });
        var monitor = app.GetRequiredService<IOptionsMonitor<DbLogin>>();

        Assert.Equal("first", monitor.CurrentValue.Password);
        var failure = Assert.IsType<AccessForbiddenException>(failures.First());
        Assert.Contains("app/payroll/key", failure.Message, StringComparison.Ordinal);

        await client.UpdateSecretAsync("app/db/login", new Dictionary<string, string> { ["username"] = "remote", ["password"] = "second" });
        await Eventually.HoldsAsync(() => monitor.CurrentValue.Password == "second", () => $"the password is still '{monitor.CurrentValue.Password}'");
        Assert.Null(app.GetRequiredService<IConfiguration>()["payroll:key:value"]);
    }

    [StoreFact]
    public async Task With_Optional_a_reload_asked_for_during_an_etcd_outage_keeps_every_value_and_the_next_one_after_it_reads_again()
    {
        // An etcd of its own, not the shared EtcdFixture: this test stops etcd and starts it again.
        await using var outage = await EtcdProcess.StartAsync();
        await using var library = Library(store => store.UseEtcdStore(o => o.Endpoints.Add(outage.ClientUrl)), storeName: "etcd");
        var trousseau = library.GetRequiredService<ITrousseau>();
        await trousseau.CreateSecretAsync("app/db/login", SecretType.Login, new Dictionary<string, string> { ["username"] = "app", ["password"] = "before-outage" });
        var failures = new ConcurrentQueue<TrousseauException>();
        var configuration = new ConfigurationBuilder()
            .AddTrousseauSecrets(o => { o.Trousseau = trousseau; o.Prefix = "app/"; o.Optional = true; o.ReloadInterval = TimeSpan.FromHours(1); o.OnLoadError = failures.Enqueue; })
            .Build();
        using var disposeConfiguration = (IDisposable)configuration;

        await outage.StopAsync();
        configuration.Reload();

        Assert.IsType<DependencyUnavailableException>(Assert.Single(failures));
        Assert.Equal("before-outage", configuration["db:login:password"]);

        await outage.StartAgainAsync();
        await trousseau.UpdateSecretAsync("app/db/login", new Dictionary<string, string> { ["username"] = "app", ["password"] = "after-outage" });
        configuration.Reload();
        Assert.Equal("after-outage", configuration["db:login:password"]);
    }

    [StoreFact]
    public async Task With_Optional_a_start_while_etcd_is_down_goes_on_without_values_says_so_in_the_log_and_loads_the_secrets_when_etcd_is_back()
    {
        // An etcd of its own, not the shared EtcdFixture: this test stops etcd and starts it again.
        await using var outage = await EtcdProcess.StartAsync();
        await using var library = Library(store => store.UseEtcdStore(o => o.Endpoints.Add(outage.ClientUrl)), storeName: "etcd");
        var trousseau = library.GetRequiredService<ITrousseau>();
        await trousseau.CreateSecretAsync("app/db/login", SecretType.Login, new Dictionary<string, string> { ["username"] = "app", ["password"] = "stored-before-start-27ac" });
        await outage.StopAsync();
        var log = new FakeLogCollector();
        using var loggers = new LoggerFactory([new FakeLoggerProvider(log)]);
        var failures = new ConcurrentQueue<TrousseauException>();

        var configuration = new ConfigurationBuilder()
            .AddTrousseauSecrets(o => { o.Trousseau = trousseau; o.Prefix = "app/"; o.Optional = true; o.ReloadInterval = TimeSpan.FromSeconds(1); o.LoggerFactory = loggers; o.OnLoadError = failures.Enqueue; })
            .Build();
        using var disposing = (IDisposable)configuration;
        var reloads = 0;
        using var counting = Microsoft.Extensions.Primitives.ChangeToken.OnChange(configuration.GetReloadToken, () => Interlocked.Increment(ref reloads));

        Assert.Null(configuration["db:login:password"]);
        Assert.IsType<DependencyUnavailableException>(failures.First());
        var atStart = Assert.Single(log.GetSnapshot(), r => r.Level >= LogLevel.Warning);
        Assert.Equal(6400, atStart.Id.Id);
        Assert.Contains(nameof(DependencyUnavailableException), atStart.Message, StringComparison.Ordinal);

        await outage.StartAgainAsync();
        await Eventually.HoldsAsync(() => configuration["db:login:password"] == "stored-before-start-27ac", () => $"db:login:password is '{configuration["db:login:password"]}'");
        Assert.True(Volatile.Read(ref reloads) >= 1, "the secrets arrived without firing the reload token");
        await Eventually.HoldsAsync(() => log.GetSnapshot().Any(r => r.Id.Id == 6403), () => string.Join(" | ", log.GetSnapshot().Select(r => r.Message)));
        Assert.Single(log.GetSnapshot(), r => r.Level >= LogLevel.Warning);
        AssertNoSecretValueLogged(log, "stored-before-start-27ac");
    }

    [Fact]
    public async Task A_key_provider_down_at_start_stops_the_reads_and_the_start_or_with_Optional_the_secrets_arrive_when_it_is_back()
    {
        await using var library = Library(store => store.UseInMemoryStore());
        var trousseau = new FailingReads(library.GetRequiredService<ITrousseau>());
        for (var i = 0; i < 40; i++)
        {
            await trousseau.CreateSecretAsync($"app/s{i}", SecretType.Opaque, new Dictionary<string, string> { ["value"] = $"v{i}" });
        }

        trousseau.Failure = new DependencyUnavailableException("vault", "Vault at http://127.0.0.1:1/ cannot be reached.");
        var error = Assert.Throws<DependencyUnavailableException>(() => new ConfigurationBuilder().AddTrousseauSecrets(o => { o.Trousseau = trousseau; o.Prefix = "app/"; }).Build());
        Assert.Contains("Vault", error.Message, StringComparison.Ordinal);
        Assert.InRange(trousseau.Reads, 1, 39);

        var failures = new ConcurrentQueue<TrousseauException>();
        var configuration = new ConfigurationBuilder()
            .AddTrousseauSecrets(o => { o.Trousseau = trousseau; o.Prefix = "app/"; o.Optional = true; o.ReloadInterval = TimeSpan.FromMilliseconds(100); o.OnLoadError = failures.Enqueue; })
            .Build();
        using var disposing = (IDisposable)configuration;
        Assert.IsType<DependencyUnavailableException>(Assert.Single(failures));
        Assert.Empty(configuration.AsEnumerable());

        trousseau.Failure = null;
        await Eventually.HoldsAsync(() => configuration.AsEnumerable().Count(pair => pair.Value is not null) == 40, () => $"{configuration.AsEnumerable().Count(pair => pair.Value is not null)} values loaded");
        Assert.All(Enumerable.Range(0, 40), i => Assert.Equal($"v{i}", configuration[$"s{i}:value"]));
    }

    [Fact]
    public async Task The_configuration_debug_view_with_HideSecretValues_shows_where_each_key_comes_from_and_no_secret_value()
    {
        await using var library = Library(store => store.UseInMemoryStore());
        var trousseau = library.GetRequiredService<ITrousseau>();
        await trousseau.CreateSecretAsync("app/db/login", SecretType.Login, new Dictionary<string, string> { ["username"] = "orders", ["password"] = "debug-view-canary-71c2" });
        var configuration = new ConfigurationBuilder()
            .AddInMemoryCollection([KeyValuePair.Create<string, string?>("db:login:timeout", "30")])
            .AddTrousseauSecrets(o => { o.Trousseau = trousseau; o.Prefix = "app/"; })
            .Build();
        using var disposing = (IDisposable)configuration;

        var view = configuration.GetDebugView(TrousseauConfigurationBuilderExtensions.HideSecretValues);

        Assert.DoesNotContain("debug-view-canary-71c2", view, StringComparison.Ordinal);
        Assert.DoesNotContain("=orders", view, StringComparison.Ordinal);
        Assert.Contains("password=*** (TrousseauSecretsConfigurationProvider)", view, StringComparison.Ordinal);
        Assert.Contains("timeout=30 (MemoryConfigurationProvider)", view, StringComparison.Ordinal);
        Assert.Equal("debug-view-canary-71c2", configuration["db:login:password"]);
    }

    [Theory]
    [InlineData("db")]
    [InlineData("db/orders")]
    public void A_prefix_that_does_not_end_with_a_slash_is_refused_when_configuration_is_built(string prefix)
    {
        var builder = new ConfigurationBuilder().AddTrousseauSecrets(o => { o.Trousseau = new TrousseauClient(new HttpClient { BaseAddress = new Uri("http://127.0.0.1:1") }, "token"); o.Prefix = prefix; });

        var error = Assert.Throws<ArgumentException>(() => builder.Build());

        Assert.Contains($"TrousseauSecretsConfigurationOptions.Prefix is '{prefix}'; it must be empty or end with '/'", error.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("DB/")]
    [InlineData("db orders/")]
    [InlineData("/db/")]
    public async Task A_prefix_no_secret_name_can_start_with_is_refused_when_configuration_is_built_even_when_optional(string prefix)
    {
        await using var library = Library(store => store.UseInMemoryStore());
        var builder = new ConfigurationBuilder().AddTrousseauSecrets(o => { o.Trousseau = library.GetRequiredService<ITrousseau>(); o.Prefix = prefix; o.Optional = true; });

        var error = Assert.Throws<ArgumentException>(() => builder.Build());

        Assert.Contains($"TrousseauSecretsConfigurationOptions.Prefix is '{prefix}'; no secret name starts with it", error.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("00:00:00")]
    [InlineData("-00:00:01")]
    [InlineData("50.00:00:00")]
    [InlineData("10675199.02:48:05.4775807")]
    public void A_reload_interval_that_is_not_positive_or_too_long_for_a_timer_is_refused_when_configuration_is_built(string interval)
    {
        var reloadInterval = TimeSpan.Parse(interval, System.Globalization.CultureInfo.InvariantCulture);
        var builder = new ConfigurationBuilder().AddTrousseauSecrets(o => { o.Trousseau = new TrousseauClient(new HttpClient { BaseAddress = new Uri("http://127.0.0.1:1") }, "token"); o.ReloadInterval = reloadInterval; });

        var error = Assert.Throws<ArgumentException>(() => builder.Build());

        Assert.Contains($"TrousseauSecretsConfigurationOptions.ReloadInterval is {interval}; it must be positive and at most 49.17:02:47.294, or Timeout.InfiniteTimeSpan", error.Message, StringComparison.Ordinal);
    }

    [StoreFact]
    public async Task Keys_another_program_wrote_under_the_etcd_prefix_hold_back_no_secret_from_configuration()
    {
        var prefix = $"/configuration-{Guid.NewGuid():N}/";
        await using var library = EtcdLibrary(prefix);
        var trousseau = library.GetRequiredService<ITrousseau>();
        await trousseau.CreateSecretAsync("app/db/login", SecretType.Login, new Dictionary<string, string> { ["username"] = "u", ["password"] = "loaded" });
        using (var client = new dotnet_etcd.EtcdClient(etcd.Etcd.ClientUrl.GetLeftPart(UriPartial.Authority)))
        {
            await client.PutAsync(prefix + "app/notes", "written by another program");
            await client.PutAsync(prefix + "app/Other Program", "{}");
        }

        await using var app = App(o =>
        {
            o.Trousseau = trousseau;
            o.Prefix = "app/";
        });

        Assert.Equal("loaded", app.GetRequiredService<IOptionsMonitor<DbLogin>>().CurrentValue.Password);
        Assert.Equal(["app/db/login"], await trousseau.ListSecretsAsync("app/").Select(m => m.Name).ToListAsync());
    }

    [StoreFact]
    public async Task With_an_etcd_watch_and_no_polling_a_change_arrives_through_the_watch()
    {
        await using var library = EtcdLibrary();
        var trousseau = library.GetRequiredService<ITrousseau>();
        await trousseau.CreateSecretAsync("app/db/login", SecretType.Login, new Dictionary<string, string> { ["username"] = "u", ["password"] = "watched-1" });

        await using var app = App(o =>
        {
            o.Trousseau = trousseau;
            o.Prefix = "app/";
            o.ReloadInterval = Timeout.InfiniteTimeSpan;
            o.Watch = library.GetRequiredService<EtcdSecretStore>();
        });
        var monitor = app.GetRequiredService<IOptionsMonitor<DbLogin>>();
        Assert.Equal("watched-1", monitor.CurrentValue.Password);

        // The watch opens in the background; keep writing new revisions until one is seen.
        var attempt = 2;
        await Eventually.HoldsAsync(() =>
        {
            if (monitor.CurrentValue.Password?.StartsWith("watched-", StringComparison.Ordinal) == true && monitor.CurrentValue.Password != "watched-1")
            {
                return true;
            }

            trousseau.UpdateSecretAsync("app/db/login", new Dictionary<string, string> { ["username"] = "u", ["password"] = $"watched-{attempt++}" }).AsTask().GetAwaiter().GetResult();
            return false;
        });
    }

    [StoreFact]
    public async Task With_an_etcd_watch_a_burst_of_writes_while_an_OnChange_handler_is_busy_is_merged_into_a_few_reloads_that_end_at_the_last_values()
    {
        const int Secrets = 5;
        const int Writes = 500;
        const int FewReloads = 5;
        await using var library = EtcdLibrary();
        var trousseau = new CountingListings(library.GetRequiredService<ITrousseau>());
        string[] names = ["app/db/login", .. Enumerable.Range(1, Secrets - 1).Select(i => $"app/svc/{i}")];
        foreach (var name in names)
        {
            await trousseau.CreateSecretAsync(name, SecretType.Opaque, new Dictionary<string, string> { ["password"] = "start" });
        }

        var log = new FakeLogCollector();
        using var loggers = new LoggerFactory([new FakeLoggerProvider(log)]);
        var configuration = WatchedWithoutPolling(trousseau, library, loggers);
        using var disposing = (IDisposable)configuration;
        var services = new ServiceCollection();
        services.AddSingleton<IConfiguration>(configuration);
        services.Configure<DbLogin>(configuration.GetSection("db:login"));
        await using var app = services.BuildServiceProvider();
        var monitor = app.GetRequiredService<IOptionsMonitor<DbLogin>>();
        Assert.Equal("start", monitor.CurrentValue.Password);

        // The application's OnChange is slow: the first call waits at the gate until the burst is written.
        using var gate = new ManualResetEventSlim();
        var onChanges = 0;
        using var onChange = monitor.OnChange(_ =>
        {
            Interlocked.Increment(ref onChanges);
            gate.Wait();
        });
        try
        {
            // The watch opens in the background; keep writing until a change it reports reaches the handler.
            var attempt = 0;
            await Eventually.HoldsAsync(() => Volatile.Read(ref onChanges) > 0 || Write(names[0], $"before-{attempt++}"));
            long last = 0;
            for (var i = 0; i < Writes; i++)
            {
                last = (await trousseau.UpdateSecretAsync(names[i % Secrets], new Dictionary<string, string> { ["password"] = $"burst-{i}" })).Revision;
            }

            var listingsBefore = trousseau.Listings;
            var onChangesBefore = Volatile.Read(ref onChanges);
            gate.Set();

            // Done once a reload has taken in the watch's changes up to the last write (debug 6409), or, where the
            // changes are not merged, once half the burst has been read again one change at a time.
            await Eventually.HoldsAsync(
                () => ReloadedUpTo(log) >= last || trousseau.Listings - listingsBefore > Writes / 2,
                () => $"reloaded up to revision {ReloadedUpTo(log)} of {last}, {trousseau.Listings - listingsBefore} listings since the handler returned");
            string[] expected = [.. names.Select((_, s) => $"burst-{Writes - Secrets + s}")];
            await Eventually.HoldsAsync(
                () => names.Select(Value).SequenceEqual(expected),
                () => $"the configuration holds [{string.Join(", ", names.Select(Value))}], not [{string.Join(", ", expected)}]");

            var listings = trousseau.Listings - listingsBefore;
            Assert.True(listings <= FewReloads, $"{listings} reloads (each a listing of the secrets) after the OnChange handler returned, for {Writes} writes made while it was busy; expected at most {FewReloads}");
            var calls = Volatile.Read(ref onChanges) - onChangesBefore;
            Assert.True(calls <= FewReloads, $"OnChange was called {calls} times after it returned, for {Writes} writes made while it was busy; expected at most {FewReloads}");
            Assert.Equal($"burst-{Writes - Secrets}", monitor.CurrentValue.Password);
        }
        finally
        {
            gate.Set();
        }

        string? Value(string name) => configuration[$"{name["app/".Length..].Replace('/', ':')}:password"];

        bool Write(string name, string password)
        {
            trousseau.UpdateSecretAsync(name, new Dictionary<string, string> { ["password"] = password }).AsTask().GetAwaiter().GetResult();
            return false;
        }

        static long ReloadedUpTo(FakeLogCollector log) =>
            log.GetSnapshot().Where(r => r.Id.Id == 6409).Select(r => long.Parse(r.GetStructuredStateValue("Revision")!, System.Globalization.CultureInfo.InvariantCulture)).DefaultIfEmpty(0).Max();
    }

    [Fact]
    public async Task A_read_that_throws_an_exception_of_another_kind_is_logged_once_and_a_change_after_it_is_seen_at_the_next_poll()
    {
        await using var library = Library(store => store.UseInMemoryStore());
        var trousseau = new FailingOnDemand(library.GetRequiredService<ITrousseau>());
        await trousseau.CreateSecretAsync("app/db/login", SecretType.Login, new Dictionary<string, string> { ["username"] = "app", ["password"] = "before-outage-3f1a" });
        var log = new FakeLogCollector();
        using var loggers = new LoggerFactory([new FakeLoggerProvider(log)]);
        var interval = TimeSpan.FromSeconds(1);
        var configuration = new ConfigurationBuilder()
            .AddTrousseauSecrets(o => { o.Trousseau = trousseau; o.Prefix = "app/"; o.ReloadInterval = interval; o.LoggerFactory = loggers; })
            .Build();
        using var disposing = (IDisposable)configuration;

        // What a remote broker's client throws when the connection drops mid-answer: not a TrousseauException.
        trousseau.Failure = new HttpRequestException("An error occurred while sending the request.");
        await Eventually.HoldsAsync(() => trousseau.Failures >= 3, () => $"the provider stopped polling after {trousseau.Failures} failed reads");
        trousseau.Failure = null;
        await trousseau.UpdateSecretAsync("app/db/login", new Dictionary<string, string> { ["username"] = "app", ["password"] = "after-outage-8c2d" });

        await Eventually.HoldsAsync(() => configuration["db:login:password"] == "after-outage-8c2d", () => $"db:login:password is still '{configuration["db:login:password"]}'", 3 * interval);
        var failure = Assert.Single(log.GetSnapshot(), r => r.Level >= LogLevel.Warning);
        Assert.Equal(6401, failure.Id.Id);
        Assert.Contains(nameof(HttpRequestException), failure.Message, StringComparison.Ordinal);
        Assert.IsType<HttpRequestException>(failure.Exception);
        await Eventually.HoldsAsync(() => log.GetSnapshot().Any(r => r.Id.Id == 6403), () => string.Join(" | ", log.GetSnapshot().Select(r => r.Message)));
        AssertNoSecretValueLogged(log, "before-outage-3f1a", "after-outage-8c2d");
    }

    [Fact]
    public async Task A_secret_that_does_not_decrypt_after_start_is_logged_once_by_name_not_at_every_poll_and_once_when_it_is_read_again()
    {
        await using var library = Library(store => store.UseInMemoryStore());
        var trousseau = library.GetRequiredService<ITrousseau>();
        var store = library.GetRequiredService<ISecretStore>();
        await trousseau.CreateSecretAsync("app/cache/key", SecretType.Opaque, new Dictionary<string, string> { ["value"] = "last-good-9b4e" });
        var log = new FakeLogCollector();
        using var loggers = new LoggerFactory([new FakeLoggerProvider(log)]);
        var failures = new ConcurrentQueue<TrousseauException>();
        var configuration = new ConfigurationBuilder()
            .AddTrousseauSecrets(o => { o.Trousseau = trousseau; o.Prefix = "app/"; o.ReloadInterval = TimeSpan.FromMilliseconds(100); o.LoggerFactory = loggers; o.OnLoadError = failures.Enqueue; })
            .Build();
        using var disposing = (IDisposable)configuration;

        var cached = (await store.GetAsync("app/cache/key"))!;
        var damaged = cached.Value.ToArray();
        damaged[^1] ^= 0xff;
        await store.UpdateAsync("app/cache/key", damaged, cached.Revision);
        await Eventually.HoldsAsync(() => failures.Count >= 3, () => $"{failures.Count} failed reads reported");

        Assert.Equal("last-good-9b4e", configuration["cache:key:value"]);
        var logged = Assert.Single(log.GetSnapshot(), r => r.Level >= LogLevel.Warning);
        Assert.Equal(6406, logged.Id.Id);
        Assert.Contains("Secret 'app/cache/key' was not loaded into configuration", logged.Message, StringComparison.Ordinal);
        Assert.Contains(nameof(InvalidCiphertextException), logged.Message, StringComparison.Ordinal);

        await trousseau.UpdateSecretAsync("app/cache/key", new Dictionary<string, string> { ["value"] = "repaired-61d0" }, SecretType.Opaque);
        await Eventually.HoldsAsync(() => configuration["cache:key:value"] == "repaired-61d0", () => $"cache:key:value is still '{configuration["cache:key:value"]}'");
        await Eventually.HoldsAsync(() => log.GetSnapshot().Any(r => r.Id.Id == 6407 && r.Message.Contains("'app/cache/key'", StringComparison.Ordinal)), () => string.Join(" | ", log.GetSnapshot().Select(r => r.Message)));
        Assert.Single(log.GetSnapshot(), r => r.Level >= LogLevel.Warning);
        AssertNoSecretValueLogged(log, "last-good-9b4e", "repaired-61d0");
    }

    [Fact]
    public async Task An_OnLoadError_that_throws_is_logged_once_and_a_change_after_the_outage_is_seen_at_the_next_poll()
    {
        await using var library = Library(store => store.UseInMemoryStore());
        var trousseau = new FailingOnDemand(library.GetRequiredService<ITrousseau>());
        await trousseau.CreateSecretAsync("app/db/login", SecretType.Login, new Dictionary<string, string> { ["username"] = "app", ["password"] = "before-outage-5e7b" });
        var log = new FakeLogCollector();
        using var loggers = new LoggerFactory([new FakeLoggerProvider(log)]);
        var interval = TimeSpan.FromSeconds(1);
        var told = 0;
        var configuration = new ConfigurationBuilder()
            .AddTrousseauSecrets(o =>
            {
                o.Trousseau = trousseau;
                o.Prefix = "app/";
                o.ReloadInterval = interval;
                o.LoggerFactory = loggers;
                o.OnLoadError = _ =>
                {
                    Interlocked.Increment(ref told);
                    throw new InvalidOperationException("The application's error handler failed.");
                };
            })
            .Build();
        using var disposing = (IDisposable)configuration;

        trousseau.Failure = new DependencyUnavailableException("trousseaud", "trousseaud at http://127.0.0.1:1/ cannot be reached.");
        await Eventually.HoldsAsync(() => Volatile.Read(ref told) >= 3, () => $"the provider stopped polling after OnLoadError threw {Volatile.Read(ref told)} times");
        trousseau.Failure = null;
        await trousseau.UpdateSecretAsync("app/db/login", new Dictionary<string, string> { ["username"] = "app", ["password"] = "after-outage-0d94" });

        await Eventually.HoldsAsync(() => configuration["db:login:password"] == "after-outage-0d94", () => $"db:login:password is still '{configuration["db:login:password"]}'", 3 * interval);
        var thrown = Assert.Single(log.GetSnapshot(), r => r.Id.Id == 6404);
        Assert.Contains(nameof(InvalidOperationException), thrown.Message, StringComparison.Ordinal);
        Assert.IsType<InvalidOperationException>(thrown.Exception);
        var failed = Assert.Single(log.GetSnapshot(), r => r.Id.Id == 6400);
        Assert.Contains(nameof(DependencyUnavailableException), failed.Message, StringComparison.Ordinal);
        AssertNoSecretValueLogged(log, "before-outage-5e7b", "after-outage-0d94");
    }

    [StoreFact]
    public async Task With_an_etcd_watch_and_no_polling_a_reload_that_throws_is_logged_and_a_change_after_it_arrives_through_the_watch()
    {
        await using var library = EtcdLibrary();
        var trousseau = new FailingOnDemand(library.GetRequiredService<ITrousseau>());
        await trousseau.CreateSecretAsync("app/db/login", SecretType.Login, new Dictionary<string, string> { ["username"] = "u", ["password"] = "watched-0" });
        var log = new FakeLogCollector();
        using var loggers = new LoggerFactory([new FakeLoggerProvider(log)]);
        var configuration = WatchedWithoutPolling(trousseau, library, loggers);
        using var disposing = (IDisposable)configuration;

        // The watch opens in the background; keep writing new revisions until a reload it triggers has failed.
        trousseau.Failure = new System.Text.Json.JsonException("The JSON value could not be converted.");
        var attempt = 1;
        await Eventually.HoldsAsync(() => trousseau.Failures > 0 || Write($"watched-{attempt++}"));
        trousseau.Failure = null;
        Write("after-failure");

        await Eventually.HoldsAsync(() => configuration["db:login:password"] == "after-failure", () => $"db:login:password is still '{configuration["db:login:password"]}'");
        var failure = Assert.Single(log.GetSnapshot(), r => r.Id.Id == 6401);
        Assert.Contains(nameof(System.Text.Json.JsonException), failure.Message, StringComparison.Ordinal);

        bool Write(string password)
        {
            trousseau.UpdateSecretAsync("app/db/login", new Dictionary<string, string> { ["username"] = "u", ["password"] = password }).AsTask().GetAwaiter().GetResult();
            return false;
        }
    }

    [Fact]
    public async Task Disposing_the_configuration_while_a_reload_is_under_way_ends_that_reload_without_an_unobserved_exception()
    {
        await using var library = Library(store => store.UseInMemoryStore());
        var trousseau = new GatedListing(library.GetRequiredService<ITrousseau>());
        await trousseau.CreateSecretAsync("app/db/login", SecretType.Login, new Dictionary<string, string> { ["username"] = "app", ["password"] = "p" });
        var unobserved = new ConcurrentQueue<AggregateException>();
        EventHandler<UnobservedTaskExceptionEventArgs> record = (_, e) =>
        {
            if (e.Exception.InnerExceptions.Any(inner => inner.ToString().Contains(nameof(Trousseau.Hosting.Configuration.TrousseauSecretsConfigurationProvider), StringComparison.Ordinal)))
            {
                unobserved.Enqueue(e.Exception);
            }
        };

        TaskScheduler.UnobservedTaskException += record;
        try
        {
            DisposeWhileReloading(trousseau);

            // Released on a thread without a synchronization context, the reload goes on on that thread to its end.
            await Task.Run(trousseau.Release);
            GC.Collect();
            GC.WaitForPendingFinalizers();
            GC.Collect();
            GC.WaitForPendingFinalizers();
        }
        finally
        {
            TaskScheduler.UnobservedTaskException -= record;
        }

        Assert.True(trousseau.Resumed, "the reload never went on past the gate");
        Assert.Empty(unobserved);
    }

    [Fact]
    public async Task At_start_the_secrets_are_read_sixteen_at_a_time_never_more_and_every_one_becomes_configuration()
    {
        await using var library = Library(store => store.UseInMemoryStore());
        var trousseau = library.GetRequiredService<ITrousseau>();
        for (var i = 0; i < 40; i++)
        {
            await trousseau.CreateSecretAsync($"app/s{i}", SecretType.Opaque, new Dictionary<string, string> { ["value"] = $"v{i}" });
        }

        var reads = new GatedReads(trousseau);
        var building = Task.Run(() => new ConfigurationBuilder()
            .AddTrousseauSecrets(o => { o.Trousseau = reads; o.Prefix = "app/"; o.ReloadInterval = Timeout.InfiniteTimeSpan; })
            .Build());
        try
        {
            await Eventually.HoldsAsync(() => reads.InFlight == 16, () => $"{reads.InFlight} reads under way at once");
        }
        finally
        {
            reads.Release();
        }

        var configuration = await building;
        using var disposing = (IDisposable)configuration;
        Assert.Equal(16, reads.MostInFlight);
        Assert.All(Enumerable.Range(0, 40), i => Assert.Equal($"v{i}", configuration[$"s{i}:value"]));
    }

    [Fact]
    public async Task Data_keys_that_differ_only_in_case_load_the_one_last_in_ordinal_order_at_every_load_and_the_clash_is_logged_once_by_names()
    {
        await using var library = Library(store => store.UseInMemoryStore());
        var trousseau = new AlternatingDataOrder(library.GetRequiredService<ITrousseau>());
        await trousseau.CreateSecretAsync("app/svc", SecretType.Opaque, new Dictionary<string, string> { ["Password"] = "upper-3c1f", ["password"] = "lower-8d2a", ["mode"] = "a" });
        var log = new FakeLogCollector();
        using var loggers = new LoggerFactory([new FakeLoggerProvider(log)]);
        var configuration = new ConfigurationBuilder()
            .AddTrousseauSecrets(o => { o.Trousseau = trousseau; o.Prefix = "app/"; o.ReloadInterval = Timeout.InfiniteTimeSpan; o.LoggerFactory = loggers; })
            .Build();
        using var disposing = (IDisposable)configuration;

        // Each load reads the keys in another order; the value and the key's spelling stay the same.
        for (var load = 0; load < 4; load++)
        {
            Assert.Equal("lower-8d2a", configuration["svc:password"]);
            Assert.Equal(["mode", "password"], configuration.GetSection("svc").GetChildren().Select(child => child.Key).Order(StringComparer.Ordinal));
            configuration.Reload();
        }

        var clash = Assert.Single(log.GetSnapshot(), r => r.Level >= LogLevel.Warning);
        Assert.Equal(6408, clash.Id.Id);
        Assert.Contains("secret 'app/svc'", clash.Message, StringComparison.Ordinal);
        Assert.Contains("'password' is loaded and 'Password' is left out", clash.Message, StringComparison.Ordinal);

        // Given one spelling the clash is gone; when one comes back, it is logged again.
        await trousseau.UpdateSecretAsync("app/svc", new Dictionary<string, string> { ["password"] = "lower-8d2a", ["mode"] = "a" });
        configuration.Reload();
        await trousseau.UpdateSecretAsync("app/svc", new Dictionary<string, string> { ["password"] = "lower-8d2a", ["PASSWORD"] = "caps-77e0", ["mode"] = "a" });
        configuration.Reload();
        configuration.Reload();
        Assert.Equal("lower-8d2a", configuration["svc:PASSWORD"]);
        Assert.Equal(2, log.GetSnapshot().Count(r => r.Level >= LogLevel.Warning));
        Assert.Contains("'password' is loaded and 'PASSWORD' is left out", log.LatestRecord.Message, StringComparison.Ordinal);
        AssertNoSecretValueLogged(log, "upper-3c1f", "lower-8d2a", "caps-77e0");
    }

    /// <summary>The library on the test's etcd, under a prefix of its own.</summary>
    /// <summary>Secrets under <c>app/</c> as configuration, reloaded through the etcd store's watch only (no polling).</summary>
    private static IConfigurationRoot WatchedWithoutPolling(ITrousseau trousseau, ServiceProvider library, ILoggerFactory loggers) =>
        new ConfigurationBuilder()
            .AddTrousseauSecrets(o =>
            {
                o.Trousseau = trousseau;
                o.Prefix = "app/";
                o.ReloadInterval = Timeout.InfiniteTimeSpan;
                o.Watch = library.GetRequiredService<EtcdSecretStore>();
                o.LoggerFactory = loggers;
            })
            .Build();

    private ServiceProvider EtcdLibrary(string? prefix = null)
    {
        prefix ??= $"/configuration-{Guid.NewGuid():N}/";
        return Library(
            store => store.UseEtcdStore(o =>
            {
                o.Endpoints.Add(etcd.Etcd.ClientUrl);
                o.Prefix = prefix;
            }),
            storeName: "etcd");
    }

    private ServiceProvider Library(Action<ITrousseauBuilder> store, string? storeName = null)
    {
        var services = new ServiceCollection();
        var builder = services.AddTrousseau(o => o.Store = storeName).UseLocalKeyRing(ring => ring.KeyFile = _temp.Combine("ring.json"));
        store(builder);
        return services.BuildServiceProvider();
    }

    /// <summary>The stored record of a secret named <paramref name="name"/>, sealed by another installation with a key ring of its own.</summary>
    private async Task<byte[]> SealedElsewhereAsync(string name)
    {
        var services = new ServiceCollection();
        services.AddTrousseau(_ => { }).UseLocalKeyRing(ring => ring.KeyFile = _temp.Combine("elsewhere.json")).UseInMemoryStore();
        await using var elsewhere = services.BuildServiceProvider();
        await elsewhere.GetRequiredService<ITrousseau>().CreateSecretAsync(name, SecretType.Opaque, new Dictionary<string, string> { ["value"] = "not readable here" });
        return (await elsewhere.GetRequiredService<ISecretStore>().GetAsync(name))!.Value.ToArray();
    }

    private static ServiceProvider App(Action<Trousseau.Hosting.TrousseauSecretsConfigurationOptions> configure)
    {
        var configuration = new ConfigurationBuilder().AddTrousseauSecrets(configure).Build();
        var services = new ServiceCollection();
        services.AddSingleton<IConfiguration>(configuration);
        services.Configure<DbLogin>(configuration.GetSection("db:login"));
        return services.BuildServiceProvider();
    }

    /// <summary>
    /// Builds the configuration, waits until a reload after the first load is held at the gate, then disposes the
    /// configuration: nothing here outlives the call, so that a task it left faulted can be collected.
    /// </summary>
    [MethodImpl(MethodImplOptions.NoInlining)]
    private static void DisposeWhileReloading(GatedListing trousseau)
    {
        var configuration = new ConfigurationBuilder()
            .AddTrousseauSecrets(o => { o.Trousseau = trousseau; o.Prefix = "app/"; o.ReloadInterval = TimeSpan.FromMilliseconds(20); })
            .Build();
        trousseau.Held.WaitAsync(TimeSpan.FromSeconds(30)).GetAwaiter().GetResult();
        ((IDisposable)configuration).Dispose();
    }

    private static void AssertNoSecretValueLogged(FakeLogCollector log, params string[] values)
    {
        foreach (var record in log.GetSnapshot())
        {
            foreach (var value in values)
            {
                Assert.DoesNotContain(value, $"{record.Message} {record.Exception}", StringComparison.Ordinal);
            }
        }
    }

    /// <summary>What an application binds its database login to.</summary>
    public sealed class DbLogin
    {
        public string? Username { get; set; }

        public string? Password { get; set; }
    }

    /// <summary>An <see cref="ITrousseau"/> that hands every call to <paramref name="inner"/>, for the test decorators to change one or two.</summary>
    private abstract class ForwardingTrousseau(ITrousseau inner) : ITrousseau
    {
        public virtual async IAsyncEnumerable<SecretMetadata> ListSecretsAsync(string prefix = "", [EnumeratorCancellation] CancellationToken cancellationToken = default)
        {
            await foreach (var metadata in inner.ListSecretsAsync(prefix, cancellationToken).ConfigureAwait(false))
            {
                yield return metadata;
            }
        }

        public virtual ValueTask<EncryptResult> EncryptAsync(ReadOnlyMemory<byte> plaintext, ReadOnlyMemory<byte> context = default, CancellationToken cancellationToken = default) =>
            inner.EncryptAsync(plaintext, context, cancellationToken);

        public virtual ValueTask<byte[]> DecryptAsync(ReadOnlyMemory<byte> ciphertext, ReadOnlyMemory<byte> context = default, CancellationToken cancellationToken = default) =>
            inner.DecryptAsync(ciphertext, context, cancellationToken);

        public virtual ValueTask<SecretMetadata> CreateSecretAsync(string name, SecretType type, IReadOnlyDictionary<string, string> data, CancellationToken cancellationToken = default) =>
            inner.CreateSecretAsync(name, type, data, cancellationToken);

        public virtual ValueTask<Secret> GetSecretAsync(string name, CancellationToken cancellationToken = default) => inner.GetSecretAsync(name, cancellationToken);

        public virtual ValueTask<SecretMetadata> UpdateSecretAsync(string name, IReadOnlyDictionary<string, string> data, SecretType? type = null, long? expectedRevision = null, CancellationToken cancellationToken = default) =>
            inner.UpdateSecretAsync(name, data, type, expectedRevision, cancellationToken);

        public virtual ValueTask<SecretPatchResult> PatchSecretAsync(string name, IReadOnlyDictionary<string, string?> changes, long? expectedRevision = null, CancellationToken cancellationToken = default) =>
            inner.PatchSecretAsync(name, changes, expectedRevision, cancellationToken);

        public virtual ValueTask<SecretMetadata> RegenerateSecretAsync(string name, SecretRegenerationOptions? options = null, long? expectedRevision = null, CancellationToken cancellationToken = default) =>
            inner.RegenerateSecretAsync(name, options, expectedRevision, cancellationToken);

        public virtual ValueTask DeleteSecretAsync(string name, long? expectedRevision = null, CancellationToken cancellationToken = default) =>
            inner.DeleteSecretAsync(name, expectedRevision, cancellationToken);

        public virtual ValueTask<SecretPage> ListSecretsPageAsync(string prefix = "", string? continuationToken = null, int limit = TrousseauLimits.DefaultListPageSize, CancellationToken cancellationToken = default) =>
            inner.ListSecretsPageAsync(prefix, continuationToken, limit, cancellationToken);

        public virtual ValueTask<SecretMetadata> GenerateSecretAsync(string name, SecretGenerationOptions? options = null, CancellationToken cancellationToken = default) =>
            inner.GenerateSecretAsync(name, options, cancellationToken);
    }

    /// <summary>The library, except that every listing after the first waits at a gate until <see cref="Release"/>.</summary>
    private sealed class GatedListing(ITrousseau inner) : ForwardingTrousseau(inner)
    {
        private readonly TaskCompletionSource _held = new(TaskCreationOptions.RunContinuationsAsynchronously);
        private readonly TaskCompletionSource _gate = new();
        private int _listings;

        /// <summary>Completes when a listing waits at the gate.</summary>
        public Task Held => _held.Task;

        /// <summary>Whether a listing went on past the gate.</summary>
        public bool Resumed { get; private set; }

        public void Release() => _gate.SetResult();

        public override async IAsyncEnumerable<SecretMetadata> ListSecretsAsync(string prefix = "", [EnumeratorCancellation] CancellationToken cancellationToken = default)
        {
            if (Interlocked.Increment(ref _listings) > 1)
            {
                _held.TrySetResult();
                await _gate.Task.ConfigureAwait(false);
                Resumed = true;
            }

            await foreach (var metadata in base.ListSecretsAsync(prefix, CancellationToken.None).ConfigureAwait(false))
            {
                yield return metadata;
            }
        }
    }

    /// <summary>The library, except that a read of the secret <see cref="Deleting"/> names deletes it first, as another writer may between a listing and a read.</summary>
    private sealed class DeletedBeforeRead(ITrousseau inner) : ForwardingTrousseau(inner)
    {
        private int _deleted;

        /// <summary>The secret to delete when it is next read, or <see langword="null"/> to read through.</summary>
        public string? Deleting { get; set; }

        /// <summary>How many secrets were deleted before their read.</summary>
        public int Deleted => Volatile.Read(ref _deleted);

        public override async ValueTask<Secret> GetSecretAsync(string name, CancellationToken cancellationToken = default)
        {
            if (name == Deleting)
            {
                Deleting = null;
                await DeleteSecretAsync(name, cancellationToken: cancellationToken).ConfigureAwait(false);
                Interlocked.Increment(ref _deleted);
            }

            return await base.GetSecretAsync(name, cancellationToken).ConfigureAwait(false);
        }
    }

    /// <summary>The library, except that its reads of secrets (not listings) throw <see cref="Failure"/> while it is set, as with a key provider down.</summary>
    private sealed class FailingReads(ITrousseau inner) : ForwardingTrousseau(inner)
    {
        private int _reads;

        /// <summary>What every read throws, or <see langword="null"/> to read through.</summary>
        public Exception? Failure { get; set; }

        /// <summary>How many reads began.</summary>
        public int Reads => Volatile.Read(ref _reads);

        public override ValueTask<Secret> GetSecretAsync(string name, CancellationToken cancellationToken = default)
        {
            Interlocked.Increment(ref _reads);
            return Failure is { } failure ? ValueTask.FromException<Secret>(failure) : base.GetSecretAsync(name, cancellationToken);
        }
    }

    /// <summary>
    /// The library, except that every other read of a secret hands its data keys in the reverse order, as an
    /// <see cref="ITrousseau"/> of the application's may: a dictionary promises no order.
    /// </summary>
    private sealed class AlternatingDataOrder(ITrousseau inner) : ForwardingTrousseau(inner)
    {
        private int _reads;

        public override async ValueTask<Secret> GetSecretAsync(string name, CancellationToken cancellationToken = default)
        {
            var secret = await base.GetSecretAsync(name, cancellationToken).ConfigureAwait(false);
            if (Interlocked.Increment(ref _reads) % 2 == 0)
            {
                return secret;
            }

            var reversed = new Dictionary<string, string>(StringComparer.Ordinal);
            foreach (var (key, value) in secret.Data.Reverse())
            {
                reversed.Add(key, value);
            }

            return new Secret(secret.Metadata, reversed);
        }
    }

    /// <summary>The library, counting its listings: one for each load, reload or poll.</summary>
    private sealed class CountingListings(ITrousseau inner) : ForwardingTrousseau(inner)
    {
        private int _listings;

        /// <summary>How many listings began.</summary>
        public int Listings => Volatile.Read(ref _listings);

        public override IAsyncEnumerable<SecretMetadata> ListSecretsAsync(string prefix = "", CancellationToken cancellationToken = default)
        {
            Interlocked.Increment(ref _listings);
            return base.ListSecretsAsync(prefix, cancellationToken);
        }
    }

    /// <summary>The library, except that its reads of secrets (not listings) wait at a gate until <see cref="Release"/>, counting how many wait at once.</summary>
    private sealed class GatedReads(ITrousseau inner) : ForwardingTrousseau(inner)
    {
        private readonly TaskCompletionSource _gate = new(TaskCreationOptions.RunContinuationsAsynchronously);
        private readonly Lock _counts = new();
        private int _inFlight;
        private int _mostInFlight;

        /// <summary>How many reads are under way now.</summary>
        public int InFlight
        {
            get
            {
                lock (_counts)
                {
                    return _inFlight;
                }
            }
        }

        /// <summary>The most reads that were under way at once.</summary>
        public int MostInFlight
        {
            get
            {
                lock (_counts)
                {
                    return _mostInFlight;
                }
            }
        }

        public void Release() => _gate.TrySetResult();

        public override async ValueTask<Secret> GetSecretAsync(string name, CancellationToken cancellationToken = default)
        {
            lock (_counts)
            {
                _mostInFlight = Math.Max(_mostInFlight, ++_inFlight);
            }

            try
            {
                await _gate.Task.WaitAsync(cancellationToken).ConfigureAwait(false);
                return await base.GetSecretAsync(name, cancellationToken).ConfigureAwait(false);
            }
            finally
            {
                lock (_counts)
                {
                    _inFlight--;
                }
            }
        }
    }

    /// <summary>The library, except that its reads (listing and getting secrets) throw <see cref="Failure"/> while it is set.</summary>
    private sealed class FailingOnDemand(ITrousseau inner) : ForwardingTrousseau(inner)
    {
        private int _failures;

        /// <summary>What every read throws, or <see langword="null"/> to read through.</summary>
        public Exception? Failure { get; set; }

        /// <summary>How many reads threw.</summary>
        public int Failures => Volatile.Read(ref _failures);

        public override async IAsyncEnumerable<SecretMetadata> ListSecretsAsync(string prefix = "", [EnumeratorCancellation] CancellationToken cancellationToken = default)
        {
            ThrowIfFailing();
            await foreach (var metadata in base.ListSecretsAsync(prefix, cancellationToken).ConfigureAwait(false))
            {
                yield return metadata;
            }
        }

        public override ValueTask<Secret> GetSecretAsync(string name, CancellationToken cancellationToken = default)
        {
            ThrowIfFailing();
            return base.GetSecretAsync(name, cancellationToken);
        }

        private void ThrowIfFailing()
        {
            if (Failure is { } failure)
            {
                Interlocked.Increment(ref _failures);
                throw failure;
            }
        }
    }
}
