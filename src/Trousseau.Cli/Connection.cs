using System.Net;
using System.Net.Sockets;
using Trousseau.Remote;

namespace Trousseau.Cli;

/// <summary>
/// Which trousseaud servers to call, with which token and TLS files, flags first, then the environment, then the
/// configuration file. Servers: <c>--server</c>, the <c>--context</c> named, <c>$TROUSSEAU_SERVER</c>, the current
/// context, http://127.0.0.1:8787; each is one URL or a list tried in order (see <see cref="ServerFailover"/>).
/// Token: <c>--token</c>, <c>--token-file</c>, the token of the <c>--context</c> named, <c>$TROUSSEAU_TOKEN</c>, the
/// current context's token, <c>api.token</c> in the data directory (<c>$TROUSSEAU_HOME</c>, else <c>./.trousseau</c>).
/// CA file, and client certificate with its key: the options, else the <c>--context</c> named, else the current
/// context; they apply to every server. The current context stands aside when the environment names a server. A token
/// found rather than given goes only to the server it belongs to: a context's to that context's servers, the data
/// directory's to the default server; elsewhere none is sent. So each server of a list gets its own token, or none.
/// No token goes over plain http to a server that is not on this machine (see <see cref="RefuseClearText"/>) unless
/// <c>--allow-insecure-http</c>, <c>$TROUSSEAU_ALLOW_INSECURE_HTTP</c> or the context of that server allows it.
/// </summary>
/// <param name="Servers">The servers to call, in the order to try them; at least one.</param>
/// <param name="Tls">The CA file and client certificate to use over https.</param>
internal sealed record Connection(IReadOnlyList<ServerEndpoint> Servers, ConnectionTls Tls)
{
    public const string DefaultServer = "http://127.0.0.1:8787";

    private static readonly Uri DefaultUri = new(DefaultServer);

    /// <summary>Why a request failed when the server closed (or reset) the connection before any answer came.</summary>
    private const string ClosedWithoutAnswer = "trousseaud closed the connection without answering.";

    /// <summary>The environment variable that allows a token over plain http beyond this machine, as <c>--allow-insecure-http</c> does.</summary>
    public const string AllowInsecureHttpVariable = "TROUSSEAU_ALLOW_INSECURE_HTTP";

    public static Connection Resolve(string? server, string? token, string? tokenFile, ConnectionTls tls, string? contextName, bool allowInsecureHttp)
    {
        allowInsecureHttp |= AllowInsecureHttpFromEnvironment();
        var named = contextName is null ? null : FindContext(contextName);
        var environmentServer = NullIfEmpty(Environment.GetEnvironmentVariable("TROUSSEAU_SERVER"));
        var current = named is null && server is null && environmentServer is null ? CurrentContext() : null;

        var (list, source) = (server, named, environmentServer, current) switch
        {
            ({ } flag, _, _, _) => (flag, "--server"),
            (_, { } namedContext, _, _) => (namedContext.Context.Server, $"the server of context '{namedContext.Name}'"),
            (_, _, { } environment, _) => (environment, "$TROUSSEAU_SERVER"),
            (_, _, _, { } currentContext) => (currentContext.Context.Server, $"the server of context '{currentContext.Name}'"),
            _ => (DefaultServer, "the default server"),
        };
        var servers = ServerList.Parse(list, source)
            .Select(url =>
            {
                var (found, tokenSource) = FindToken(token, tokenFile, named, current, url);
                RefuseLineBreaks(found, tokenSource);
                return new ServerEndpoint(url, found, tokenSource);
            })
            .ToList();
        var context = (named ?? current)?.Context;
        foreach (var endpoint in servers)
        {
            var contextAllows = context is { AllowInsecureHttp: true } && AmongServers(context.Server, endpoint.Url);
            RefuseClearText(endpoint, allowInsecureHttp || contextAllows);
        }

        var (certFile, keyFile) = tls.CertFile is not null ? (tls.CertFile, tls.KeyFile) : (context?.CertFile, context?.KeyFile);
        return new Connection(servers, new ConnectionTls(tls.CaFile ?? context?.CaFile, certFile, keyFile));
    }

    /// <summary>
    /// A client for these servers: <see cref="ServerFailover"/>, in <paramref name="http"/>'s handlers, sends each
    /// server its own token.
    /// </summary>
    public static TrousseauClient CreateClient(HttpClient http) => new(http);

