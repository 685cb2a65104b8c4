using System.Net;
using System.Net.Sockets;
using Microsoft.Extensions.Configuration.Memory;
using Microsoft.Extensions.FileProviders;
using Trousseau.Hosting;

namespace Trousseau.Server;

/// <summary>
/// trousseaud's configuration, lowest priority first: defaults derived from the data directory,
/// <c>appsettings.json</c> beside the executable, <c>--config FILE</c>, environment variables, the command line.
/// The JSON files are polled for changes, so that the settings that follow a change (the etcd user and password, log
/// levels) see an edited file without a restart; every other setting is read once, at start.
/// </summary>
internal static class ServerConfiguration
{
    public const string SectionName = "Trousseau";
    public const string DefaultUrls = "http://127.0.0.1:8787";

    /// <summary><c>Api:Urls</c> of trousseaud's <paramref name="section"/>, else <see cref="DefaultUrls"/>.</summary>
    public static string Urls(IConfiguration section) => section["Api:Urls"] ?? DefaultUrls;

    private const string ConfigFlag = "--config";
    private const string HomeVariable = "TROUSSEAU_HOME";

    private static readonly Dictionary<string, string> FriendlyFlags = new(StringComparer.Ordinal)
    {
        ["--data-dir"] = "Trousseau:DataDir",
        ["--urls"] = "Trousseau:Api:Urls",
        ["--kms-socket"] = "Trousseau:Kms:Socket",
    };

    /// <summary>The settings that name a file, each with the name of an example file.</summary>
    private static readonly Dictionary<string, string> FileExamples = new(StringComparer.Ordinal)
    {
        ["Local:KeyFile"] = "local.keyring",
        ["Sqlite:Path"] = "store.db",
        ["Audit:Path"] = "audit.log",
        ["Api:Auth:TokenFile"] = "api.token",
        ["Kms:Socket"] = "kms.sock",
        ["Api:Tls:CertFile"] = "tls.crt",
        ["Api:Tls:KeyFile"] = "tls.key",
        ["Api:Tls:ClientCaFile"] = "clients-ca.pem",
        ["Vault:CaFile"] = "vault-ca.pem",
        ["Vault:Auth:TokenFile"] = "vault.token",
        ["Vault:Auth:JwtFile"] = "sa.token",
        ["Vault:Auth:SecretIdFile"] = "secret-id",
        ["Etcd:CaFile"] = "etcd-ca.pem",
        ["Etcd:CertFile"] = "etcd.crt",
        ["Etcd:KeyFile"] = "etcd.key",
    };

    public static void Apply(ConfigurationManager configuration, string[] args, string environmentName)
    {
        var (configFile, rest) = SplitConfigFlag(args);
        if (configFile is not null && string.IsNullOrWhiteSpace(configFile))
        {
            throw new InvalidConfigurationException($"{ConfigFlag} is '{configFile}', which names no file: give the path of a JSON file of settings, or leave {ConfigFlag} out.");
        }

        configuration.Sources.Clear();
        AddWatchedJsonFile(configuration, Path.Combine(AppContext.BaseDirectory, "appsettings.json"), optional: true);
        AddWatchedJsonFile(configuration, Path.Combine(AppContext.BaseDirectory, $"appsettings.{environmentName}.json"), optional: true);
        if (configFile is not null)
        {
            AddWatchedJsonFile(configuration, Path.GetFullPath(configFile), optional: false);
        }

        configuration.AddEnvironmentVariables();
        configuration.AddCommandLine(rest, FriendlyFlags);

        var dataDir = Path.GetFullPath(DataDir(configuration));
        configuration.Sources.Insert(0, new MemoryConfigurationSource { InitialData = Defaults(dataDir) });
    }

    /// <summary>
    /// The data directory as given: <c>Trousseau:DataDir</c> from any source, else <c>TROUSSEAU_HOME</c> unless it is
    /// empty (as clectl reads it), else <c>.trousseau</c>. One that is empty or blank is refused, naming what gave it,
    /// rather than taken for the working directory or a directory named by blanks.
    /// </summary>
    private static string DataDir(ConfigurationManager configuration)
    {
        var (given, origin) = configuration[$"{SectionName}:DataDir"] is { } setting ? (setting, $"{SectionName}:DataDir")
            : Environment.GetEnvironmentVariable(HomeVariable) is { Length: > 0 } home ? (home, HomeVariable)
            : (".trousseau", null);
        if (string.IsNullOrWhiteSpace(given))
        {
            throw new InvalidConfigurationException(
                $"{origin} is '{given}', which names no directory: give the data directory (created when missing) with --data-dir, {SectionName}:DataDir or {HomeVariable}.");
        }

        if (WhyNotAsMeant(given) is { } why)
        {
            throw new InvalidConfigurationException($"{origin} is '{given}', {why}");
        }

        return given;
    }

