using Trousseau.Remote;

namespace Trousseau.Cli;

/// <summary>
/// Which trousseaud to call and with which token. Server: <c>--server</c>, else the context (<c>--context</c>, else
/// the current one), else <c>$TROUSSEAU_SERVER</c>, else http://127.0.0.1:8787. Token: <c>--token</c>, else
/// <c>$TROUSSEAU_TOKEN</c>, else <c>--token-file</c>, else the context's token file, else <c>api.token</c> in
/// <c>$TROUSSEAU_HOME</c> or <c>./.trousseau</c>.
/// </summary>
internal sealed record Connection(Uri Server, string? Token)
{
    public const string DefaultServer = "http://127.0.0.1:8787";

    public static Connection Resolve(string? server, string? token, string? tokenFile, string? contextName)
    {
        var contexts = CliContexts.Load(CliContexts.DefaultPath);
        CliContext? context = null;
        var chosen = contextName ?? contexts.Current;
        if (chosen is not null && !contexts.Contexts.TryGetValue(chosen, out context))
        {
            throw new CliUsageException($"No context named '{chosen}'; see clectl context list.");
        }

        server ??= context?.Server ?? Environment.GetEnvironmentVariable("TROUSSEAU_SERVER") ?? DefaultServer;
        if (!Uri.TryCreate(server, UriKind.Absolute, out var uri) || (uri.Scheme != Uri.UriSchemeHttp && uri.Scheme != Uri.UriSchemeHttps))
        {
            throw new CliUsageException($"'{server}' is not an http(s) URL.");
        }

        token ??= Environment.GetEnvironmentVariable("TROUSSEAU_TOKEN");
        token ??= ReadToken(tokenFile ?? context?.TokenFile ?? DefaultTokenFile(), explicitFile: tokenFile is not null || context?.TokenFile is not null);
        return new Connection(uri.AbsoluteUri.EndsWith('/') ? uri : new Uri(uri.AbsoluteUri + "/"), token);
    }

    public TrousseauClient CreateClient(HttpClient http) => new(http, Token);

    public HttpClient CreateHttpClient() => new() { BaseAddress = Server, Timeout = TimeSpan.FromSeconds(60) };

    private static string DefaultTokenFile()
    {
        var home = Environment.GetEnvironmentVariable("TROUSSEAU_HOME");
        return Path.Combine(string.IsNullOrEmpty(home) ? ".trousseau" : home, "api.token");
    }

    private static string? ReadToken(string path, bool explicitFile)
    {
        if (!File.Exists(path))
        {
            return explicitFile ? throw new CliUsageException($"Token file {path} does not exist.") : null;
        }

        var token = File.ReadAllText(path).Trim();
        return token.Length == 0 ? null : token;
    }
}
