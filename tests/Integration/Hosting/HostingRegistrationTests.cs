using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.DataProtection.KeyManagement;
using Microsoft.AspNetCore.Hosting;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Diagnostics.HealthChecks;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Http;
using Microsoft.Extensions.Options;
using Trousseau.Tests.Integration.Infrastructure;

namespace Trousseau.Tests.Integration.Hosting;

/// <summary>
/// Where a hosting feature finds Trousseau: AddTrousseau in the application's services, or the services of a collection
/// of its own (built first, for secrets as configuration) forwarded to them; and what it says when neither is there.
/// </summary>
public sealed class HostingRegistrationTests : IDisposable
{
    private readonly TempDirectory _temp = new();

    public void Dispose() => _temp.Dispose();

    [Fact]
    public async Task Health_checks_and_the_worker_run_on_trousseau_forwarded_from_a_collection_of_its_own()
    {
        await using var library = new ServiceCollection()
            .AddTrousseau(_ => { })
            .UseLocalKeyRing(ring => ring.KeyFile = _temp.Combine("ring.json"))
            .UseInMemoryStore()
            .Services.BuildServiceProvider();
        var builder = Host.CreateEmptyApplicationBuilder(new HostApplicationBuilderSettings());
        builder.Services.AddSingleton(library.GetRequiredService<ITrousseau>());
        builder.Services.AddSingleton(library.GetRequiredService<IKeyProvider>());
        builder.Services.AddSingleton(library.GetRequiredService<ISecretStore>());
        builder.Services.AddSingleton(library.GetRequiredService<IKeyAdministration>());
        builder.Services.AddHealthChecks().AddTrousseau();
        builder.Services.AddTrousseauWorker();
        using var host = builder.Build();

        await host.StartAsync();
        var report = await host.Services.GetRequiredService<HealthCheckService>().CheckHealthAsync();
        await host.StopAsync();

        Assert.Equal(HealthStatus.Healthy, report.Status);
        Assert.Equal(["key-provider", "store"], report.Entries.Keys.Order());
    }

    [Fact]
    public async Task Health_checks_added_twice_serve_readyz_with_one_entry_per_dependency()
    {
        // An application and a module of its own (or a shared startup helper) may each add Trousseau's checks.
        var builder = WebApplication.CreateSlimBuilder();
        builder.WebHost.UseUrls("http://127.0.0.1:0");
        builder.Services.AddTrousseau(_ => { }).UseLocalKeyRing(ring => ring.KeyFile = _temp.Combine("ring.json")).UseInMemoryStore();
        builder.Services.AddHealthChecks().AddTrousseau();
        builder.Services.AddHealthChecks().AddTrousseau();
        await using var app = builder.Build();
        app.MapTrousseauHealth();
        await app.StartAsync();
        using var http = new HttpClient { BaseAddress = new Uri(app.Urls.Single()), Timeout = TimeSpan.FromSeconds(30) };

        using var ready = await http.GetAsync("/readyz");

        Assert.Equal(System.Net.HttpStatusCode.OK, ready.StatusCode);
        using var report = System.Text.Json.JsonDocument.Parse(await ready.Content.ReadAsStringAsync());
        Assert.Equal(["key-provider", "store"], report.RootElement.GetProperty("checks").EnumerateObject().Select(check => check.Name).Order());
    }

    [Fact]
    public async Task A_misspelt_api_auth_mode_is_named_with_its_key_its_value_and_the_modes()
    {
        var builder = Host.CreateEmptyApplicationBuilder(new HostApplicationBuilderSettings());
        builder.Configuration.AddInMemoryCollection([KeyValuePair.Create<string, string?>("Trousseau:Api:Auth:Mode", "tokn")]);
        builder.Services.AddTrousseau(builder.Configuration.GetSection("Trousseau"))
            .UseLocalKeyRing(ring => ring.KeyFile = _temp.Combine("ring.json"))
            .UseInMemoryStore()
            .AddHttpApi(api => api.Auth.TokenFile = _temp.Combine("api.token"));
        using var host = builder.Build();

        var error = await Assert.ThrowsAsync<OptionsValidationException>(() => host.StartAsync());

        Assert.Equal("Trousseau:Api:Auth:Mode is 'tokn', which is not one of token, kubernetes, none (case-insensitive).", Assert.Single(error.Failures));
        Assert.False(File.Exists(_temp.Combine("api.token")));
    }

    [Fact]
    public void MapTrousseauHealth_without_trousseaus_checks_names_the_missing_call_rather_than_answer_ready_always()
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.Services.AddTrousseau(_ => { }).UseLocalKeyRing(ring => ring.KeyFile = _temp.Combine("ring.json")).UseInMemoryStore();
        builder.Services.AddHealthChecks();
        using var app = builder.Build();

        var error = Assert.Throws<InvalidOperationException>(() => app.MapTrousseauHealth());