    /// <summary>
    /// Refuses a path setting that would not lead where it was meant to: one with spaces at its start or end, taken as
    /// part of a name; one starting with <c>~</c>, which only a shell expands (trousseaud would make a directory named
    /// <c>~</c> in its working directory); and a file's path ending with <c>/</c>, which names a directory (trousseaud
    /// would make that directory and then fail to use it as a file, after the start).
    /// </summary>
    public static void CheckPaths(IConfiguration section)
    {
        foreach (var key in FileExamples.Keys)
        {
            if (section[key] is not { Length: > 0 } path)
            {
                continue;
            }

            if (WhyNotAsMeant(path) is { } why)
            {
                throw new InvalidConfigurationException($"{SectionName}:{key} is '{path}', {why}");
            }

            if (path.EndsWith('/') || path.EndsWith("/.", StringComparison.Ordinal) || path.EndsWith("/..", StringComparison.Ordinal) || path is "." or "..")
            {
                throw new InvalidConfigurationException(
                    $"{SectionName}:{key} is '{path}', which names a directory: it must be the path of a file (for example {Path.Combine("/var/lib/trousseau", FileExamples[key])}).");
            }
        }
    }

    /// <summary>
    /// Why <paramref name="path"/> would not lead where it was meant to, as a clause that follows it: spaces at its start
    /// or end, which would be part of a name (<c>' /var/lib/trousseau'</c> names a directory <c>' '</c> in the working
    /// directory), or a <c>~</c>, which only a shell expands; <see langword="null"/> otherwise.
    /// </summary>
    private static string? WhyNotAsMeant(string path) =>
        path.Trim() != path
            ? "with spaces at its start or end, which trousseaud would take as part of a name (' /var/lib/trousseau' is a directory named ' ' in its working directory): remove them."
        : path == "~" || path.StartsWith("~/", StringComparison.Ordinal)
            ? "and trousseaud does not expand ~ as a shell does (it would make a directory named ~ in its working directory): write the full path."
            : null;

    /// <summary>
    /// Adds a JSON file that is read again when it changes. Its modification time is polled (every 4 s, through
    /// symbolic links) rather than watched with inotify: a Kubernetes ConfigMap or Secret volume replaces its files by
    /// swapping a symbolic link, which an inotify watch of the file's directory does not report, and each watch would
    /// hold one of the few inotify instances a user may have.
    /// </summary>
    private static void AddWatchedJsonFile(ConfigurationManager configuration, string path, bool optional) =>
        configuration.AddJsonFile(source =>
        {
            source.Path = path;
            source.Optional = optional;
            source.ReloadOnChange = true;
            source.ResolveFileProvider();
            if (source.FileProvider is PhysicalFileProvider files)
            {
                files.UsePollingFileWatcher = true;
                files.UseActivePolling = true;
            }
        });

    /// <summary>
    /// Refuses a data directory that is a file, before any of the files below it is tried: each would fail on its
    /// own, naming a file inside it, and the missing key ring's check would ask for a backup that nothing lost.
    /// </summary>
    public static void CheckDataDir(IConfiguration section)
    {
        var dataDir = section["DataDir"]!;
        if (WritableLocation.FileInTheWay(dataDir) is not { } file)
        {
            return;
        }

        throw new InvalidConfigurationException(file == dataDir
            ? $"{SectionName}:DataDir is '{dataDir}', which is a file, not a directory: give the path of a directory (created when missing) with --data-dir, "
                + $"{SectionName}:DataDir or TROUSSEAU_HOME."
            : $"{SectionName}:DataDir is '{dataDir}', which cannot be a directory: {file} is a file. Give the path of a directory (created when missing) "
                + $"with --data-dir, {SectionName}:DataDir or TROUSSEAU_HOME.");
    }

