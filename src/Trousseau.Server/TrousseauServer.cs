using System.Runtime.InteropServices;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Options;
using Trousseau.Etcd;
using Trousseau.Hosting;
using Trousseau.Hosting.Api;
using Trousseau.Kms;
using Trousseau.Kms.Internal;
using Trousseau.Sqlite;
using Trousseau.Vault;

namespace Trousseau.Server;

/// <summary>trousseaud: the embedded default (local key ring, SQLite) or Vault and etcd, behind Trousseau's endpoints.</summary>
internal static class TrousseauServer
{
    public const int ExitInvalidConfiguration = 2;
    public const int ExitStartupFailure = 1;
    public const int ExitBackgroundServiceFailed = 1;

    /// <summary>The log category of Kestrel's requests refused as malformed (HTTP 400 before any endpoint).</summary>
    private const string KestrelBadRequests = "Microsoft.AspNetCore.Server.Kestrel.BadRequests";

    public static async Task<int> RunAsync(string[] args)
    {
        if (ServerUsage.Requested(args) is { } usage)
        {
            await Console.Out.WriteLineAsync(usage);
            return 0;
        }

        WebApplication? app = null;
        StartFootprint? footprint = null;

        // A terminal that closes sends SIGHUP, whose default ends the process where it stands, as a kill would: once the
        // host exists it stops trousseaud as SIGTERM does instead (calls under way finish, the KMS socket is removed, the
        // trail synced), also while the host still starts, when it stops what had started.
        using var hangUp = PosixSignalRegistration.Create(PosixSignal.SIGHUP, context =>
        {
            if (app is { } built)
            {
                context.Cancel = true;
                built.Lifetime.StopApplication();
            }
        });
        try
        {
            app = await BuildAsync(args);

            // Every setting before what the machine holds, so that a bad one is named even when the port is taken
            // too; none of it creates a file (the local key ring's check reads the store, which a SQLite store not
            // yet created answers without creating it). Then whether files can be created in the data directory,
            // so that a directory that refuses them is named rather than the first file tried in it (the audit
            // trail, checked next); the addresses and the KMS socket path, which change nothing either; and last
            // the API token file, which may be created: a refused start leaves nothing behind. All of it here rather
            // than inside StartAsync, whose failure log would repeat configuration values and print a stack trace
            // before trousseaud's one line. What only the host's start finds (a port Kestrel cannot bind on a host
            // name's addresses) fails after files were created: they are taken away again (the footprint).
            CheckApiBinding(app);
            app.Services.GetService<IStartupValidator>()?.Validate();
            var created = FilesCreatedAtStart(app).ToList();
            ServerConfiguration.CheckDataDirWritable((IConfigurationRoot)app.Configuration, created);
            SharedDataDirectory.Check(app.Configuration.GetSection(ServerConfiguration.SectionName)["DataDir"]!, FilesInUse(app, created), app.Logger);
            CheckAuditTrail(app);
            ServerConfiguration.CheckAddressesFree(ServerConfiguration.Urls(app.Configuration.GetSection(ServerConfiguration.SectionName)));
            CheckKmsSocket(app);
            footprint = StartFootprint.Before(created.Concat(AuditTrailFile(app)));
            LoadApiToken(app);
            await app.StartAsync();
            await WarnIfStoreInUseAsync(app);
            ChangedSettingsReport.Watch(app);
            var section = app.Configuration.GetSection(ServerConfiguration.SectionName);
            Log.Started(app.Logger, ServerUsage.Version, section["KeyProvider"]!, section["Store"]!, section["DataDir"]!);
        }
        catch (Exception e) when (StartupErrors.DescribeConfigurationError(e) is { } message)
        {
            await Console.Error.WriteLineAsync($"trousseaud: invalid configuration: {message}");
            await StopAsync(app);
            footprint?.Remove();
            return ExitInvalidConfiguration;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or DependencyUnavailableException)
        {
            await Console.Error.WriteLineAsync($"trousseaud: cannot start: {e.Message}");
            await StopAsync(app);
            footprint?.Remove();
            return ExitStartupFailure;
        }
        catch (OperationCanceledException) when (app?.Lifetime.ApplicationStopping.IsCancellationRequested == true)
        {
            // SIGTERM or SIGINT while the services start cancels their start, as does a background service that fails
            // before the start is done (it failed before it stopped the host): what had started stops, as once started.
            var failedWhileStarting = FaultedBackgroundService(app.Services);
            await StopAsync(app);
            return await ExitCodeAsync(failedWhileStarting);
        }

        await app.WaitForShutdownAsync();

        await ServerTelemetry.StopAsync(app.Services, app.Logger);
        var failed = FaultedBackgroundService(app.Services);
        await app.DisposeAsync();
        return await ExitCodeAsync(failed);
    }

