using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.Options;
using Microsoft.Extensions.Primitives;
using Trousseau.Etcd;
using Trousseau.Hosting;
using Trousseau.Hosting.Api;
using Trousseau.Kms;
using Trousseau.Sqlite;
using Trousseau.Vault;

namespace Trousseau.Server;

/// <summary>
/// Logs, in one line each, what a changed configuration file does not change, so that an operator learns at once
/// that an edit did nothing: a key that is no setting (event 9003: nothing reads it and the next start would refuse
/// it, while the settings that follow changes take the rest of the file), and in event 9001, one line for each changed
/// file with every reason: etcd settings that no longer validate or an etcd user removed while etcd auth is on (the
/// store keeps the user and password in use; only a restart turns etcd auth off), one value given to a list setting,
/// which it would read as an empty list (saying how to write a list, as the start does), API settings that no longer
/// validate (the <c>Api:Policies</c> in force stay), a setting read only at start whose new value the next start would
/// refuse, a file that can no longer be read, an <c>Api:Auth:Mode</c> other than the one the API started with (the
/// mode is read only at start), and every other setting read only at start whose value differs from the one
/// trousseaud started with, named with its new value, never a credential's (it takes a restart). A line that names
/// something that does not pass a check ends saying that the settings in use stay until a change passes; one that
/// names only settings that take a restart does not.
/// </summary>
internal sealed class ChangedSettingsReport
{
    /// <summary>How a 9001 line ends when something in the change does not pass a check.</summary>
    private const string KeptUntilValid = "The settings in use stay until a change validates.";

    private const string AuthModeKey = "Api:Auth:Mode";

    private readonly WebApplication _app;
    private readonly IConfigurationSection _section;
    private readonly IOptionsFactory<EtcdStoreOptions>? _etcd;
    private readonly IOptionsFactory<TrousseauApiOptions>? _api;
    private readonly TrousseauApiAuthMode _authMode;
    private readonly IReadOnlyDictionary<string, string> _atStart;
    private readonly Action[] _readAtStart;
    private bool _etcdAuth;

    private ChangedSettingsReport(WebApplication app)
    {
        _app = app;
        _section = app.Configuration.GetSection(ServerConfiguration.SectionName);
        _etcd = ChosenStore(_section) == EtcdSecretStore.StoreName ? app.Services.GetRequiredService<IOptionsFactory<EtcdStoreOptions>>() : null;
        _etcdAuth = _etcd is not null && !string.IsNullOrEmpty(_etcd.Create(Options.DefaultName).Username);
        _api = _section.GetValue("Api:Enabled", defaultValue: true) ? app.Services.GetRequiredService<IOptionsFactory<TrousseauApiOptions>>() : null;
        _authMode = _api is null ? default : app.Services.GetRequiredService<IOptions<TrousseauApiOptions>>().Value.Auth.Mode;
        _atStart = ServerSettings.ReadOnlyAtStart(_section);

        // Settings read only at start, checked as the start checks them, so that a value the next start would refuse
        // (Worker:Interval '30s', DataKeys:MaxUses -1, an empty Api:Urls) is named now rather than at that start. The
        // choice of key provider and store is judged by the start's own check of it: the backends this process
        // registered are only those it started with.
        var section = _section;
        _readAtStart =
        [
            () => ServerConfiguration.CheckUrls(ServerConfiguration.Urls(section)),
            () => ServerConfiguration.CheckPaths(section),
            () => ServerSettings.RefuseNumbersAsTimeSpans(section),
            () => ServerSettings.RefuseEmptyValues(section),
            () => section.GetValue<bool>("Api:Enabled"),
            () => section.GetValue<bool>("Api:AllowInsecureHttp"),
            () => ServerConfiguration.Choose(section, "KeyProvider", LocalKeyRingProvider.ProviderName, VaultTransitKeyProvider.ProviderName),
            () => ChosenStore(section),
            () => app.Services.GetRequiredService<IOptionsFactory<TrousseauOptions>>().Create(Options.DefaultName),
            () => app.Services.GetRequiredService<IOptionsFactory<KmsOptions>>().Create(Options.DefaultName),
            () => app.Services.GetRequiredService<IOptionsFactory<TrousseauWorkerOptions>>().Create(Options.DefaultName),
            () => app.Services.GetRequiredService<IOptionsFactory<TrousseauAuditOptions>>().Create(Options.DefaultName),
            () => app.Services.GetRequiredService<IOptionsFactory<SqliteStoreOptions>>().Create(Options.DefaultName),
            () => app.Services.GetRequiredService<IOptionsFactory<VaultOptions>>().Create(Options.DefaultName),
        ];
    }

    /// <summary>Reports, from now on, what each change of the configuration files of <paramref name="app"/> does not change.</summary>
    public static void Watch(WebApplication app)
    {
        var report = new ChangedSettingsReport(app);

        // A file that no longer reads (left half-written, not JSON) raises no change: .NET only throws inside its watcher.
        foreach (var file in ((IConfigurationRoot)app.Configuration).Providers.OfType<FileConfigurationProvider>())
        {
            file.Source.OnLoadException = report.Unreadable;
        }

        ChangeToken.OnChange(app.Configuration.GetReloadToken, report.Changed);
    }