    /// <summary>
    /// The handler that sends requests, trusting the CA file and presenting the client certificate, giving up on a
    /// connection (TCP and TLS) after <see cref="ServerFailover.ConnectTimeout"/>, and through the environment's proxy
    /// for any server but one on this machine (see <see cref="LoopbackProxyBypass"/>); it calls
    /// <paramref name="requestWriting"/> before each write to a connection made (TCP and TLS), as a request goes out.
    /// </summary>
    public SocketsHttpHandler CreateHandler(Action requestWriting)
    {
        var handler = CreateTlsHandler(Tls);
        handler.ConnectTimeout = ServerFailover.ConnectTimeout;
        handler.Proxy = new LoopbackProxyBypass(HttpClient.DefaultProxy);
        handler.PlaintextStreamFilter = (context, _) => ValueTask.FromResult<Stream>(new RequestWriteWatch(context.PlaintextStream, requestWriting));
        return handler;
    }

    /// <summary>Reads <paramref name="tls"/>'s files as <see cref="CreateHandler"/> does: a usage error when one is missing or not PEM.</summary>
    public static void CheckTls(ConnectionTls tls) => CreateTlsHandler(tls).Dispose();

    private static SocketsHttpHandler CreateTlsHandler(ConnectionTls tls)
    {
        try
        {
            return TrousseauHttpHandler.Create(new TrousseauClientTlsOptions { CaFile = tls.CaFile, CertFile = tls.CertFile, KeyFile = tls.KeyFile });
        }
        catch (Exception e) when (e is IOException or InvalidDataException)
        {
            throw new CliUsageException($"{e.Message} (from --ca-file, --cert, --key or the context)");
        }
    }

    /// <summary>
    /// An <see cref="HttpClient"/> on <paramref name="failover"/> (or a handler around it), whose base address is the
    /// first server; the failover sends each request where it goes and bounds how long it waits for an answer.
    /// </summary>
    public HttpClient CreateHttpClient(HttpMessageHandler failover) =>
        new(failover) { BaseAddress = Servers[0].Url, Timeout = Timeout.InfiniteTimeSpan };

    /// <summary>
    /// Why a request to <paramref name="server"/> failed without an answer: for a failed TLS handshake, what the
    /// handshake said; for a connection that trousseaud closed unanswered over TLS, the likely cause, since a server
    /// that requires a client certificate (under TLS 1.3) refuses it only after the handshake; for one closed or reset
    /// unanswered over plain HTTP, that, rather than .NET's words, which speak of sending the request as though it had
    /// not been sent.
    /// </summary>
    public string Describe(ServerEndpoint server, HttpRequestException exception) => exception.HttpRequestError switch
    {
        HttpRequestError.SecureConnectionError => $"the TLS handshake failed: {exception.GetBaseException().Message}",
        HttpRequestError.ResponseEnded when server.Url.Scheme == Uri.UriSchemeHttps => $"{exception.Message} {ClosedUnanswered()}",
        HttpRequestError.ResponseEnded => ClosedWithoutAnswer,
        _ when exception.GetBaseException() is SocketException { SocketErrorCode: SocketError.ConnectionReset } => ClosedWithoutAnswer,
        _ => exception.Message,
    };

    private string ClosedUnanswered() => Tls.CertFile is null
        ? "trousseaud closed the connection without answering, as it does when it requires a client certificate (mutual TLS) and none was sent: give one with --cert and --key."
        : $"trousseaud closed the connection without answering, as it does when it requires a client certificate and does not accept {Tls.CertFile}: it must be issued under the CA of the server's Trousseau:Api:Tls:ClientCaFile.";

    /// <summary>
    /// The one line to print when <paramref name="server"/> answered 401: with no token but a client certificate over
    /// https, the certificate and the server's reason; where clectl looked when it had no token for it; else which token
    /// was refused; never the token itself.
    /// </summary>
    public string Unauthenticated(ServerEndpoint server, string serverDetail) => (server.Token, server.IsDefault) switch
    {
        (null, _) when Tls.CertFile is { } certificate && server.Url.Scheme == Uri.UriSchemeHttps =>
            $"trousseaud at {server} took no identity from the client certificate {certificate}, and clectl sent no API token: {serverDetail}",
        (null, true) =>
            $"trousseaud at {server} wants an API token and clectl found none; it looked for --token, --token-file, " +
            $"$TROUSSEAU_TOKEN, a context's token and {server.TokenSource}. Pass --token-file <data dir>/api.token, " +
            "set TROUSSEAU_HOME to trousseaud's data directory, or save both with " +
            "'clectl context set NAME --server URL --token-file FILE'.",
        (null, false) =>
            $"trousseaud at {server} wants an API token and clectl sent none: no --token, --token-file, $TROUSSEAU_TOKEN " +
            $"or context of this server gave one, and clectl sends {server.TokenSource} only to the default server {DefaultServer}. " +
            "Pass --token-file FILE or set TROUSSEAU_TOKEN, or save both with " +
            $"'clectl context set NAME --server {server} --token-file FILE'.",
        _ =>
            $"trousseaud at {server} refused the API token from {server.TokenSource} ({serverDetail.TrimEnd('.')}); " +
            "use the api.token of that server's data directory.",
    };

