using System.CommandLine;

namespace Trousseau.Cli;

/// <summary><c>clectl context set|use|list</c>: several trousseaud instances, one current.</summary>
internal static class ContextCommands
{
    private static readonly Argument<string> Name = new("name") { Description = "The context's name." };

    public static Command Create(CliConsole console)
    {
        var context = new Command("context", "Name trousseaud instances and choose the current one.");

        var set = new Command("set", "Add or change a context (--server URL, optional --token-file F); the first one becomes current.") { Name };
        CliAction.Set(set, console, async (parse, _) =>
        {
            var server = parse.GetValue(GlobalOptions.Server) ?? throw new CliUsageException("context set needs --server URL.");
            if (!Uri.TryCreate(server, UriKind.Absolute, out var uri) || (uri.Scheme != Uri.UriSchemeHttp && uri.Scheme != Uri.UriSchemeHttps))
            {
                throw new CliUsageException($"'{server}' is not an http(s) URL.");
            }

            var path = CliContexts.DefaultPath;
            var contexts = CliContexts.Load(path);
            var name = parse.GetValue(Name)!;
            var tokenFile = parse.GetValue(GlobalOptions.TokenFile) is { } file ? Path.GetFullPath(file) : null;
            contexts.Contexts[name] = new CliContext(server, tokenFile);
            contexts.Current ??= name;
            contexts.Save(path);
            await console.Out.WriteLineAsync($"context {name} set");
            return ExitCodes.Ok;
        });

        var use = new Command("use", "Make a context the current one.") { Name };
        CliAction.Set(use, console, async (parse, _) =>
        {
            var path = CliContexts.DefaultPath;
            var contexts = CliContexts.Load(path);
            var name = parse.GetValue(Name)!;
            if (!contexts.Contexts.ContainsKey(name))
            {
                throw new CliUsageException($"No context named '{name}'; see clectl context list.");
            }

            contexts.Current = name;
            contexts.Save(path);
            await console.Out.WriteLineAsync($"using context {name}");
            return ExitCodes.Ok;
        });

        var list = new Command("list", "List the contexts; * marks the current one.");
        CliAction.Set(list, console, async (parse, _) =>
        {
            var contexts = CliContexts.Load(CliContexts.DefaultPath);
            if (parse.GetValue(GlobalOptions.Output) == OutputFormat.Json)
            {
                await Output.JsonAsync(console.Out, json =>
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
                        json.WriteEndObject();
                    }

                    json.WriteEndArray();
                    json.WriteEndObject();
                });
            }
            else
            {
                await Output.TableAsync(console.Out, ["CURRENT", "NAME", "SERVER", "TOKEN FILE"], contexts.Contexts.Select(p =>
                    new[] { p.Key == contexts.Current ? "*" : "", p.Key, p.Value.Server, p.Value.TokenFile ?? "" }));
            }

            return ExitCodes.Ok;
        });

        context.Subcommands.Add(set);
        context.Subcommands.Add(use);
        context.Subcommands.Add(list);
        return context;
    }
}
