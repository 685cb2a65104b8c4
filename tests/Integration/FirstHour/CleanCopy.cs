using System.Diagnostics;
using System.Text.RegularExpressions;
using Trousseau.Tests.Integration.Infrastructure;

namespace Trousseau.Tests.Integration.FirstHour;

/// <summary>
/// A copy of the repository as a fresh clone would have it: every file git tracks or would track (changes not yet
/// committed included), and nothing that is ignored (no bin, obj or .trousseau).
/// </summary>
internal sealed partial class CleanCopy
{
    private CleanCopy(string root) => Root = root;

    public string Root { get; }

    public static async Task<CleanCopy> CreateAsync(string destination)
    {
        var list = await ChildProcess.RunAsync(new ProcessStartInfo("git", ["-C", RepositoryPaths.Root, "ls-files", "-z", "--cached", "--others", "--exclude-standard"]));
        Assert.True(list.ExitCode == 0, list.Stderr);
        var files = list.Stdout;

        foreach (var file in files.Split('\0', StringSplitOptions.RemoveEmptyEntries))
        {
            var source = Path.Combine(RepositoryPaths.Root, file);
            if (!File.Exists(source))
            {
                continue;
            }

            var target = Path.Combine(destination, file);
            Directory.CreateDirectory(Path.GetDirectoryName(target)!);
            File.Copy(source, target);
            if (!OperatingSystem.IsWindows())
            {
                File.SetUnixFileMode(target, File.GetUnixFileMode(source));
            }
        }

        return new CleanCopy(destination);
    }

    /// <summary>The <c>sh</c> code blocks of a Markdown file in the copy, in order, each with the heading above it.</summary>
    public IReadOnlyList<(string Heading, string Code)> ShellBlocks(string markdownFile)
    {
        var text = File.ReadAllText(Path.Combine(Root, markdownFile));
        var blocks = new List<(string, string)>();
        var heading = string.Empty;
        foreach (Match match in HeadingOrBlock().Matches(text))
        {
            if (match.Groups["heading"].Success)
            {
                heading = match.Groups["heading"].Value.Trim();
            }
            else
            {
                blocks.Add((heading, match.Groups["code"].Value));
            }
        }

        return blocks;
    }

    [GeneratedRegex(@"^#+ (?<heading>[^\n]+)$|^```sh\n(?<code>.*?)^```$", RegexOptions.Multiline | RegexOptions.Singleline)]
    private static partial Regex HeadingOrBlock();
}
