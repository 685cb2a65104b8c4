using System.CommandLine;
using System.CommandLine.Parsing;

namespace Trousseau.Cli;

/// <summary>
/// Turns the parser's errors into clectl's one line: the errors, a "did you mean" when an unknown command or option
/// is close to a known one, and the help to read.
/// </summary>
internal static class ParseErrors
{
    /// <summary>Whether the command line holds a mistake that <see cref="Describe"/> names.</summary>
    public static bool Any(ParseResult parse) =>
        parse.Errors.Count > 0 || parse.UnmatchedTokens.Count > 0 || OptionTakenForArgument(parse) is not null;

    public static string Describe(ParseResult parse)
    {
        IReadOnlyList<string> unmatched = OptionTakenForArgument(parse) is { } option ? [option, .. parse.UnmatchedTokens] : parse.UnmatchedTokens;
        var command = unmatched.Count > 0 ? GivenTo(parse, unmatched[0]) : parse.CommandResult;
        var path = Path(command);
        var messages = parse.Errors
            .Select(e => MissingValue(e.SymbolResult) ?? e.Message.ReplaceLineEndings(" "))
            .Distinct(StringComparer.Ordinal)
            .Where(message => !unmatched.Any(token => message.Contains($"'{token}'", StringComparison.Ordinal)))
            .ToList();
        if (unmatched.Count > 0)
        {
            // The first unknown word is the mistake; those after it are usually its own arguments.
            var token = unmatched[0];
            var suggestions = Suggest(token, Candidates(command, token)).Select(c => $"'{c}'").ToList();
            var kind = token.StartsWith('-') ? "Unknown option" : command.Command.Subcommands.Count > 0 ? "Unknown command" : "Unexpected argument";
            messages.Insert(0, $"{kind} '{token}' for '{path}'." + (suggestions.Count > 0 ? $" Did you mean {string.Join(" or ", suggestions)}?" : ""));
        }

        return $"{string.Join(" ", messages)} (see {path} --help)";
    }

    /// <summary>
    /// The first word starting with <c>-</c> that the parser took for a command's argument (<c>--keys</c> in
    /// <c>clectl secret get --keys password db</c>): an option the command does not know, since no secret name, context
    /// name, shell or audit file clectl is given starts so, except after <c>--</c>, where every word is an argument
    /// (<c>clectl audit verify -- -trail</c>). <see langword="null"/> when there is none.
    /// </summary>
    private static string? OptionTakenForArgument(ParseResult parse)
    {
        var tokens = parse.Tokens.ToList();
        var doubleDash = tokens.FindIndex(t => t.Type == TokenType.DoubleDash);
        for (var command = parse.CommandResult; command is not null; command = command.Parent as CommandResult)
        {
            foreach (var token in command.Children.OfType<ArgumentResult>().SelectMany(a => a.Tokens))
            {
                if (token.Value.Length > 1 && token.Value[0] == '-' && (doubleDash < 0 || tokens.FindIndex(t => ReferenceEquals(t, token)) < doubleDash))
                {
                    return token.Value;
                }
            }
        }

        return null;
    }

    /// <summary>
    /// The command <paramref name="token"/> was given to: the innermost command named before it on the command line
    /// (in <c>clectl help secret</c>, clectl itself), not the command parsed last.
    /// </summary>
    private static CommandResult GivenTo(ParseResult parse, string token)
    {
        var tokens = parse.Tokens.ToList();
        var position = tokens.FindIndex(t => t.Type != TokenType.Command && t.Value == token);
        var command = parse.CommandResult;
        while (position >= 0 && command.Parent is CommandResult parent && tokens.IndexOf(command.IdentifierToken) > position)
        {
            command = parent;
        }

        return command;
    }

