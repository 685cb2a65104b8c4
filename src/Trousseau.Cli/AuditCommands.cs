using System.CommandLine;
using System.Globalization;

namespace Trousseau.Cli;

/// <summary>
/// <c>clectl audit verify FILE [FILE...]</c>: checks the hash chain of trousseaud's audit trail, each FILE with its
/// rotated files beside it. Works on the files alone; no server is asked.
/// </summary>
internal static class AuditCommands
{
    private static readonly Argument<string[]> Files = new("file")
    {
        Description = "The trail's current file (trousseaud writes audit.log in its data directory); its rotated files FILE.1, FILE.2, … are read with it. Several FILEs are several trails.",
        Arity = ArgumentArity.OneOrMore,
    };

    public static Command Create(CliConsole console)
    {
        var audit = new Command("audit", "Check trousseaud's audit trail.");
        var verify = new Command(
            "verify",
            $"Check that each line of the trail holds the SHA-256 of the line before, from the oldest rotated file to FILE; exit {ExitCodes.AuditTrailBroken} naming the first line that does not.")
        {
            Files,
        };
        CliAction.Set(verify, console, async (parse, _) =>
        {
            var reports = parse.GetValue(Files)!.Select(AuditTrailVerifier.Verify).ToList();
            var intact = reports.Where(r => r.Break is null).ToList();
            if (intact.Count > 0)
            {
                await Output.WriteAsync(
                    console.Out,
                    parse.GetValue(GlobalOptions.Output),
                    json =>
                    {
                        json.WriteStartObject();
                        json.WriteStartArray("trails");
                        foreach (var report in intact)
                        {
                            json.WriteStartObject();
                            json.WriteString("trail", report.Trail);
                            json.WriteStartArray("files");
                            foreach (var file in report.Files)
                            {
                                json.WriteStringValue(file);
                            }

                            json.WriteEndArray();
                            json.WriteNumber("lines", report.Lines);
                            json.WriteBoolean("startsAtGenesis", report.StartsAtGenesis);
                            json.WriteString("lastHash", report.LastHash);
                            json.WriteEndObject();
                        }

                        json.WriteEndArray();
                        json.WriteEndObject();
                    },
                    w => Output.TableAsync(w, ["TRAIL", "FILES", "LINES", "STARTS", "LAST LINE SHA-256"], intact.Select(r => new[]
                    {
                        r.Trail,
                        r.Files.Count.ToString(CultureInfo.InvariantCulture),
                        r.Lines.ToString(CultureInfo.InvariantCulture),
                        r.StartsAtGenesis ? "genesis" : "after-removed-file",
                        r.LastHash ?? "-",
                    })));
            }

            foreach (var broken in reports.Where(r => r.Break is not null))
            {
                await console.Error.WriteLineAsync($"clectl: the audit trail {broken.Trail} is broken: {broken.Break}.");
            }

            return intact.Count == reports.Count ? ExitCodes.Ok : ExitCodes.AuditTrailBroken;
        });

        audit.Subcommands.Add(verify);
        return audit;
    }
}
