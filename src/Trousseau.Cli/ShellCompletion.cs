using System.CommandLine;
using System.CommandLine.Parsing;

namespace Trousseau.Cli;

/// <summary>
/// <c>clectl completion bash|zsh|fish</c> prints a script that the shell loads; the script asks
/// <c>clectl __complete WORD...</c> for the candidates of the last word, and falls back to file names when there are none.
/// </summary>
internal static class ShellCompletion
{
    /// <summary>The hidden command the scripts call: the words typed after <c>clectl</c>, the last one being completed.</summary>
    public const string CompleteCommand = "__complete";

    private const string Bash = """
        # clectl completion for bash. Load it with: source <(clectl completion bash)
        _clectl() {
            local IFS=$'\n'
            COMPREPLY=($(clectl __complete "${COMP_WORDS[@]:1:COMP_CWORD}" 2>/dev/null))
        }
        complete -o default -F _clectl clectl

        """;

    private const string Zsh = """
        #compdef clectl
        # clectl completion for zsh. Load it with: source <(clectl completion zsh)   (after compinit)
        _clectl() {
            local -a candidates
            candidates=(${(f)"$(clectl __complete "${(@)words[2,CURRENT]}" 2>/dev/null)"})
            if (( ${#candidates} )); then
                compadd -- "${candidates[@]}"
            else
                _files
            fi
        }
        if [[ "${funcstack[1]}" == _clectl ]]; then _clectl "$@"; else compdef _clectl clectl; fi

        """;

    private const string Fish = """
        # clectl completion for fish. Load it with: clectl completion fish | source
        function __clectl_complete
            set -l words (commandline -opc)
            set -l candidates (clectl __complete $words[2..-1] (commandline -ct) 2>/dev/null)
            if test (count $candidates) -gt 0
                printf '%s\n' $candidates
            else
                __fish_complete_path (commandline -ct)
            end
        end
        complete -c clectl -f -a '(__clectl_complete)'

        """;

    private static readonly Argument<string> Shell = new("shell")
    {
        Description = "The shell: bash, zsh or fish.",
        HelpName = "bash|zsh|fish",
        CompletionSources = { { "bash", "zsh", "fish" } },
    };

    public static Command Create(CliConsole console)
    {
        var command = new Command(
            "completion",
            "Print the shell completion script: source <(clectl completion bash), source <(clectl completion zsh), clectl completion fish | source.")
        {
            Shell,
        };
        CliAction.Set(command, console, async (parse, _) =>
        {
            var shell = parse.GetValue(Shell);
            var script = shell switch
            {
                "bash" => Bash,
                "zsh" => Zsh,
                "fish" => Fish,
                _ => throw new CliUsageException($"clectl completion takes bash, zsh or fish, not '{shell}'."),
            };
            try
            {
                await console.Out.WriteAsync(script);
            }
            catch (StandardOutputException e) when (!e.PipeClosed)
            {
                // The script changes nothing: the line says only that it could not be written, and why.
                throw new IOException($"Cannot write the completion script to standard output: {e.Reason}.", e);
            }

            return ExitCodes.Ok;
        });
        return command;
    }

    /// <summary>
    /// Prints, one a line, what may follow <paramref name="words"/> minus the last, starting with the last (the word
    /// being completed, perhaps empty): an option's values after the option, else commands, and options once the word
    /// starts with '-'. Prints nothing on any error: a shell's completion must never show one.
    /// </summary>
    public static async Task<int> CompleteAsync(RootCommand root, string[] words, TextWriter output)
    {
        var typed = words.Length == 0 ? "" : words[^1];
        var before = words.Length == 0 ? [] : words[..^1];
        var configuration = new ParserConfiguration { ResponseFileTokenReplacer = null };
        IEnumerable<string> candidates;
        try
        {
            var parse = root.Parse(before, configuration);
            var options = ParseErrors.OptionsInScope(parse.CommandResult).Where(o => !o.Hidden).ToList();
            var option = parse.Tokens.Count > 0 && parse.Tokens[^1] is { Type: TokenType.Option } last
                ? options.FirstOrDefault(o => o.Name == last.Value || o.Aliases.Contains(last.Value))
                : null;
            candidates = option is { Arity.MinimumNumberOfValues: > 0 } ? option.GetCompletions(parse.GetCompletionContext()).Select(c => c.Label)
                : typed.StartsWith('-') ? options.SelectMany(o => o.Aliases.Prepend(o.Name)).Where(name => name.StartsWith("--", StringComparison.Ordinal) || (name.Length == 2 && char.IsLetter(name[1])))
                : root.Parse([.. before, ""], configuration).GetCompletions().Select(c => c.Label).Where(label => !label.StartsWith('-') && !label.StartsWith('/') && label is not ("True" or "False"));
            candidates = candidates.Where(label => label.StartsWith(typed, StringComparison.Ordinal)).Distinct(StringComparer.Ordinal).ToList();
        }
        catch (CliUsageException)
        {
            candidates = [];
        }

        foreach (var candidate in candidates)
        {
            await output.WriteLineAsync(candidate);
        }

        return ExitCodes.Ok;
    }
}
