using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.Options;
using Trousseau.Etcd;
using Trousseau.Vault;

namespace Trousseau.Server;

/// <summary>trousseaud: the embedded default (local key ring, SQLite) or Vault and etcd, behind Trousseau's endpoints.</summary>
internal static class TrousseauServer
{
    public const int ExitInvalidConfiguration = 2;
    public const int ExitStartupFailure = 1;

    public static async Task<int> RunAsync(string[] args)
    {
        WebApplication? app = null;
        try
        {
            app = await BuildAsync(args);

            // Validated here rather than inside StartAsync, whose failure log would repeat configuration values.
            app.Services.GetService<IStartupValidator>()?.Validate();
            await app.StartAsync();
        }
        catch (Exception e) when (StartupErrors.DescribeConfigurationError(e) is { } message)
        {
            await Console.Error.WriteLineAsync($"trousseaud: invalid configuration: {message}");
            await DisposeAsync(app);
            return ExitInvalidConfiguration;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or DependencyUnavailableException)
        {
            await Console.Error.WriteLineAsync($"trousseaud: cannot start: {e.Message}");
            await DisposeAsync(app);
            return ExitStartupFailure;
        }

        using var telemetry = OtlpExport.StartIfConfigured();
        await app.WaitForShutdownAsync();
        await app.DisposeAsync();
        return 0;
    }

    private static async Task<WebApplication> BuildAsync(string[] args)
    {
        var builder = WebApplication.CreateBuilder(new WebApplicationOptions { Args = args, ContentRootPath = AppContext.BaseDirectory });
        ServerConfiguration.Apply(builder.Configuration, args, builder.Environment.EnvironmentName);
        var section = builder.Configuration.GetSection(ServerConfiguration.SectionName);

        // Vault:ConfigPath's KV v2 data is laid over everything local.
        if (!string.IsNullOrWhiteSpace(section["Vault:ConfigPath"]))
        {
            builder.Configuration.AddInMemoryCollection(await VaultConfigOverlay.LoadAsync(section));
        }

        var urls = section["Api:Urls"] ?? ServerConfiguration.DefaultUrls;
        ServerConfiguration.CheckAuthBinding(section, urls);
        builder.WebHost.UseUrls(urls);

        // With the API off, Api:Urls still serves /healthz and /readyz for probes, but no /v1 route.
        var apiEnabled = section.GetValue("Api:Enabled", defaultValue: true);
        if (!apiEnabled && !section.GetValue("Kms:Enabled", defaultValue: true))
        {
            throw new InvalidConfigurationException(
                $"{ServerConfiguration.SectionName}:Api:Enabled and {ServerConfiguration.SectionName}:Kms:Enabled are both false: trousseaud would serve nothing.");
        }

        // Vault's settings are checked only when Vault is the chosen provider, so register it only then.
        var trousseau = builder.Services.AddTrousseau(section);
        if (string.Equals(section["KeyProvider"], VaultTransitKeyProvider.ProviderName, StringComparison.Ordinal))
        {
            trousseau.UseVaultTransit();
        }
        else
        {
            trousseau.UseLocalKeyRing();
        }

        // Likewise etcd's settings are checked only when etcd is the chosen store.
        if (string.Equals(section["Store"], EtcdSecretStore.StoreName, StringComparison.Ordinal))
        {
            trousseau.UseEtcdStore();
        }

        trousseau
            .UseSqliteStore()
            .UseInMemoryStore()
            .AddKmsPlugin()
            .AddWorker();
        if (apiEnabled)
        {
            trousseau.AddHttpApi();
        }

        builder.Services.AddHealthChecks().AddTrousseau();
        builder.Services.AddTrousseauMetrics();

        var app = builder.Build();
        app.MapTrousseauHealth();
        app.MapTrousseauMetrics();
        if (apiEnabled)
        {
            app.MapTrousseauApi();
        }

        return app;
    }

    private static async ValueTask DisposeAsync(WebApplication? app)
    {
        if (app is not null)
        {
            await app.DisposeAsync();
        }
    }
}
