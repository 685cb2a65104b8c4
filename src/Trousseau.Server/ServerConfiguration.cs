using System.Net;
using System.Net.Sockets;
using Microsoft.Extensions.Configuration.Memory;

namespace Trousseau.Server;

/// <summary>
/// trousseaud's configuration, lowest priority first: defaults derived from the data directory,
/// <c>appsettings.json</c> beside the executable, <c>--config FILE</c>, environment variables, the command line.
/// </summary>
internal static class ServerConfiguration
{
    public const string SectionName = "Trousseau";
    public const string DefaultUrls = "http://127.0.0.1:8787";

    private const string ConfigFlag = "--config";

    private static readonly Dictionary<string, string> FriendlyFlags = new(StringComparer.Ordinal)
    {
        ["--data-dir"] = "Trousseau:DataDir",
        ["--urls"] = "Trousseau:Api:Urls",
        ["--kms-socket"] = "Trousseau:Kms:Socket",
    };

    public static void Apply(ConfigurationManager configuration, string[] args, string environmentName)
    {
        var (configFile, rest) = SplitConfigFlag(args);
        configuration.Sources.Clear();
        configuration.AddJsonFile(Path.Combine(AppContext.BaseDirectory, "appsettings.json"), optional: true, reloadOnChange: false);
        configuration.AddJsonFile(Path.Combine(AppContext.BaseDirectory, $"appsettings.{environmentName}.json"), optional: true, reloadOnChange: false);
        if (configFile is not null)
        {
            configuration.AddJsonFile(Path.GetFullPath(configFile), optional: false, reloadOnChange: false);
        }

        configuration.AddEnvironmentVariables();
        configuration.AddCommandLine(rest, FriendlyFlags);

        var dataDir = Path.GetFullPath(configuration["Trousseau:DataDir"]
            ?? Environment.GetEnvironmentVariable("TROUSSEAU_HOME")
            ?? ".trousseau");
        configuration.Sources.Insert(0, new MemoryConfigurationSource { InitialData = Defaults(dataDir) });
    }

    /// <summary>Refuses <c>Api:Auth:Mode=none</c> unless every API URL is on loopback.</summary>
    public static void CheckAuthBinding(IConfiguration section, string urls)
    {
        if (!string.Equals(section["Api:Auth:Mode"], "none", StringComparison.OrdinalIgnoreCase))
        {
            return;
        }

        foreach (var url in urls.Split(';', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
        {
            if (!Uri.TryCreate(url, UriKind.Absolute, out var uri) || !IsLoopback(uri.Host))
            {
                throw new InvalidConfigurationException(
                    $"Trousseau:Api:Auth:Mode is 'none', which is allowed only when Trousseau:Api:Urls binds to loopback, not '{url}'.");
            }
        }
    }

    /// <summary>
    /// Fails with one line naming the address when another process already listens on one of the API's addresses,
    /// before anything starts. Addresses given by host name are left for Kestrel to bind.
    /// </summary>
    public static void CheckAddressesFree(string urls)
    {
        foreach (var url in urls.Split(';', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
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
        // Kestrel reads "*" and "+" as every address, which Uri does not parse as a host.
        var normalized = url.Replace("://*", "://0.0.0.0", StringComparison.Ordinal).Replace("://+", "://0.0.0.0", StringComparison.Ordinal);
        if (!Uri.TryCreate(normalized, UriKind.Absolute, out var uri) || uri.Port <= 0)
        {
            return null;
        }

        var address = uri.Host == "localhost" ? IPAddress.Loopback
            : IPAddress.TryParse(uri.Host.Trim('[', ']'), out var parsed) ? parsed
            : null;
        return address is null ? null : new IPEndPoint(address, uri.Port);
    }

    /// <summary>
    /// The backend that <c>Trousseau:<paramref name="key"/></c> names, matched without regard to case and returned
    /// as spelled in <paramref name="choices"/>; the first choice when the key is unset.
    /// </summary>
    public static string Choose(IConfiguration section, string key, params string[] choices)
    {
        var given = section[key];
        if (string.IsNullOrWhiteSpace(given))
        {
            return choices[0];
        }

        return choices.FirstOrDefault(c => string.Equals(c, given.Trim(), StringComparison.OrdinalIgnoreCase))
            ?? throw new InvalidConfigurationException(
                $"{SectionName}:{key} is '{given}', which trousseaud does not know: use one of {string.Join(", ", choices)} (case-insensitive).");
    }

    private static bool IsLoopback(string host) =>
        host is "localhost" || (IPAddress.TryParse(host, out var address) && IPAddress.IsLoopback(address));

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
