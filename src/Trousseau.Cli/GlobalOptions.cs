using System.CommandLine;

namespace Trousseau.Cli;

/// <summary>The options every clectl command takes.</summary>
internal static class GlobalOptions
{
    public static readonly Option<string?> Server = new("--server")
    {
        Description = "trousseaud URL, or several separated by commas, tried in order: clectl moves to the next when a "
            + $"server cannot be reached (connection refused, unknown host, no connection within {ServerFailover.ConnectTimeout.TotalSeconds:0} s, TLS handshake failed), "
            + "and a read also past a 5xx or 429, an answer cut off or none in time; a write that may have reached a server goes nowhere else, so it is never sent twice. "
            + "Else the context, $TROUSSEAU_SERVER, or " + Cli.Connection.DefaultServer + ".",
        HelpName = "URL[,URL...]",
        Recursive = true,
    };

    public static readonly Option<string?> Token = new("--token")
    {
        Description = "API token (else --token-file, the context's token, $TROUSSEAU_TOKEN, or, for the default server only, api.token in the data directory: " + DataDirectory.Rule + ").",
        Recursive = true,
    };

    public static readonly Option<string?> TokenFile = new("--token-file")
    {
        Description = "File holding the API token (trousseaud writes it to api.token in its data directory).",
        Recursive = true,
    };

    public static readonly Option<string?> CaFile = new("--ca-file")
    {
        Description = "PEM file of the CA that trousseaud's certificate must chain to, instead of the system's (else the context's).",
        Recursive = true,
    };

    public static readonly Option<string?> Cert = new("--cert")
    {
        Description = "PEM client certificate for mutual TLS, with --key (else the context's).",
        Recursive = true,
    };

    public static readonly Option<string?> ClientKey = new("--key")
    {
        Description = "PEM private key of --cert. Give it before the command: after secret get, generate and regenerate, --key names a secret's key.",
        Recursive = true,
    };

    public static readonly Option<string?> Context = new("--context")
    {
        Description = "Use this named context instead of the current one.",
        Recursive = true,
    };

    public static readonly Option<bool> AllowInsecureHttp = new("--allow-insecure-http")
    {
        Description = "Send the API token over plain http:// to a server that is not on this machine, where it crosses the network in clear text "
            + "(else $" + Cli.Connection.AllowInsecureHttpVariable + "=1, or the context's); without it clectl refuses and sends nothing. "
            + "Only for a network where clear text is acceptable; use https:// otherwise.",
        Recursive = true,
    };

    public static readonly Option<double> RequestTimeout = CreateRequestTimeoutOption();

    public static readonly Option<OutputFormat> Output = CreateOutputOption();

    public static readonly Option<bool> Raw = new("--raw")
    {
        Description = "Print secret values as stored, control characters too (on a terminal they are shown escaped).",
        Recursive = true,
    };

    public static IEnumerable<Option> All => [Server, Token, TokenFile, CaFile, Cert, ClientKey, Context, AllowInsecureHttp, RequestTimeout, Output, Raw];

    public static Connection Connection(ParseResult parse) =>
        Cli.Connection.Resolve(parse.GetValue(Server), parse.GetValue(Token), parse.GetValue(TokenFile), Tls(parse), parse.GetValue(Context), parse.GetValue(AllowInsecureHttp));

    /// <summary>The TLS files given as options, as absolute paths; a certificate needs its key and the reverse.</summary>
    public static ConnectionTls Tls(ParseResult parse)
    {
        var cert = parse.GetValue(Cert);
        var key = parse.GetValue(ClientKey);
        if ((cert is null) != (key is null))
        {
            throw new CliUsageException(cert is null
                ? "--key needs --cert: give the client certificate and its key together (before the command)."
                : "--cert needs --key: give the client certificate and its key together (before the command).");
        }

        return new ConnectionTls(FullPath(parse.GetValue(CaFile)), FullPath(cert), FullPath(key));
    }

    /// <summary>
    /// The failover over the resolved connection's servers, waiting for each answer as long as
    /// <c>--request-timeout</c> says.
    /// </summary>
    public static ServerFailover Failover(ParseResult parse)
    {
        var connection = Connection(parse);
        return new ServerFailover(connection, TimeSpan.FromSeconds(parse.GetValue(RequestTimeout)));
    }

    private static string? FullPath(string? path) => path is null ? null : Path.GetFullPath(path);

    private static Option<double> CreateRequestTimeoutOption() => new("--request-timeout")
    {
        Description = $"How long to wait for a server's answer once connected, in seconds (default {ServerFailover.DefaultAnswerTimeout.TotalSeconds:0}); "
            + "a server that does not answer in time ends a write with exit 6 (a read moves on to the next server of a list).",
        HelpName = "SECONDS",
        Recursive = true,
        DefaultValueFactory = _ => ServerFailover.DefaultAnswerTimeout.TotalSeconds,
        CustomParser = result => NumberOptions.Seconds(
            result, ServerFailover.MaxAnswerTimeout.TotalSeconds, ServerFailover.DefaultAnswerTimeout.TotalSeconds, "for example --request-timeout 120"),
    };

    private static Option<OutputFormat> CreateOutputOption()
    {
        var option = new Option<OutputFormat>("--output", "-o")
        {
            Description = "Output format: table (the default), json or yaml.",
            HelpName = "table|json|yaml",
            Recursive = true,
            CustomParser = result =>
            {
                var value = result.Tokens[0].Value;
                switch (value.ToLowerInvariant())
                {
                    case "table":
                        return OutputFormat.Table;
                    case "json":
                        return OutputFormat.Json;
                    case "yaml":
                        return OutputFormat.Yaml;
                    default:
                        result.AddError($"'{value}' is not an output format; use -o table, -o json or -o yaml.");
                        return OutputFormat.Table;
                }
            },
        };
        option.CompletionSources.Clear();
        option.CompletionSources.Add("table", "json", "yaml");
        return option;
    }
}
