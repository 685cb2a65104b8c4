using System.CommandLine;
using System.CommandLine.Completions;

namespace Trousseau.Cli;

/// <summary><c>clectl context set|use|delete|list</c>: several trousseaud instances, one current.</summary>
internal static class ContextCommands
{
    private static readonly Argument<string> Name = new("name")
    {
        Description = "The context's name.",
        CompletionSources = { _ => CliContexts.Load(CliContexts.DefaultPath).Contexts.Keys.Select(name => new CompletionItem(name)) },
    };

    public static Command Create(CliConsole console)
    {
        var context = new Command("context", "Name trousseaud instances and choose the current one.");

        var set = new Command(
            "set",
            "Add or change a context: --server URL (or URL,URL... tried in order), --token-file FILE or --token T (kept in the owner-only contexts file), for TLS --ca-file FILE and --cert FILE --key FILE (their paths), and --allow-insecure-http to let the token go over plain http to these servers when they are not on this machine; the first one becomes current.")
        {
            Name,
        };
        CliAction.Set(set, console, async (parse, _) =>
        {
            var name = parse.GetValue(Name)!;
            if (string.IsNullOrWhiteSpace(name))
            {
                throw new CliUsageException("A context needs a name, for example 'clectl context set prod --server URL'.");
            }

            var server = ServerList.Canonical(parse.GetValue(GlobalOptions.Server) ?? throw new CliUsageException("context set needs --server URL[,URL...]."), "--server");

            var path = CliContexts.WritablePath;
            var tokenFile = parse.GetValue(GlobalOptions.TokenFile) is { } file ? Path.GetFullPath(file) : null;
            var token = parse.GetValue(GlobalOptions.Token);
            if (tokenFile is not null && token is not null)
            {
                throw new CliUsageException("context set takes --token-file or --token, not both.");
            }

            if (tokenFile is not null)
            {
                // Found missing, empty or a directory now rather than at the first call through the context.
                Connection.ReadNamedToken(tokenFile, "--token-file");
            }

            var tls = GlobalOptions.Tls(parse);

            // The TLS files read as a call through the context reads them: one missing or not PEM is refused now.
            Connection.CheckTls(tls);
            var allowInsecureHttp = parse.GetValue(GlobalOptions.AllowInsecureHttp) ? true : (bool?)null;
            using var held = await CliContexts.LockAsync(path, create: true, console.Error);
            var contexts = CliContexts.Load(path);
            contexts.Contexts[name] = new CliContext(server, tokenFile, token, tls.CaFile, tls.CertFile, tls.KeyFile, allowInsecureHttp);
            contexts.Current ??= name;
            contexts.Save(path);
            await console.Out.WriteLineAsync($"context {name} set");
            return ExitCodes.Ok;
        });

        var use = new Command("use", "Make a context the current one.") { Name };
        CliAction.Set(use, console, async (parse, _) =>
        {
            var path = CliContexts.WritablePath;
            using var held = await CliContexts.LockAsync(path, create: false, console.Error);
            var contexts = CliContexts.Load(path);
            var name = parse.GetValue(Name)!;
            if (!contexts.Contexts.ContainsKey(name))
            {
                throw contexts.Unknown(name);
            }

            contexts.Current = name;
            contexts.Save(path);
            await console.Out.WriteLineAsync($"using context {name}");
            return ExitCodes.Ok;
        });

        var delete = new Command("delete", "Delete a context; when it was the current one, none is current until clectl context use NAME.") { Name };
        CliAction.Set(delete, console, async (parse, _) =>
        {
            var path = CliContexts.WritablePath;
            using var held = await CliContexts.LockAsync(path, create: false, console.Error);
            var contexts = CliContexts.Load(path);
            var name = parse.GetValue(Name)!;
            if (!contexts.Contexts.Remove(name))
            {
                throw contexts.Unknown(name);
            }

            var wasCurrent = contexts.Current == name;
            if (wasCurrent)
            {
                contexts.Current = null;
            }

            contexts.Save(path);
            await console.Out.WriteLineAsync(wasCurrent
                ? $"context {name} deleted; it was the current context, so none is current now (choose one with clectl context use NAME)"
                : $"context {name} deleted");
            return ExitCodes.Ok;
        });

        var list = new Command("list", "List the contexts; * marks the current one. Stored tokens are never printed.");
        CliAction.Set(list, console, async (parse, _) =>
        {
            var contexts = CliContexts.Load(CliContexts.DefaultPath);
            await Output.WriteAsync(
                console.Out,
                parse.GetValue(GlobalOptions.Output),
                json =>
                {
                    json.WriteStartObject();
                    json.WriteString("current", contexts.Current);
                    json.WriteStartArray("contexts");
                    foreach (var (name, ctx) in contexts.Contexts)
                    {
                        json.WriteStartObject();
                        json.WriteString("name", name);
                        json.WriteString("server", ctx.Server);
                        json.WriteString("tokenFile", ctx.TokenFile);
                        json.WriteBoolean("tokenStored", ctx.Token is not null);
                        json.WriteString("caFile", ctx.CaFile);
                        json.WriteString("certFile", ctx.CertFile);
                        json.WriteString("keyFile", ctx.KeyFile);
                        json.WriteBoolean("allowInsecureHttp", ctx.AllowInsecureHttp == true);
                        json.WriteEndObject();
                    }

                    json.WriteEndArray();
                    json.WriteEndObject();
                },
                w => Output.TableAsync(w, ["CURRENT", "NAME", "SERVER", "TOKEN"], contexts.Contexts.Select(p =>
                    new[] { p.Key == contexts.Current ? "*" : "", p.Key, p.Value.Server, p.Value.TokenFile ?? (p.Value.Token is null ? "" : "(stored)") })));

            return ExitCodes.Ok;
        });

        context.Subcommands.Add(set);
        context.Subcommands.Add(use);
        context.Subcommands.Add(delete);
        context.Subcommands.Add(list);
        return context;
    }
}