    /// <summary>The store trousseaud's settings choose, as the start reads the choice.</summary>
    private static string ChosenStore(IConfiguration section) =>
        ServerConfiguration.Choose(section, "Store", SqliteSecretStore.StoreName, EtcdSecretStore.StoreName, InMemorySecretStore.StoreName);

    /// <summary>An API authentication mode as a user writes it.</summary>
    private static string Spelt(TrousseauApiAuthMode mode) => mode.ToString().ToLowerInvariant();

    private void Unreadable(FileLoadExceptionContext context) =>
        NotTaken([StartupErrors.DescribeConfigurationError(context.Exception) ?? context.Exception.Message], []);

    private void Changed()
    {
        NameUnknownKeys();

        // One value given to a list is read as an empty list, which the checks below would call empty: say how to
        // write a list instead, as the start does.
        if (OneValueGivenToAList() is { } list)
        {
            NotTaken([list], []);
            return;
        }

        var refused = new List<string>();
        var restart = new List<string>();
        EtcdReasons(refused);
        ApiReasons(refused, restart);
        refused.AddRange(_readAtStart.Select(Refusal).OfType<string>());
        restart.AddRange(RestartNeeded(refused));
        if (refused.Count + restart.Count > 0)
        {
            NotTaken(refused, restart);
        }
    }

    /// <summary>Why the start would refuse what <paramref name="check"/> checks, as it would say it; <see langword="null"/> when it passes.</summary>
    private static string? Refusal(Action check)
    {
        try
        {
            check();
            return null;
        }
        catch (Exception e) when (StartupErrors.DescribeConfigurationError(e) is { } reason)
        {
            return reason;
        }
    }

    /// <summary>Logs event 9001 with every reason; the settings in use wait for a change that passes only when something was refused.</summary>
    private void NotTaken(List<string> refused, List<string> restart) =>
        Log.ChangeNotTaken(_app.Logger, string.Join(" ", refused.Concat(restart).Concat(refused.Count > 0 ? [KeptUntilValid] : [])));

    private void NameUnknownKeys()
    {
        try
        {
            ServerSettings.RefuseUnknown(_section);
        }
        catch (InvalidConfigurationException e)
        {
            Log.ChangeNamesUnknownKey(_app.Logger, e.Message);
        }
    }

    private string? OneValueGivenToAList()
    {
        try
        {
            ServerSettings.RefuseValuesOfLists(_section);
            return null;
        }
        catch (InvalidConfigurationException e)
        {
            return e.Message;
        }
    }

    /// <summary>Etcd settings that no longer validate, or an etcd user removed while etcd auth is on, which only a restart turns off.</summary>
    private void EtcdReasons(List<string> refused)
    {
        string? username = null;
        if (_etcd is null)
        {
            return;
        }

        if (Refusal(() => username = _etcd.Create(Options.DefaultName).Username) is { } reason)
        {
            refused.Add(reason);
        }
        else if (!string.IsNullOrEmpty(username))
        {
            _etcdAuth = true;
        }
        else if (_etcdAuth)
        {
            refused.Add(
                $"{ServerConfiguration.SectionName}:Etcd:Username is no longer set, but etcd auth is on, and only a restart turns it off: "
                + "keep the user and password in the file, or restart trousseaud without them.");
        }
    }

    /// <summary>
    /// API settings that no longer validate (the policies in force stay), or an <c>Api:Auth:Mode</c> other than the one
    /// the API started with, which it keeps until a restart.
    /// </summary>
    private void ApiReasons(List<string> refused, List<string> restart)
    {
        if (_api is null)
        {
            return;
        }

        var mode = _authMode;
        if (Refusal(() => mode = _api.Create(Options.DefaultName).Auth.Mode) is { } reason)
        {
            refused.Add(reason);
        }
        else if (mode != _authMode)
        {
            restart.Add(
                $"{ServerConfiguration.SectionName}:{AuthModeKey} is '{Spelt(mode)}' in the changed configuration, but the mode is read only at start: "
                + $"the API goes on authenticating as it started, in mode '{Spelt(_authMode)}', until trousseaud restarts.");
        }
    }

    /// <summary>
    /// The settings read only at start whose values changed, which take a restart, but for those another reason of
    /// the line already names (an <c>Api:Auth:Mode</c>, a value the next start would refuse, which would never take effect).
    /// </summary>
    private IEnumerable<string> RestartNeeded(List<string> refused)
    {
        var now = ServerSettings.ReadOnlyAtStart(_section);
        var named = now.Keys.Concat(_atStart.Keys).Where(key => refused.Any(reason => Names(reason, key)));
        var toldApart = _api is null ? named : named.Append(AuthModeKey);
        return ServerSettings.DescribeRestartNeeded(_atStart, now, toldApart) is { } restartNeeded ? [restartNeeded] : [];
    }

    /// <summary>Whether <paramref name="reason"/> names the setting <paramref name="key"/> (relative to the section), not merely one below it.</summary>
    private static bool Names(string reason, string key)
    {
        var full = $"{ServerConfiguration.SectionName}:{key}";
        for (var at = reason.IndexOf(full, StringComparison.OrdinalIgnoreCase); at >= 0; at = reason.IndexOf(full, at + 1, StringComparison.OrdinalIgnoreCase))
        {
            var end = at + full.Length;
            if (end == reason.Length || !(char.IsAsciiLetterOrDigit(reason[end]) || reason[end] == ':'))
            {
                return true;
            }
        }

        return false;
    }
}