    /// <summary>
    /// Refuses, with one line naming it and the setting that chose it, a data directory in which this process cannot
    /// create files (no write permission for its user, a read-only file system), when trousseaud would create one of its
    /// files there: else the first file tried there would fail in its own words (the audit trail, the key ring).
    /// </summary>
    /// <param name="configuration">trousseaud's configuration, with its sources.</param>
    /// <param name="files">The files trousseaud may create at start, with the keys that name them.</param>
    /// <exception cref="IOException">The directory cannot be written.</exception>
    public static void CheckDataDirWritable(IConfigurationRoot configuration, IEnumerable<string> files)
    {
        var dataDir = configuration[$"{SectionName}:DataDir"]!;
        var within = dataDir.TrimEnd('/') + "/";
        if (files.Any(f => Path.GetFullPath(f).StartsWith(within, StringComparison.Ordinal))
            && WritableLocation.WhyNoFileCanBeCreatedIn(dataDir) is { } why)
        {
            throw new IOException(
                $"The data directory {dataDir} (chosen by {DataDirOrigin(configuration)}) {why}, and trousseaud creates its files there: give the user it runs as "
                + $"({Environment.UserName}) write access there, or choose another directory with --data-dir, {SectionName}:DataDir or TROUSSEAU_HOME.");
        }
    }

    /// <summary>What chose the data directory: the setting (from any source, --data-dir among them), TROUSSEAU_HOME, or the default.</summary>
    private static string DataDirOrigin(IConfigurationRoot configuration)
    {
        // The first source holds the defaults derived from the data directory (see Apply).
        if (configuration.Providers.Skip(1).Any(p => p.TryGet($"{SectionName}:DataDir", out var value) && value is not null))
        {
            return $"{SectionName}:DataDir, which --data-dir sets";
        }

        return string.IsNullOrEmpty(Environment.GetEnvironmentVariable(HomeVariable)) ? "default, .trousseau in the working directory" : HomeVariable;
    }

    /// <summary>
    /// Refuses <c>Kestrel:Endpoints</c>, which Kestrel would serve instead of <c>Trousseau:Api:Urls</c>, on addresses
    /// and with certificates that none of trousseaud's checks would have seen.
    /// </summary>
    public static void RefuseKestrelEndpoints(IConfiguration configuration)
    {
        if (configuration.GetSection("Kestrel:Endpoints").GetChildren().Any())
        {
            throw new InvalidConfigurationException(
                $"Kestrel:Endpoints is set, but trousseaud listens on {SectionName}:Api:Urls (--urls) only, with the TLS settings of {SectionName}:Api:Tls: "
                + $"put each endpoint's URL in {SectionName}:Api:Urls (separated by ';') and remove Kestrel:Endpoints.");
        }
    }

    /// <summary>
    /// Refuses an <c>Api:Urls</c> that Kestrel cannot serve as written, before any check reads it or any file is made:
    /// no URL at all (which Kestrel would take for http://localhost:5000), one that is not an absolute http(s) URL
    /// with a port from 0 to 65535, one with a path (Kestrel serves none), and one with a user name or password, which
    /// nothing uses and which is not shown, and <c>http://unix:/PATH</c>, Kestrel's Unix socket address, whose socket nothing
    /// here would make owner-only, check or remove when stale (as the KMS socket's).
    /// </summary>
    public static void CheckUrls(string urls)
    {
        const string key = $"{SectionName}:Api:Urls";
        var each = Split(urls);
        if (each.Length == 0)
        {
            throw new InvalidConfigurationException(
                $"{key} is '{urls}', which holds no URL: give one or more, separated by ';', with --urls or {key} (default {DefaultUrls}).");
        }

        foreach (var url in each)
        {
            if (url.Contains('@', StringComparison.Ordinal))
            {
                throw new InvalidConfigurationException(
                    $"{key} has a URL with a user name or password before '@', not shown here, which trousseaud never uses: write it as http(s)://HOST:PORT.");
            }

            if (url.StartsWith("http://unix:", StringComparison.OrdinalIgnoreCase) || url.StartsWith("https://unix:", StringComparison.OrdinalIgnoreCase))
            {
                throw new InvalidConfigurationException(
                    $"{key} has '{url}', a Unix socket, on which trousseaud does not serve HTTP (nothing would set its mode, check its directory or replace "
                    + $"a stale one, as for the KMS socket): give http(s)://HOST:PORT, such as {DefaultUrls}, and the KMS plugin's socket with --kms-socket.");
            }

            if (AsUri(url) is not { } uri || (uri.Scheme != Uri.UriSchemeHttp && uri.Scheme != Uri.UriSchemeHttps) || uri.Host.Length == 0)
            {
                throw new InvalidConfigurationException(
                    $"{key} has '{url}', which is not an http:// or https:// URL with a host and a port from 0 to 65535, such as {DefaultUrls}.");
            }

            if (uri.PathAndQuery != "/" || uri.Fragment.Length > 0)
            {
                throw new InvalidConfigurationException(
                    $"{key} has '{url}', whose path {uri.PathAndQuery}{uri.Fragment} trousseaud cannot serve: it serves its routes at the root of each address. "
                    + "Write http(s)://HOST:PORT, and let a proxy in front of trousseaud add a path.");
            }
        }
    }

