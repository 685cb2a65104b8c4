using System.Text.RegularExpressions;
using Trousseau.Tests.Integration.Infrastructure;

namespace Trousseau.Tests.Integration.Docs;

/// <summary>
/// clectl's command tree as its own <c>--help</c> shows it: the real program is asked for the help of every command,
/// and the "Commands:" and "Options:" sections of each answer are read.
/// </summary>
/// <param name="Path">The command's words after <c>clectl</c>; empty for clectl itself.</param>
/// <param name="Subcommands">The names of its subcommands.</param>
/// <param name="Options">Its options, each with all of its aliases (<c>-o</c>, <c>--output</c>).</param>
internal sealed partial record ClectlHelp(IReadOnlyList<string> Path, IReadOnlyList<string> Subcommands, IReadOnlyList<IReadOnlyList<string>> Options)
{
    public string CommandLine => string.Join(' ', ["clectl", .. Path]);

    public IEnumerable<string> OptionNames => Options.SelectMany(aliases => aliases);

    /// <summary>The help of clectl and of every command below it, clectl first.</summary>
    public static async Task<IReadOnlyList<ClectlHelp>> WalkAsync(ClectlRunner clectl)
    {
        var all = new List<ClectlHelp>();
        await WalkAsync(clectl, [], all);
        return all;
    }

    private static async Task WalkAsync(ClectlRunner clectl, string[] path, List<ClectlHelp> all)
    {
        var result = await clectl.RunAsync([.. path, "--help"]);
        var help = Parse(path, result.Stdout);
        Assert.True(
            result.ExitCode == 0 && help.Options.Count > 0,
            $"{help.CommandLine} --help exited {result.ExitCode} without an Options section; stderr: {result.Stderr}");
        all.Add(help);
        foreach (var subcommand in help.Subcommands)
        {
            await WalkAsync(clectl, [.. path, subcommand], all);
        }
    }

    private static ClectlHelp Parse(string[] path, string text)
    {
        var subcommands = new List<string>();
        var options = new List<IReadOnlyList<string>>();
        string? section = null;
        foreach (var line in text.Split('\n').Select(l => l.TrimEnd('\r')))
        {
            if (SectionTitle().Match(line) is { Success: true } title)
            {
                section = title.Groups["title"].Value;
            }
            else if (Entry().Match(line) is { Success: true } entry)
            {
                // The first column lists the names, comma-separated, each maybe followed by its argument: "-o, --output <Json|Table>".
                var names = entry.Groups["names"].Value.Split(", ").Select(n => n.Split(' ')[0]).ToList();
                if (section == "Commands")
                {
                    subcommands.Add(names[0]);
                }
                else if (section == "Options")
                {
                    options.Add(names);
                }
            }
        }

        return new ClectlHelp(path, subcommands, options);
    }

    [GeneratedRegex(@"^(?<title>[A-Z][A-Za-z ]*):$")]
    private static partial Regex SectionTitle();

    // An entry starts two spaces in; its description follows after two or more spaces. Wrapped descriptions start further in.
    [GeneratedRegex(@"^  (?<names>[^\s].*?)(\s{2,}.*)?$")]
    private static partial Regex Entry();
}