    /// <summary>
    /// How trousseaud ends once its host is stopped: the host stops itself when a background service faults
    /// (BackgroundServiceExceptionBehavior.StopHost), which is a failure a supervisor that restarts on failure must see.
    /// </summary>
    /// <param name="failed">The background service that faulted, if one did.</param>
    private static async Task<int> ExitCodeAsync(string? failed)
    {
        if (failed is null)
        {
            return 0;
        }

        await Console.Error.WriteLineAsync($"trousseaud: stopped because a background service failed ({failed}); see the log above.");
        return ExitBackgroundServiceFailed;
    }

    /// <summary>The type name of a background service whose work ended with an exception, if any.</summary>
    private static string? FaultedBackgroundService(IServiceProvider services) =>
        services.GetServices<IHostedService>().OfType<BackgroundService>().FirstOrDefault(s => s.ExecuteTask is { IsFaulted: true })?.GetType().Name;

    private static async Task<WebApplication> BuildAsync(string[] args)
    {
        var builder = WebApplication.CreateBuilder(new WebApplicationOptions { Args = args, ContentRootPath = AppContext.BaseDirectory });
        ServerConfiguration.Apply(builder.Configuration, args, builder.Environment.EnvironmentName);
        ServerSettings.RefuseEnvironmentSpellings();
        ServerSettings.RefuseOutsideSection(builder.Configuration);
        var section = builder.Configuration.GetSection(ServerConfiguration.SectionName);
        ServerSettings.RefuseUnknown(section);
        ServerSettings.RefuseValuesOfLists(section);
        ServerSettings.RefuseEmptyValues(section);

        // Vault:ConfigPath's KV v2 data is laid over everything local. Its Vault login goes to the Vault key provider,
        // or is revoked when the overlay is disposed.
        await using var overlay = await VaultConfigOverlay.LoadAsync(section);
        var overlaid = new ConfigurationBuilder().AddInMemoryCollection(overlay.Values).Build().GetSection(ServerConfiguration.SectionName);
        ServerSettings.RefuseUnknown(overlaid, $"{section.Path}:Vault:ConfigPath '{section["Vault:ConfigPath"]}'");
        ServerSettings.RefuseValuesOfLists(overlaid);
        ServerSettings.RefuseEmptyValues(overlaid);
        builder.Configuration.AddInMemoryCollection(overlay.Values);
        ServerSettings.RefuseNumbersAsTimeSpans(section);

        // With the API off, Api:Urls still serves /healthz and /readyz for probes, but no /v1 route.
        var apiEnabled = section.GetValue("Api:Enabled", defaultValue: true);
        if (!apiEnabled && !section.GetValue("Kms:Enabled", defaultValue: true))
        {
            throw new InvalidConfigurationException(
                $"{ServerConfiguration.SectionName}:Api:Enabled and {ServerConfiguration.SectionName}:Kms:Enabled are both false: trousseaud would serve nothing.");
        }

        var urls = ServerConfiguration.Urls(section);
        ServerConfiguration.CheckUrls(urls);
        ServerConfiguration.CheckPaths(section);
        ServerConfiguration.CheckDataDir(section);
        ServerConfiguration.RefuseKestrelEndpoints(builder.Configuration);
        ServerConfiguration.CheckTls(section, urls, apiEnabled);
        builder.WebHost.UseUrls(urls);
        var connectionLimit = ApiConnectionLimit.ForThisProcess();
        var perAddress = new ApiConnectionsPerAddress(Math.Max(1, connectionLimit / 2));
        builder.WebHost.ConfigureKestrel(kestrel =>
        {
            kestrel.Limits.MaxConcurrentConnections = connectionLimit;

            // HTTP/1.1 only: a connection then holds one request's headers, as the connection limit counts it, where
            // HTTP/2 would let one connection without a token hold 100 requests' (over 3 MiB).
            kestrel.ConfigureEndpointDefaults(listen =>
            {
                listen.Protocols = HttpProtocols.Http1;
                listen.Use(perAddress.Apply);
            });
        });
        if (apiEnabled)
        {
            // https:// URLs serve Api:Tls's certificate, read again when its files change.
            builder.WebHost.ConfigureKestrel(kestrel => kestrel.UseTrousseauApiTls());
        }

        // One choice decides which backend is registered, so only the chosen backend's settings are checked.
        var trousseau = builder.Services.AddTrousseau(section);
        switch (ServerConfiguration.Choose(section, "KeyProvider", LocalKeyRingProvider.ProviderName, VaultTransitKeyProvider.ProviderName))
        {
            case VaultTransitKeyProvider.ProviderName:
                trousseau.UseVaultTransit();
                overlay.HandLoginTo(builder.Services);
                break;
            default:
                trousseau.UseLocalKeyRing();
                break;
        }

        switch (ServerConfiguration.Choose(section, "Store", SqliteSecretStore.StoreName, EtcdSecretStore.StoreName, InMemorySecretStore.StoreName))
        {
            case EtcdSecretStore.StoreName:
                trousseau.UseEtcdStore();
                break;
            case InMemorySecretStore.StoreName:
                trousseau.UseInMemoryStore();
                break;
            default:
                trousseau.UseSqliteStore();
                break;
        }

        // The audit trail first, so that it is open before the KMS socket takes calls.
        trousseau
            .AddAuditTrail()
            .AddKmsPlugin()
            .AddWorker();
        if (apiEnabled)
        {
            trousseau.AddHttpApi();
        }

        builder.Services.AddHealthChecks().AddTrousseau();
        ServerTelemetry.Add(builder);
        KeepBadRequestLinesOutOfTheLog(builder.Services);

        var app = builder.Build();
        MarkEveryAnswerNoSniff(app);
        app.MapTrousseauHealth();
        ServerTelemetry.MapMetrics(app);
        if (apiEnabled)
        {
            app.MapTrousseauApi();
        }

        return app;
    }