    /// <summary>
    /// Refuses an <c>https://</c> URL without a certificate to serve, a certificate with no <c>https://</c> URL to serve
    /// it on (which would leave the API on plain HTTP unawares), and HTTPS while the API is off.
    /// </summary>
    public static void CheckTls(IConfiguration section, string urls, bool apiEnabled)
    {
        var https = Split(urls).FirstOrDefault(IsHttps);
        var hasCertificate = !string.IsNullOrWhiteSpace(section["Api:Tls:CertFile"]);
        if (https is not null && !apiEnabled)
        {
            throw new InvalidConfigurationException(
                $"{SectionName}:Api:Urls has '{https}', but with {SectionName}:Api:Enabled false trousseaud serves only its probes, over plain HTTP: use an http:// URL.");
        }

        if (https is not null && !hasCertificate)
        {
            throw new InvalidConfigurationException(
                $"{SectionName}:Api:Urls has '{https}', which needs a certificate: set {SectionName}:Api:Tls:CertFile and {SectionName}:Api:Tls:KeyFile (PEM files).");
        }

        if (https is null && hasCertificate && apiEnabled)
        {
            throw new InvalidConfigurationException(
                $"{SectionName}:Api:Tls:CertFile is set, but no URL of {SectionName}:Api:Urls ('{urls}') is https://, so the API would be served without TLS: "
                + "use https://HOST:PORT, or remove the TLS settings.");
        }
    }

    /// <summary>
    /// Refuses to serve the API where callers would authenticate in the clear or not at all: with <paramref name="mode"/>
    /// none, every URL must be on loopback; with a bearer token or a Kubernetes token, every plain <c>http://</c> URL must
    /// be on loopback unless <c>Api:AllowInsecureHttp</c> is true (a TLS proxy in front of trousseaud).
    /// </summary>
    public static void CheckAuthBinding(IConfiguration section, TrousseauApiAuthMode mode)
    {
        var urls = Urls(section);
        var allowInsecureHttp = section.GetValue<bool>("Api:AllowInsecureHttp");
        foreach (var url in Split(urls).Where(u => !IsLoopback(u)))
        {
            if (mode == TrousseauApiAuthMode.None)
            {
                throw new InvalidConfigurationException(
                    $"{SectionName}:Api:Auth:Mode is 'none', which is allowed only when every URL of {SectionName}:Api:Urls is on loopback, not '{url}'.");
            }

            if (!IsHttps(url) && !allowInsecureHttp)
            {
                throw new InvalidConfigurationException(
                    $"{SectionName}:Api:Urls has '{url}', plain HTTP beyond loopback, where callers' credentials ({SectionName}:Api:Auth:Mode is "
                    + $"'{mode.ToString().ToLowerInvariant()}') would cross the network in the clear: serve https:// with {SectionName}:Api:Tls:CertFile and KeyFile, "
                    + $"listen on loopback, or set {SectionName}:Api:AllowInsecureHttp=true when a TLS proxy in front of trousseaud encrypts the traffic.");
            }
        }
    }

    /// <summary>
    /// Fails with one line naming the address when another process already listens on one of the API's addresses,
    /// before anything starts. Addresses given by host name are left for Kestrel to bind.
    /// </summary>
    public static void CheckAddressesFree(string urls)
    {
        foreach (var url in Split(urls))
        {
            if (ListenAddress(url) is not { } endpoint)
            {
                continue;
            }

            var probe = new TcpListener(endpoint);
            try
            {
                probe.Start();
            }
            catch (SocketException e) when (e.SocketErrorCode == SocketError.AddressAlreadyInUse)
            {
                throw new IOException($"{url} is already in use by another process; stop it or choose another address with --urls.", e);
            }
            finally
            {
                probe.Stop();
            }
        }
    }

