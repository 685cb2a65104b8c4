using System.Diagnostics;
using Trousseau.Tests.Integration.Infrastructure;

namespace Trousseau.Tests.Integration.Docs;

/// <summary>
/// The shell blocks of docs/reference.md, run as written, for the tests that hold an operator's procedure to its
/// documentation.
/// </summary>
internal static class DocumentedShell
{
    /// <summary>The shell blocks under <paramref name="heading"/> in docs/reference.md, which must number <paramref name="count"/>.</summary>
    public static IReadOnlyList<string> Blocks(string heading, int count)
    {
        var section = MarkdownDocument.Load("docs/reference.md").Section(heading);
        var blocks = section.CodeBlocks();
        Assert.True(blocks.Count == count, $"{section.Name} should hold {count} shell blocks, not {blocks.Count}");
        return blocks;
    }

    /// <summary>The two shell blocks under <paramref name="heading"/> in docs/reference.md: the backup, then the restore.</summary>
    public static (string Backup, string Restore) BackupAndRestore(string heading)
    {
        var blocks = Blocks(heading, 2);
        return (blocks[0], blocks[1]);
    }

    /// <summary>
    /// Runs <paramref name="commands"/> with <c>bash -e</c> in <paramref name="workingDirectory"/>, with
    /// <paramref name="environment"/> added; fails the test, showing them and what they wrote to standard error, when
    /// they fail.
    /// </summary>
    public static async Task RunAsync(string commands, string workingDirectory, IReadOnlyDictionary<string, string?> environment)
    {
        var info = new ProcessStartInfo("bash", ["-e", "-c", commands])
        {
            WorkingDirectory = workingDirectory,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            RedirectStandardInput = true,
            UseShellExecute = false,
        };
        foreach (var (name, value) in environment)
        {
            info.Environment[name] = value;
        }

        var result = await ChildProcess.RunAsync(info);
        Assert.True(result.ExitCode == 0, $"the documented commands failed ({result.ExitCode}):\n{commands}\n{result.Stderr}");
    }
}
