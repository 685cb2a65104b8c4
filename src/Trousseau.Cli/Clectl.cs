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
            try
            {
                return await ShellCompletion.CompleteAsync(root, words, console.Out);
            }
            catch (StandardOutputException e)
            {
                return Refused(e, console.Error, $"Cannot write the completion candidates to standard output: {e.Reason}.");
            }
        }

        // As kubectl help: 'clectl help secret get' and 'clectl secret help get' are 'clectl secret get --help', global
        // options before or among them too.
        if (HelpWord(root, args) is { } help)
        {
            args = [.. args[..help], .. args[(help + 1)..], "--help"];
        }

        // An unknown word is an error with --help too, which would otherwise print the help of the command before it.
        var parsed = root.Parse(args);
        if (ParseErrors.Any(parsed))
        {
            await console.Error.WriteLineAsync("clectl: " + ParseErrors.Describe(parsed));
            return ExitCodes.Usage;
        }

        return await parsed.InvokeAsync(new InvocationConfiguration { Output = console.Out, Error = console.Error });
    }

    /// <summary>
    /// Where <see cref="HelpCommand"/> stands when it follows clectl or a command that groups others, with nothing
    /// before it but the commands that lead there and global options with their values (<c>clectl -o json help secret</c>,
    /// <c>clectl secret help list</c>), else <see langword="null"/>: after a command that groups none, <c>help</c> is
    /// that command's argument.
    /// </summary>
    private static int? HelpWord(Command root, string[] args)
    {
        var command = root;
        for (var i = 0; i < args.Length; i++)
        {
            var word = args[i];
            if (!word.StartsWith('-'))
            {
                if (command.Subcommands.Count > 0 && word == HelpCommand)
                {
                    return i;
                }

                command = command.Subcommands.FirstOrDefault(c => c.Name == word || c.Aliases.Contains(word));
                if (command is null)
                {
                    return null;
                }

                continue;
            }

            if (GlobalOption(word) is not { } global)
            {
                // Not a global option: the command's own, not help's.
                return null;
            }

            if (!global.ValueAttached && global.Option.Arity.MinimumNumberOfValues > 0)
            {
                i++;
            }
        }

        return null;
    }

    /// <summary>
    /// The global option <paramref name="word"/> gives, and whether its value is in the same word, as the parser takes
    /// it: <c>--output=json</c>, <c>-o:json</c>, and for a one-letter name <c>-ojson</c>.
    /// </summary>
    private static (Option Option, bool ValueAttached)? GlobalOption(string word)
    {
        foreach (var option in GlobalOptions.All)
        {
            foreach (var name in option.Aliases.Prepend(option.Name))
            {
                if (word == name)
                {
                    return (option, false);
                }

                if (word.StartsWith(name, StringComparison.Ordinal)
                    && (word[name.Length] is '=' or ':' || (!name.StartsWith("--", StringComparison.Ordinal) && option.Arity.MinimumNumberOfValues > 0)))
                {
                    return (option, true);
                }
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

        var help = root.Options.OfType<HelpOption>().Single();
        var version = root.Options.OfType<VersionOption>().Single();
        ShowHelpOnGroups(root, new PrintingAction(new GroupHelpAction((HelpAction)help.Action!), console.Error, "the help"));
        help.Action = new PrintingAction((HelpAction)help.Action!, console.Error, "the help");
        version.Action = new PrintingAction((SynchronousCommandLineAction)version.Action!, console.Error, "the version");
        return root;
    }

    /// <summary>
    /// How clectl ends when standard output refused what it printed (see <see cref="CliAction"/>): quietly with 141 when
    /// it is a pipe nobody reads, else with <paramref name="line"/> on stderr and exit 1.
    /// </summary>
    private static int Refused(StandardOutputException refused, TextWriter error, string line)
    {
        if (refused.PipeClosed)
        {
            return ExitCodes.OutputPipeClosed;
        }

        error.WriteLine("clectl: " + line);
        return ExitCodes.For(refused);
    }

    /// <summary>As kubectl does: a command that only groups others (clectl, clectl secret, ...) prints its help, exit 0.</summary>
    private static void ShowHelpOnGroups(Command command, PrintingAction help)
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

    /// <summary>
    /// System.CommandLine's help or version, whose output standard output refuses ends with exit 1 and one line on
    /// stderr saying that <paramref name="what"/> could not be written and why (they change nothing, so the line says
    /// nothing of a change), or quietly with 141 when it is a pipe nobody reads, rather than System.CommandLine's
    /// handler of unexpected exceptions and its stack trace.
    /// </summary>
    private sealed class PrintingAction(SynchronousCommandLineAction inner, TextWriter error, string what) : SynchronousCommandLineAction
    {
        public override bool ClearsParseErrors => inner.ClearsParseErrors;

        public override int Invoke(ParseResult parseResult)
        {
            try
            {
                return inner.Invoke(parseResult);
            }
            catch (StandardOutputException e)
            {
                return Refused(e, error, $"Cannot write {what} to standard output: {e.Reason}.");
            }
        }
    }

    /// <summary>The help, as the action of a command that groups others; unlike <c>--help</c>, it keeps parse errors.</summary>
    private sealed class GroupHelpAction(HelpAction help) : SynchronousCommandLineAction
    {
        public override int Invoke(ParseResult parseResult) => help.Invoke(parseResult);
    }
}