    /// <summary>
    /// Keeps Kestrel's bad-request events (category <see cref="KestrelBadRequests"/>, at debug level) out of every log,
    /// whatever the <c>Logging</c> settings say: they quote the malformed request line or header line, which may hold
    /// the API token (<c>Authorization : Bearer ...</c>, a space before the colon). The rule is repeated for each
    /// logging provider a setting names (<c>Logging:Console:LogLevel</c>), since a rule naming a provider outranks
    /// every rule that names none; added after the settings' own rules, it wins over one naming that category too.
    /// </summary>
    private static void KeepBadRequestLinesOutOfTheLog(IServiceCollection services) =>
        services.PostConfigure<LoggerFilterOptions>(options =>
        {
            foreach (var provider in options.Rules.Select(rule => rule.ProviderName).Append(null).Distinct().ToList())
            {
                options.Rules.Add(new LoggerFilterRule(provider, KestrelBadRequests, LogLevel.None, filter: null));
            }
        });

    /// <summary>
    /// Marks every answer with <c>X-Content-Type-Options: nosniff</c>, those routing gives by itself included (404 for a
    /// path no route serves, 405 for a method a route does not take), which no endpoint's own filter sees. It is set as
    /// the answer starts, so that a handler clearing the headers (the exception handler's) cannot drop it.
    /// </summary>
    private static void MarkEveryAnswerNoSniff(WebApplication app) =>
        app.Use(static (context, next) =>
        {
            context.Response.OnStarting(
                static state =>
                {
                    ((HttpResponse)state).Headers.XContentTypeOptions = "nosniff";
                    return Task.CompletedTask;
                },
                context.Response);
            return next(context);
        });

    /// <summary>
    /// Checks, with the authentication mode as the API reads it (so that <c>None</c> or <c> none</c> is no way around),
    /// that the API's URLs do not expose it unauthenticated or with credentials in the clear.
    /// </summary>
    private static void CheckApiBinding(WebApplication app)
    {
        var section = app.Configuration.GetSection(ServerConfiguration.SectionName);
        if (section.GetValue("Api:Enabled", defaultValue: true))
        {
            ServerConfiguration.CheckAuthBinding(section, app.Services.GetRequiredService<IOptions<TrousseauApiOptions>>().Value.Auth.Mode);
        }
    }