    /// <summary>
    /// What the parser's "Required argument missing" means, in clectl's words: the argument, as the reference writes it
    /// (NAME), and the command that needs it (its help, which <see cref="Describe"/> points to, says what it is); or the option given without its value. <see langword="null"/> for any other error.
    /// </summary>
    private static string? MissingValue(SymbolResult? result) => result switch
    {
        CommandResult command when command.Command.Arguments.FirstOrDefault(a => IsMissing(command.GetResult(a), a)) is { } argument =>
            $"Missing argument {argument.Name.ToUpperInvariant()} for '{Path(command)}'.",
        ArgumentResult { Parent: CommandResult command } argument when IsMissing(argument, argument.Argument) =>
            $"Missing argument {argument.Argument.Name.ToUpperInvariant()} for '{Path(command)}'.",
        OptionResult option when option.Tokens.Count == 0 && option.Option.Arity.MinimumNumberOfValues > 0 => $"{option.Option.Name} needs a value.",
        ArgumentResult { Parent: OptionResult option } argument when IsMissing(argument, argument.Argument) => $"{option.Option.Name} needs a value.",
        _ => null,
    };

    private static bool IsMissing(SymbolResult? result, Argument argument) =>
        (result?.Tokens.Count ?? 0) < argument.Arity.MinimumNumberOfValues;

    /// <summary>Known names within a small edit distance of <paramref name="token"/>, or starting with it.</summary>
    public static IEnumerable<string> Suggest(string token, IEnumerable<string> candidates)
    {
        var typed = token.TrimStart('-');
        if (typed.Length < 2)
        {
            return [];
        }

        var limit = typed.Length >= 6 ? 2 : 1;
        return candidates
            .Select(c => (Name: c, Distance: Distance(token, c)))
            .Where(c => c.Distance <= limit || (c.Name.StartsWith(token, StringComparison.OrdinalIgnoreCase) && c.Name.Length > token.Length))
            .OrderBy(c => c.Distance)
            .ThenBy(c => c.Name, StringComparer.Ordinal)
            .Select(c => c.Name)
            .Distinct(StringComparer.Ordinal)
            .Take(3);
    }

    private static IEnumerable<string> Candidates(CommandResult result, string token)
    {
        if (!token.StartsWith('-'))
        {
            return result.Command.Subcommands.Where(c => !c.Hidden).SelectMany(c => c.Aliases.Prepend(c.Name));
        }

        return OptionsInScope(result).Where(o => !o.Hidden).SelectMany(o => o.Aliases.Prepend(o.Name)).Where(name => name.StartsWith('-'));
    }

    /// <summary>The options a command takes: its own and the recursive ones of the commands above it.</summary>
    public static IEnumerable<Option> OptionsInScope(CommandResult result)
    {
        var options = result.Command.Options.AsEnumerable();
        for (var parent = result.Parent as CommandResult; parent is not null; parent = parent.Parent as CommandResult)
        {
            options = options.Concat(parent.Command.Options.Where(o => o.Recursive));
        }

        return options;
    }

    private static string Path(CommandResult result)
    {
        var names = new List<string>();
        for (var current = result; current.Parent is CommandResult parent; current = parent)
        {
            names.Insert(0, current.Command.Name);
        }

        return string.Join(' ', names.Prepend("clectl"));
    }

    /// <summary>Optimal string alignment distance: insertions, deletions, substitutions and swaps of neighbours, ignoring case.</summary>
    private static int Distance(string a, string b)
    {
        a = a.ToLowerInvariant();
        b = b.ToLowerInvariant();
        var d = new int[a.Length + 1, b.Length + 1];
        for (var i = 0; i <= a.Length; i++)
        {
            d[i, 0] = i;
        }

        for (var j = 0; j <= b.Length; j++)
        {
            d[0, j] = j;
        }

        for (var i = 1; i <= a.Length; i++)
        {
            for (var j = 1; j <= b.Length; j++)
            {
                var cost = a[i - 1] == b[j - 1] ? 0 : 1;
                d[i, j] = Math.Min(Math.Min(d[i - 1, j] + 1, d[i, j - 1] + 1), d[i - 1, j - 1] + cost);
                if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1])
                {
                    d[i, j] = Math.Min(d[i, j], d[i - 2, j - 2] + 1);
                }
            }
        }

        return d[a.Length, b.Length];
    }
}
