using Trousseau.Remote;

namespace Trousseau.Cli;

/// <summary>
/// Which trousseaud to call and with which token, flags first, then the environment, then the configuration
/// file. Server: <c>--server</c>, the <c>--context</c> named, <c>$TROUSSEAU_SERVER</c>, the current context,
/// http://127.0.0.1:8787. Token: <c>--token</c>, <c>--token-file</c>, the token file of the <c>--context</c> named,
/// <c>$TROUSSEAU_TOKEN</c>, the current context's token file, <c>api.token</c> in <c>$TROUSSEAU_HOME</c> or
/// <c>./.trousseau</c>. The current context stands aside when the environment names a server.
/// </summary>
internal sealed record Connection(Uri Server, string? Token)
{
    public const string DefaultServer = "http://127.0.0.1:8787";

    public static Connection Resolve(string? server, string? token, string? tokenFile, string? contextName)
    {
        var named = contextName is null ? null : FindContext(contextName);
        var environmentServer = Environment.GetEnvironmentVariable("TROUSSEAU_SERVER");
        var current = named is null && server is null && string.IsNullOrEmpty(environmentServer) ? CurrentContext() : null;

        server ??= named?.Server ?? (string.IsNullOrEmpty(environmentServer) ? null : environmentServer) ?? current?.Server ?? DefaultServer;
        if (!Uri.TryCreate(server, UriKind.Absolute, out var uri) || (uri.Scheme != Uri.UriSchemeHttp && uri.Scheme != Uri.UriSchemeHttps))
        {
            throw new CliUsageException($"'{server}' is not an http(s) URL.");
        }

        tokenFile ??= named?.TokenFile;
        token ??= tokenFile is not null ? ReadToken(tokenFile, explicitFile: true) : null;
        token ??= NullIfEmpty(Environment.GetEnvironmentVariable("TROUSSEAU_TOKEN"));
        token ??= current?.TokenFile is { } currentFile ? ReadToken(currentFile, explicitFile: true) : ReadToken(DefaultTokenFile(), explicitFile: false);
        return new Connection(uri.AbsoluteUri.EndsWith('/') ? uri : new Uri(uri.AbsoluteUri + "/"), token);
    }

    private static CliContext FindContext(string name) =>
        CliContexts.Load(CliContexts.DefaultPath).Contexts.TryGetValue(name, out var context)
            ? context
            : throw new CliUsageException($"No context named '{name}'; see clectl context list.");

    private static CliContext? CurrentContext()
    {
        var contexts = CliContexts.Load(CliContexts.DefaultPath);
        return contexts.Current is { } name && contexts.Contexts.TryGetValue(name, out var context) ? context : null;
    }

    private static string? NullIfEmpty(string? value) => string.IsNullOrEmpty(value) ? null : value;

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
