using System.CommandLine;
using System.Globalization;

namespace Trousseau.Cli;

/// <summary><c>clectl key status|rotate|rewrap</c>.</summary>
internal static class KeyCommands
{
    public static Command Create(CliConsole console)
    {
        var key = new Command("key", "The key that protects stored secrets.");

        var status = new Command("status", "Show the key provider and the current key id.");
        CliAction.Set(status, console, (parse, ct) => CliAction.WithClientAsync(parse, async client =>
        {
            await PrintAsync(console, parse, await client.GetKeyStatusAsync(ct));
            return ExitCodes.Ok;
        }));

        var rotate = new Command("rotate", "Rotate the key: new writes use a new key version; older data stays readable.");
        CliAction.Set(rotate, console, (parse, ct) => CliAction.WithClientAsync(parse, async client =>
        {
            await PrintAsync(console, parse, await client.RotateKeyAsync(ct));
            return ExitCodes.Ok;
        }));

        var rewrap = new Command(
            "rewrap",
            $"Re-encrypt every stored secret under the current key, on the server; exit {ExitCodes.Error} when some stay under an older key.");
        CliAction.Set(rewrap, console, (parse, ct) => CliAction.WithClientAsync(parse, async client =>
        {
            var result = await client.RewrapSecretsAsync(ct);
            if (result.Failed > 0)
            {
                var failed = result.Failed == 1
                    ? "1 secret could not be rewrapped and stays"
                    : string.Create(CultureInfo.InvariantCulture, $"{result.Failed} secrets could not be rewrapped and stay");
                var rewrap = result.KeyId is { } movedTo ? $"the rewrap to key {TerminalText.Cell(movedTo)}" : "the rewrap";
                await console.Error.WriteLineAsync(string.Create(
                    CultureInfo.InvariantCulture,
                    $"clectl: {rewrap} is not complete: {failed} under an older key (trousseaud's log names each and why, events 1204 to 1206); {result.Rewrapped} rewrapped, {result.Skipped} needed no move"));
                return ExitCodes.Error;
            }

            await Output.WriteAsync(
                console.Out,
                parse.GetValue(GlobalOptions.Output),
                json =>
                {
                    json.WriteStartObject();
                    json.WriteNumber("rewrapped", result.Rewrapped);
                    json.WriteNumber("skipped", result.Skipped);
                    json.WriteNumber("failed", result.Failed);
                    if (result.KeyId is { } keyId)
                    {
                        json.WriteString("keyId", keyId);
                    }

                    json.WriteEndObject();
                },
                w => w.WriteLineAsync(result.KeyId is { } keyId
                    ? string.Create(CultureInfo.InvariantCulture, $"rewrapped {result.Rewrapped} secrets to key {keyId}, {result.Skipped} needed no move")
                    : string.Create(CultureInfo.InvariantCulture, $"rewrapped {result.Rewrapped} secrets, {result.Skipped} needed no move")));
            return ExitCodes.Ok;
        }));

        key.Subcommands.Add(status);
        key.Subcommands.Add(rotate);
        key.Subcommands.Add(rewrap);
        return key;
    }

    private static Task PrintAsync(CliConsole console, ParseResult parse, KeyStatus status) => Output.WriteAsync(
        console.Out,
        parse.GetValue(GlobalOptions.Output),
        json =>
        {
            json.WriteStartObject();
            json.WriteString("keyId", status.KeyId);
            json.WriteString("provider", status.Provider);
            json.WriteNumber("version", status.Version);
            json.WriteEndObject();
        },
        w => Output.TableAsync(w, ["PROVIDER", "VERSION", "KEY ID"], [[status.Provider, status.Version.ToString(CultureInfo.InvariantCulture), status.KeyId]]));
}