    /// <summary>
    /// Reads the API token file, or creates it, before the host starts: a file that group or others may use, or an
    /// empty one, is refused here with its one line. The API reads it again when the host starts, for applications
    /// that start their host themselves.
    /// </summary>
    private static void LoadApiToken(WebApplication app)
    {
        var options = app.Services.GetRequiredService<IOptions<TrousseauApiOptions>>();
        if (app.Configuration.GetSection(ServerConfiguration.SectionName).GetValue("Api:Enabled", defaultValue: true)
            && options.Value.Auth.Mode == TrousseauApiAuthMode.Token)
        {
            new ApiToken(options, app.Services.GetRequiredService<ILogger<ApiToken>>()).Load();
        }
    }

    /// <summary>
    /// The files trousseaud may create at start or at its first call, besides the audit trail (which
    /// <see cref="CheckAuditTrail"/> checks): those of the backends and endpoints in use, and the API token file when
    /// it is absent.
    /// </summary>
    private static IEnumerable<string> FilesCreatedAtStart(WebApplication app)
    {
        var section = app.Configuration.GetSection(ServerConfiguration.SectionName);
        if (ServerConfiguration.Choose(section, "KeyProvider", LocalKeyRingProvider.ProviderName, VaultTransitKeyProvider.ProviderName) == LocalKeyRingProvider.ProviderName
            && section["Local:KeyFile"] is { } keyFile)
        {
            yield return keyFile;
        }

        foreach (var provider in section.GetSection("KeyProviders").GetChildren())
        {
            if (provider["Local:KeyFile"] is { } providerKeyFile)
            {
                yield return providerKeyFile;
            }
        }

        if (ServerConfiguration.Choose(section, "Store", SqliteSecretStore.StoreName, EtcdSecretStore.StoreName, InMemorySecretStore.StoreName) == SqliteSecretStore.StoreName
            && section["Sqlite:Path"] is { } database)
        {
            yield return database;
        }

        if (app.Services.GetRequiredService<IOptions<KmsOptions>>().Value is { Enabled: true, Socket: { } socket })
        {
            yield return socket;
        }

        var api = app.Services.GetRequiredService<IOptions<TrousseauApiOptions>>().Value;
        if (section.GetValue("Api:Enabled", defaultValue: true) && api.Auth.Mode == TrousseauApiAuthMode.Token
            && api.Auth.TokenFile is { } tokenFile && !File.Exists(tokenFile))
        {
            yield return tokenFile;
        }
    }

    /// <summary>
    /// Every file trousseaud may read, write or create at the paths its settings give: those created at start, the API
    /// token file, the audit trail, and the lock, write-ahead and rotated files beside them.
    /// </summary>
    private static IEnumerable<string> FilesInUse(WebApplication app, IEnumerable<string> createdAtStart)
    {
        var section = app.Configuration.GetSection(ServerConfiguration.SectionName);
        foreach (var file in createdAtStart)
        {
            yield return file;
            foreach (var beside in new[] { ".lock", "-wal", "-shm", "-journal" })
            {
                yield return file + beside;
            }
        }

        if (app.Services.GetRequiredService<IOptions<TrousseauApiOptions>>().Value.Auth.TokenFile is { } tokenFile
            && section.GetValue("Api:Enabled", defaultValue: true))
        {
            yield return tokenFile;
        }

        var audit = app.Services.GetRequiredService<IOptions<TrousseauAuditOptions>>().Value;
        foreach (var trail in AuditTrailFile(app))
        {
            yield return trail;
            yield return trail + ".lock";
            for (var generation = 1; generation <= audit.MaxFiles; generation++)
            {
                yield return $"{trail}.{generation}";
            }
        }
    }

    /// <summary>The audit trail's file, unless it is standard output.</summary>
    private static IEnumerable<string> AuditTrailFile(WebApplication app)
    {
        if (app.Services.GetRequiredService<IOptions<TrousseauAuditOptions>>().Value.Path is { } path && path != TrousseauAuditOptions.StandardOutput)
        {
            yield return path;
        }
    }

