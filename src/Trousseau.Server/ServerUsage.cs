using System.Reflection;

namespace Trousseau.Server;

/// <summary>What <c>trousseaud --help</c> and <c>trousseaud --version</c> print.</summary>
internal static class ServerUsage
{
    private const string Help = """
        trousseaud: the Trousseau secrets broker (HTTP API) and Kubernetes KMS plugin (Unix socket).

        Usage: trousseaud [options] [--Trousseau:Key=value ...]

        Options:
          --data-dir DIR      Data directory: key ring, SQLite store, API token, KMS socket
                              (default: $TROUSSEAU_HOME, else ./.trousseau).
          --urls URL[;URL]    HTTP API addresses (Trousseau:Api:Urls; default http://127.0.0.1:8787).
                              https:// needs Trousseau:Api:Tls:CertFile and KeyFile; plain http://
                              beyond loopback needs Trousseau:Api:AllowInsecureHttp=true.
          --kms-socket PATH   KMS plugin socket (Trousseau:Kms:Socket; default <data dir>/kms.sock).
          --config FILE       A JSON file with a "Trousseau" section, over appsettings.json.
          --Trousseau:Key=V   Any setting, for example --Trousseau:KeyProvider=vault (also as the
                              environment variable Trousseau__KeyProvider=vault).
          -h, --help          Show this help.
          --version           Show the version.

        Settings are read from appsettings.json beside the executable, --config FILE, environment
        variables and the command line, each over the one before. Every key is listed in
        docs/reference.md of the Trousseau repository.

        Exit codes: 0 stopped normally, 1 could not start (address in use, a file or directory
        that cannot be read or written, dependency down), 2 invalid configuration.
        """;

    /// <summary>The text to print instead of starting, or <see langword="null"/> to start the server.</summary>
    public static string? Requested(string[] args)
    {
        if (args.Any(a => a is "--help" or "-h" or "-?"))
        {
            return Help;
        }

        return args.Contains("--version") ? $"trousseaud {Version}" : null;
    }

    /// <summary>The informational version, for example <c>0.1.0+commit</c>.</summary>
    public static string Version { get; } =
        typeof(ServerUsage).Assembly.GetCustomAttribute<AssemblyInformationalVersionAttribute>()?.InformationalVersion ?? "unknown";
}
