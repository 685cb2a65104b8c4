using System.CommandLine;

namespace Trousseau.Cli;

/// <summary><c>clectl auth whoami</c>.</summary>
internal static class AuthCommands
{
    public static Command Create(CliConsole console)
    {
        var auth = new Command("auth", "Who trousseaud takes you for.");

        var whoami = new Command("whoami", "Show your identity on the server, and the actions and secrets its policies allow you.");
        CliAction.Set(whoami, console, (parse, ct) => CliAction.WithClientAsync(parse, async client =>
        {
            var me = await client.WhoAmIAsync(ct);
            await Output.WriteAsync(
                console.Out,
                parse.GetValue(GlobalOptions.Output),
                json =>
                {
                    json.WriteStartObject();
                    json.WriteString("identity", me.Identity);
                    WriteList(json, "actions", me.Actions);
                    json.WriteStartArray("policies");
                    foreach (var policy in me.Policies)
                    {
                        json.WriteStartObject();
                        WriteList(json, "secrets", policy.Secrets);
                        WriteList(json, "actions", policy.Actions);
                        json.WriteEndObject();
                    }

                    json.WriteEndArray();
                    json.WriteEndObject();
                },
                async w =>
                {
                    await Output.TableAsync(w, ["IDENTITY"], [[me.Identity]]);
                    await w.WriteLineAsync();
                    await Output.TableAsync(w, ["ACTIONS", "SECRETS"], me.Policies.Select(p => new[] { string.Join(',', p.Actions), string.Join(',', p.Secrets) }));
                });
            return ExitCodes.Ok;
        }));

        auth.Subcommands.Add(whoami);
        return auth;
    }

    private static void WriteList(System.Text.Json.Utf8JsonWriter json, string name, IEnumerable<string> values)
    {
        json.WriteStartArray(name);
        foreach (var value in values)
        {
            json.WriteStringValue(value);
        }

        json.WriteEndArray();
    }
}