    /// <summary>
    /// Whether <paramref name="server"/> is the default server, the one <c>trousseaud</c> serves when started without
    /// <c>--urls</c>: http on port 8787 of the loopback address (spelt 127.0.0.1, localhost or [::1]).
    /// </summary>
    public static bool IsDefault(Uri server) =>
        server.Scheme == DefaultUri.Scheme
        && server.Port == DefaultUri.Port
        && server.AbsolutePath == "/"
        && server.Host is "127.0.0.1" or "localhost" or "[::1]";

    /// <summary>
    /// Refuses, before anything is sent, to send <paramref name="server"/>'s token over plain http to an address that
    /// is not on this machine (localhost, 127.0.0.0/8, [::1]), where it would cross the network in clear text, unless
    /// <paramref name="allowed"/>. A server given no token is called as it is.
    /// </summary>
    private static void RefuseClearText(ServerEndpoint server, bool allowed)
    {
        if (server.Token is null || allowed || server.Url.Scheme != Uri.UriSchemeHttp || server.Url.IsLoopback)
        {
            return;
        }

        var secure = new UriBuilder(server.Url) { Scheme = Uri.UriSchemeHttps, Port = server.Url.Port }.Uri;
        throw new CliUsageException(
            $"Refusing to send the API token (from {server.TokenSource}) to {server} over plain HTTP: that server is not on this machine, "
            + $"so the token would cross the network in clear text. Use https:// ({secure.AbsoluteUri}), or, on a network where clear text is acceptable, "
            + $"pass --allow-insecure-http, set {AllowInsecureHttpVariable}=1, or save that choice with 'clectl context set NAME --server {server} --allow-insecure-http'.");
    }

    /// <summary>
    /// Refuses, before anything is sent, a token that holds a line break or NUL (one copied with a Windows line end,
    /// <c>tok\r</c>), which no HTTP header may carry: naming where it came from, never the token.
    /// </summary>
    private static void RefuseLineBreaks(string? token, string source)
    {
        if (token is not null && token.AsSpan().IndexOfAny('\r', '\n', '\0') >= 0)
        {
            throw new CliUsageException(
                $"The API token from {source} holds a line break (or a NUL character), which no API token has and no HTTP header can carry; "
                + "give the token alone, on one line (a file written on Windows may end its lines with \\r).");
        }
    }

    /// <summary><c>$TROUSSEAU_ALLOW_INSECURE_HTTP</c>: 1 or true allows, 0, false or unset does not; anything else is refused.</summary>
    private static bool AllowInsecureHttpFromEnvironment() => Environment.GetEnvironmentVariable(AllowInsecureHttpVariable) switch
    {
        null or "" => false,
        var value when value == "1" || value.Equals("true", StringComparison.OrdinalIgnoreCase) => true,
        var value when value == "0" || value.Equals("false", StringComparison.OrdinalIgnoreCase) => false,
        var value => throw new CliUsageException(
            $"${AllowInsecureHttpVariable} is '{value}'; set it to 1 (or true) to allow sending the API token over plain HTTP to a server not on this machine, or to 0 (or false), or unset it."),
    };

    private static (string? Token, string Source) FindToken(string? token, string? tokenFile, NamedContext? named, NamedContext? current, Uri server)
    {
        if (NullIfEmpty(token) is { } fromFlag)
        {
            return (fromFlag, "--token");
        }

        if (tokenFile is not null)
        {
            return (ReadNamedToken(tokenFile, "--token-file"), $"--token-file {Path.GetFullPath(tokenFile)}");
        }

        if (named is not null && AmongServers(named.Context.Server, server) && FromContext(named) is { } fromNamed)
        {
            return fromNamed;
        }

        if (NullIfEmpty(Environment.GetEnvironmentVariable("TROUSSEAU_TOKEN")) is { } fromEnvironment)
        {
            return (fromEnvironment, "$TROUSSEAU_TOKEN");
        }

        if (current is not null && FromContext(current) is { } fromCurrent)
        {
            return fromCurrent;
        }

        var path = DataDirectory.TokenFile;
        var source = DataDirectory.FromEnvironment ? $"the token file {path} (from $TROUSSEAU_HOME)" : $"the token file {path} ($TROUSSEAU_HOME is not set)";
        return IsDefault(server) && File.Exists(path) && ReadToken(path, "the data directory's token file") is { } fromFile ? (fromFile, source) : (null, source);
    }

