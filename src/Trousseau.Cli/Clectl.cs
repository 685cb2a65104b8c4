using System.CommandLine;
using System.CommandLine.Help;
using System.CommandLine.Invocation;

namespace Trousseau.Cli;

/// <summary>clectl's command tree and its invocation.</summary>
internal static class Clectl
{
    /// <summary>The first word that asks for a command's help, as <c>--help</c> after it does.</summary>
    public const string HelpCommand = "help";

    public static async Task<int> RunAsync(string[] args, CliConsole console)
    {
        var root = CreateRoot(console);
        if (args is [ShellCompletion.CompleteCommand, .. var words])
        {
            return await ShellCompletion.CompleteAsync(root, words, console.Out);
        }

        // As kubectl help: 'clectl help secret get' is 'clectl secret get --help', global options before it too.
        if (HelpWord(args) is { } help)
        {
            args = [.. args[..help], .. args[(help + 1)..], "--help"];
        }

        // An unknown word is an error with --help too, which would otherwise print the help of the command before it.
        var parsed = root.Parse(args);
        if (parsed.Errors.Count > 0 || parsed.UnmatchedTokens.Count > 0)
        {
            await console.Error.WriteLineAsync("clectl: " + ParseErrors.Describe(parsed));
            return ExitCodes.Usage;
        }

        return await parsed.InvokeAsync(new InvocationConfiguration { Output = console.Out, Error = console.Error });
    }

    /// <summary>
    /// Where <see cref="HelpCommand"/> stands when it is the first word that is neither a global option nor its value
    /// (<c>clectl -o json help secret</c>), else <see langword="null"/>.
    /// </summary>
    private static int? HelpWord(string[] args)
    {
        for (var i = 0; i < args.Length; i++)
        {
            var word = args[i];
            if (!word.StartsWith('-'))
            {
                return word == HelpCommand ? i : null;
            }

            var option = GlobalOptions.All.FirstOrDefault(o => o.Name == word || o.Aliases.Contains(word));
            if (option is null && !GlobalOptions.All.Any(o => word.StartsWith(o.Name + "=", StringComparison.Ordinal) || word.StartsWith(o.Name + ":", StringComparison.Ordinal)))
            {
                // Not a global option, nor one given with its value (--output=json): the command's own, not help's.
                return null;
            }

            if (option is { Arity.MinimumNumberOfValues: > 0 })
            {
                i++;
            }
        }

        return null;
    }

    private static RootCommand CreateRoot(CliConsole console)
    {
        var root = new RootCommand("clectl: create, read, update and delete Trousseau secrets on one or many trousseaud instances.");
        foreach (var option in GlobalOptions.All)
        {
            root.Options.Add(option);
        }

        root.Subcommands.Add(SecretCommands.Create(console));
        root.Subcommands.Add(KeyCommands.Create(console));
        root.Subcommands.Add(AuthCommands.Create(console));
        root.Subcommands.Add(HealthCommand.Create(console));
        root.Subcommands.Add(ContextCommands.Create(console));
        root.Subcommands.Add(KmsCommands.Create(console));
        root.Subcommands.Add(AuditCommands.Create(console));
        root.Subcommands.Add(ShellCompletion.Create(console));

        ShowHelpOnGroups(root, new GroupHelpAction((HelpAction)root.Options.OfType<HelpOption>().Single().Action!));
        return root;
    }

    /// <summary>As kubectl does: a command that only groups others (clectl, clectl secret, ...) prints its help, exit 0.</summary>
    private static void ShowHelpOnGroups(Command command, GroupHelpAction help)
    {
        if (command.Subcommands.Count > 0 && command.Action is null)
        {
            command.Action = help;
        }

        foreach (var subcommand in command.Subcommands)
        {
            ShowHelpOnGroups(subcommand, help);
        }
    }

    /// <summary>The help, as the action of a command that groups others; unlike <c>--help</c>, it keeps parse errors.</summary>
    private sealed class GroupHelpAction(HelpAction help) : SynchronousCommandLineAction
    {
        public override int Invoke(ParseResult parseResult) => help.Invoke(parseResult);
    }
}
