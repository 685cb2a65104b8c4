using System.CommandLine;

namespace Trousseau.Cli;

/// <summary>
/// Options whose value is a token or a secret value. A command-line argument can be read by every user of the machine
/// (<c>ps</c>, <c>/proc/PID/cmdline</c>) and lands in shell history, so clectl warns on stderr, in one line that names
/// the option and the safe way and never the value, when one is given; the command still runs.
/// </summary>
internal static class CommandLineExposure
{
    private static readonly (Func<ParseResult, bool> Given, string Option, string What, string Instead)[] Exposed =
    [
        (parse => !string.IsNullOrEmpty(parse.GetValue(GlobalOptions.Token)), "--token", "an API token", "--token-file FILE or the TROUSSEAU_TOKEN environment variable"),
        (parse => parse.GetValue(SecretCommands.FromLiteral) is { Length: > 0 }, "--from-literal", "secret values", "--from-file K=PATH, or --password-stdin for a login password"),
    ];

    public static async Task WarnAsync(ParseResult parse, TextWriter error)
    {
        foreach (var (given, option, what, instead) in Exposed)
        {
            if (given(parse))
            {
                await error.WriteLineAsync(
                    $"clectl: warning: {option} puts {what} on the command line, which other users of this machine can read in the process list; use {instead}.");
            }
        }
    }
}