    /// <summary>
    /// Refuses, before anything is created, an audit trail that cannot be written (a directory, a FIFO, a socket or a
    /// device, a directory that cannot be created or written, a lock file beside it that is not a regular file) while
    /// <c>Audit:FailOpen</c> is false: every call would be refused until it can. With <c>Audit:FailOpen</c> true the
    /// start goes on, and the trail's one warning says that calls go unrecorded.
    /// </summary>
    private static void CheckAuditTrail(WebApplication app)
    {
        var audit = app.Services.GetRequiredService<IOptions<TrousseauAuditOptions>>().Value;
        if (audit is { FailOpen: false, Path: { } path } && path != TrousseauAuditOptions.StandardOutput
            && WhyAuditTrailCannotBeWritten(Path.GetFullPath(path)) is { } reason)
        {
            var key = $"{ServerConfiguration.SectionName}:Audit";
            throw new InvalidConfigurationException(
                $"{key}:Path is '{Path.GetFullPath(path)}', {reason}: every call would be refused until the audit trail can be written. Give a path where it can, "
                + $"or - for standard output, or set {key}:FailOpen=true to serve calls unrecorded meanwhile.");
        }
    }

    /// <summary>Why the audit trail at <paramref name="trail"/> (a full path) cannot be written, as a clause that follows it; <see langword="null"/> when nothing stands in the way.</summary>
    private static string? WhyAuditTrailCannotBeWritten(string trail) =>
        WritableLocation.WhyFileCannotBeWritten(trail)
        ?? (LinuxFileStatus.NotRegularAt(trail + ".lock") is { } kind ? $"whose lock file {trail}.lock is {kind}, not a regular file (remove it)" : null);

    /// <summary>
    /// Warns, once at start, when another process has the SQLite store open: the store serves one process at a time,
    /// so this one answers its secret calls 503 until the other stops. It starts all the same, since a second
    /// trousseaud on one data directory, for its own KMS socket, shares the key ring and the audit trail (a supported
    /// setup). The store is opened here, not only looked at: two trousseaud started at once on a store not created yet
    /// both find it free before either opens it, and only opening it says which one holds it.
    /// </summary>
    private static async Task WarnIfStoreInUseAsync(WebApplication app)
    {
        if (app.Services.GetRequiredService<ISecretStore>() is not SqliteSecretStore sqlite)
        {
            return;
        }

        await sqlite.CheckHealthAsync(app.Lifetime.ApplicationStopping);
        try
        {
            sqlite.ThrowIfInUseElsewhere();
        }
        catch (DependencyUnavailableException inUse)
        {
            Log.StoreInUseElsewhere(app.Logger, inUse.Message);
        }
    }

    /// <summary>
    /// Refuses, before the host starts, a KMS socket path that the plugin would refuse when it listens (a directory that
    /// group or others may write, a path that is no socket or that another process serves, one too long) or could not
    /// make (a directory this user may not write or create, where the socket is bound), so that the refusal is its one
    /// line. The plugin checks again when it listens.
    /// </summary>
    private static void CheckKmsSocket(WebApplication app)
    {
        if (app.Services.GetRequiredService<IOptions<KmsOptions>>().Value is { Enabled: true, Socket: { } socket })
        {
            var path = Path.GetFullPath(socket);
            OwnerOnlyUnixSocket.Check(path);
            var directory = Path.GetDirectoryName(path)!;
            if (WritableLocation.WhyNoFileCanBeCreatedIn(directory) is { } why)
            {
                throw new IOException(
                    $"The KMS socket {path} cannot be made: its directory {directory} {why}: give the user trousseaud runs as ({Environment.UserName}) "
                    + $"write access there, or choose another path with --kms-socket or {ServerConfiguration.SectionName}:Kms:Socket.");
            }
        }
    }

    /// <summary>
    /// Stops what a failed start had already started (the KMS socket, background services), gives the OpenTelemetry
    /// exporters the same bounded time as a normal stop (<see cref="ServerTelemetry.StopAsync"/>), then disposes.
    /// </summary>
    private static async ValueTask StopAsync(WebApplication? app)
    {
        if (app is null)
        {
            return;
        }

        try
        {
            await app.StopAsync();
        }
        catch (OperationCanceledException)
        {
            // A service that did not start has nothing to stop.
        }

        try
        {
            await ServerTelemetry.StopAsync(app.Services, app.Logger);
        }
        catch (Exception e) when (StartupErrors.DescribeConfigurationError(e) is not null)
        {
            // A provider that the configuration refused to make has nothing to export; the start's one line said why.
        }

        await app.DisposeAsync();
    }
}