        Assert.Equal("MapTrousseauHealth needs Trousseau's health checks: call services.AddHealthChecks().AddTrousseau() first.", error.Message);
    }

    [Fact]
    public async Task Health_checks_without_AddTrousseau_stop_the_start_naming_the_missing_call()
    {
        var builder = Host.CreateEmptyApplicationBuilder(new HostApplicationBuilderSettings());
        builder.Services.AddHealthChecks().AddTrousseau();
        using var host = builder.Build();

        var error = await Assert.ThrowsAsync<InvalidOperationException>(() => host.StartAsync());

        Assert.Equal(
            "AddHealthChecks().AddTrousseau() needs Trousseau in this process: call services.AddTrousseau(...) with a key provider and a store.",
            error.Message);
    }

    [Fact]
    public async Task The_worker_without_AddTrousseau_stops_the_start_naming_the_missing_call()
    {
        var builder = Host.CreateEmptyApplicationBuilder(new HostApplicationBuilderSettings());
        builder.Services.AddTrousseauWorker();
        using var host = builder.Build();

        var error = await Assert.ThrowsAsync<InvalidOperationException>(() => host.StartAsync());

        Assert.Equal(
            "AddTrousseauWorker() needs Trousseau in this process: call services.AddTrousseau(...) with a key provider and a store.",
            error.Message);
    }

    [Fact]
    public async Task Every_part_of_trousseau_added_twice_registers_what_adding_it_once_does()
    {
        // Two libraries of one application (or a test host adding its own) may each add Trousseau with every part.
        var once = await RegistrationsAsync(AddEveryPart(new ServiceCollection()));
        var twice = await RegistrationsAsync(AddEveryPart(AddEveryPart(new ServiceCollection())));

        Assert.Equal(once, twice);
    }

    private IServiceCollection AddEveryPart(IServiceCollection services)
    {
        var configuration = new ConfigurationBuilder().AddInMemoryCollection(new Dictionary<string, string?>
        {
            ["Trousseau:KeyProvider"] = "local",
            ["Trousseau:Store"] = "memory",
            ["Trousseau:Local:KeyFile"] = _temp.Combine("ring.json"),
            ["Trousseau:Api:Auth:TokenFile"] = _temp.Combine("api.token"),
            ["Trousseau:Audit:Path"] = _temp.Combine("audit.log"),
            ["Trousseau:Kms:Socket"] = _temp.Combine("kms.sock"),
        }).Build();
        services.AddTrousseau(configuration.GetSection("Trousseau"))
            .UseLocalKeyRing()
            .UseSqliteStore()
            .UseEtcdStore()
            .UseVaultTransit()
            .UseInMemoryStore()
            .AddHttpApi()
            .AddAuditTrail()
            .AddKmsPlugin()
            .AddWorker();
        services.AddHealthChecks().AddTrousseau();
        services.AddDataProtection().ProtectKeysWithTrousseau();
        return services;
    }

    /// <summary>
    /// What runs at start and what checks the application: each hosted service, each start-up validation entry (one per
    /// <c>ValidateOnStart</c> call), each options validator, each health check, each setting of Data Protection's key
    /// encryptor, and each step of the Vault HTTP client's pipeline (a resilience handler added twice would retry each
    /// of its own attempts).
    /// </summary>
    private static async Task<List<string>> RegistrationsAsync(IServiceCollection services)
    {
        await using var provider = services.AddLogging().BuildServiceProvider();
        var startupValidation = typeof(IStartupValidator).Assembly.GetType("Microsoft.Extensions.Options.StartupValidatorOptions", throwOnError: true)!;
        var counted = services
            .Where(d => d.ServiceType == typeof(IHostedService)
                || d.ServiceType == typeof(IConfigureOptions<KeyManagementOptions>)
                || (d.ServiceType.IsGenericType && d.ServiceType.GetGenericTypeDefinition() == typeof(IValidateOptions<>)))
            .Select(d => $"{Named(d.ServiceType)}: {Named(d.ImplementationType ?? d.ImplementationInstance?.GetType() ?? d.ImplementationFactory?.Method.ReturnType)}");
        var entries = provider.GetServices(typeof(IConfigureOptions<>).MakeGenericType(startupValidation)).Select(e => "start-up validation of " + Named(e!.GetType()));
        var checks = provider.GetRequiredService<IOptions<HealthCheckServiceOptions>>().Value.Registrations.Select(r => "health check " + r.Name);
        var vault = provider.GetRequiredService<IOptionsMonitor<HttpClientFactoryOptions>>().Get(Trousseau.Vault.Internal.VaultHttp.ClientName);
        return [.. counted.Concat(entries).Concat(checks).Order(StringComparer.Ordinal), $"Vault client: {vault.HttpClientActions.Count} client steps, {vault.HttpMessageHandlerBuilderActions.Count} handler steps"];
    }

    /// <summary>A type's name with those of its type arguments, which tell what options a start-up validation entry is for.</summary>
    private static string Named(Type? type) =>
        type is { IsGenericType: true } ? $"{type.Name}<{string.Join(", ", type.GenericTypeArguments.Select(Named))}>" : type?.Name ?? "?";
}