    private static IPEndPoint? ListenAddress(string url)
    {
        if (AsUri(url) is not { } uri || uri.Port <= 0)
        {
            return null;
        }

        var address = uri.Host == "localhost" ? IPAddress.Loopback
            : IPAddress.TryParse(uri.Host.Trim('[', ']'), out var parsed) ? parsed
            : null;
        return address is null ? null : new IPEndPoint(address, uri.Port);
    }

    /// <summary>
    /// <paramref name="url"/> of <c>Api:Urls</c> as a <see cref="Uri"/>, with Kestrel's <c>*</c> and <c>+</c> (every
    /// address, which <see cref="Uri"/> does not parse as a host) read as 0.0.0.0; <see langword="null"/> when it is no
    /// absolute URL.
    /// </summary>
    private static Uri? AsUri(string url) =>
        Uri.TryCreate(
            url.Replace("://*", "://0.0.0.0", StringComparison.Ordinal).Replace("://+", "://0.0.0.0", StringComparison.Ordinal),
            UriKind.Absolute,
            out var uri)
            ? uri
            : null;

    /// <summary>
    /// The backend that <c>Trousseau:<paramref name="key"/></c> names, matched without regard to case (as the library's
    /// own check matches it, so not trimmed) and returned as spelled in <paramref name="choices"/>; the first choice
    /// when the key is unset. A value that is empty or blank is refused, naming every choice.
    /// </summary>
    public static string Choose(IConfiguration section, string key, params string[] choices)
    {
        var given = section[key];
        if (given is null)
        {
            return choices[0];
        }

        var named = $"use one of {string.Join(", ", choices)} (case-insensitive)";
        if (string.IsNullOrWhiteSpace(given))
        {
            throw new InvalidConfigurationException($"{SectionName}:{key} is '{given}', which names none: {named}, or leave it out for {choices[0]}.");
        }

        return choices.FirstOrDefault(c => string.Equals(c, given, StringComparison.OrdinalIgnoreCase))
            ?? throw new InvalidConfigurationException($"{SectionName}:{key} is '{given}', which trousseaud does not know: {named}.");
    }

    private static string[] Split(string urls) => urls.Split(';', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);

    private static bool IsHttps(string url) => url.StartsWith("https://", StringComparison.OrdinalIgnoreCase);

    /// <summary>
    /// Whether Kestrel binds <paramref name="url"/> to loopback only: <c>localhost</c> or a loopback address. Any other
    /// host name, <c>*</c> and <c>+</c> bind every interface.
    /// </summary>
    private static bool IsLoopback(string url) => Uri.TryCreate(url, UriKind.Absolute, out var uri) && uri.IsLoopback;

    private static Dictionary<string, string?> Defaults(string dataDir) => new(StringComparer.OrdinalIgnoreCase)
    {
        ["Trousseau:DataDir"] = dataDir,
        ["Trousseau:KeyProvider"] = "local",
        ["Trousseau:Store"] = "sqlite",
        ["Trousseau:Local:KeyFile"] = Path.Combine(dataDir, "local.keyring"),
        ["Trousseau:Sqlite:Path"] = Path.Combine(dataDir, "store.db"),
        ["Trousseau:Kms:Socket"] = Path.Combine(dataDir, "kms.sock"),
        ["Trousseau:Api:Urls"] = DefaultUrls,
        ["Trousseau:Api:Auth:TokenFile"] = Path.Combine(dataDir, "api.token"),
        ["Trousseau:Audit:Path"] = Path.Combine(dataDir, "audit.log"),
    };

    private static (string? ConfigFile, string[] Remaining) SplitConfigFlag(string[] args)
    {
        string? configFile = null;
        var rest = new List<string>(args.Length);
        for (var i = 0; i < args.Length; i++)
        {
            if (args[i] == ConfigFlag)
            {
                configFile = i + 1 < args.Length ? args[++i] : throw new InvalidConfigurationException($"{ConfigFlag} needs a file path.");
            }
            else if (args[i].StartsWith(ConfigFlag + "=", StringComparison.Ordinal))
            {
                configFile = args[i][(ConfigFlag.Length + 1)..];
            }
            else
            {
                rest.Add(args[i]);
            }
        }

        return (configFile, [.. rest]);
    }
}