    private static bool AmongServers(string contextServers, Uri server) => ServerList.ParseOrEmpty(contextServers).Contains(server);

    private static (string? Token, string Source)? FromContext(NamedContext named) => named.Context switch
    {
        { Token: { Length: > 0 } stored } => (stored, $"context '{named.Name}'"),
        { TokenFile: { } file } => (ReadNamedToken(file, $"context '{named.Name}'"), $"the token file {file} of context '{named.Name}'"),
        _ => null,
    };

    private static NamedContext FindContext(string name)
    {
        var contexts = CliContexts.Load(CliContexts.DefaultPath);
        return contexts.Contexts.TryGetValue(name, out var context) ? new NamedContext(name, context) : throw contexts.Unknown(name);
    }

    private static NamedContext? CurrentContext()
    {
        var contexts = CliContexts.Load(CliContexts.DefaultPath);
        return contexts.Current is { } name && contexts.Contexts.TryGetValue(name, out var context) ? new NamedContext(name, context) : null;
    }

    private static string? NullIfEmpty(string? value) => string.IsNullOrEmpty(value) ? null : value;

    /// <summary>
    /// The token in the file a flag or a context names; a file that is missing, a directory or empty is an error, since
    /// sending no token would only earn a 401 that blames the server.
    /// </summary>
    public static string ReadNamedToken(string path, string namedBy)
    {
        var fullPath = Path.GetFullPath(path);
        if (Directory.Exists(fullPath))
        {
            throw new CliUsageException(
                $"The token file {fullPath} (from {namedBy}) is a directory; give the API token file in it, for example {Path.Combine(fullPath, "api.token")}.");
        }

        return ReadToken(path, namedBy) ?? throw new CliUsageException(
            $"The token file {fullPath} (from {namedBy}) is empty; it must hold the API token, as trousseaud writes it to api.token in its data directory.");
    }

    /// <summary>
    /// The token in the file, <see langword="null"/> when it is empty. A file that is not a regular one or that is larger
    /// than <see cref="TokenFileText.MaxBytes"/> (no token is) is an error, and is not read whole (see
    /// <see cref="TokenFileText"/>).
    /// </summary>
    private static string? ReadToken(string path, string namedBy)
    {
        var fullPath = Path.GetFullPath(path);
        if (!File.Exists(path))
        {
            throw new CliUsageException($"The token file {fullPath} (from {namedBy}) does not exist.");
        }

        string? token;
        using (var file = TokenFileText.Open(fullPath))
        {
            if (TokenFileText.NotRegular(file) is { } kind)
            {
                throw new CliUsageException($"The token file {fullPath} (from {namedBy}) is not a regular file but {kind}; give the file that holds the API token.");
            }

            token = TokenFileText.Read(file) ?? throw new CliUsageException(
                $"The token file {fullPath} (from {namedBy}) is larger than {TokenFileText.MaxBytes} bytes, which no API token is (trousseaud makes them 43 characters long); give the file that holds the API token alone.");
        }

        return token.Length == 0 ? null : token;
    }

    private sealed record NamedContext(string Name, CliContext Context);
}

/// <summary>One server of a connection, with the token clectl sends it.</summary>
/// <param name="Url">The trousseaud URL, ending in '/'.</param>
/// <param name="Token">The API token for this server, or <see langword="null"/> when none belongs to it (the server may need none).</param>
/// <param name="TokenSource">Where the token came from, for messages (never the token itself); where clectl looked when there is none.</param>
internal sealed record ServerEndpoint(Uri Url, string? Token, string TokenSource)
{
    /// <summary>Whether this is the default server (see <see cref="Connection.IsDefault"/>), the only one the data directory's token goes to.</summary>
    public bool IsDefault => Connection.IsDefault(Url);

    /// <summary>The URL; never the token.</summary>
    public override string ToString() => Url.AbsoluteUri;
}

/// <summary>The TLS files of a connection, as absolute paths, each <see langword="null"/> when not given.</summary>
internal sealed record ConnectionTls(string? CaFile, string? CertFile, string? KeyFile);

/// <summary>
/// Notes what the client does not report of trousseaud's answers: whether it answered 401, which the client reports as
/// forbidden like a 403.
/// </summary>
internal sealed class AnswerWatch(HttpMessageHandler inner) : DelegatingHandler(inner)
{
    public bool Unauthenticated { get; private set; }

    protected override async Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
    {
        var response = await base.SendAsync(request, cancellationToken);
        Unauthenticated |= response.StatusCode == HttpStatusCode.Unauthorized;
        return response;
    }
}
