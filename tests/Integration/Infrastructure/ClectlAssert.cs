namespace Trousseau.Tests.Integration.Infrastructure;

/// <summary>What every clectl run promises: exit 0, or the documented exit code with one line on stderr and nothing on stdout.</summary>
internal static class ClectlAssert
{
    /// <summary>Asserts exit 0; the failure message carries clectl's stderr.</summary>
    public static void Ok(ProcessResult result) =>
        Assert.True(result.ExitCode == 0, $"clectl exited {result.ExitCode}: {result.Stderr}");

    /// <summary>
    /// Asserts the exit code and the one-line error; returns that line. Warnings (<c>clectl: warning: ...</c>, for a
    /// token or value given on the command line) may come before it.
    /// </summary>
    public static string Fails(ProcessResult result, int exitCode)
    {
        Assert.True(result.ExitCode == exitCode, $"expected exit {exitCode}, got {result.ExitCode}: {result.Stderr}");
        var line = Assert.Single(result.Stderr.Split('\n', StringSplitOptions.RemoveEmptyEntries), l => !l.StartsWith("clectl: warning: ", StringComparison.Ordinal));
        Assert.StartsWith("clectl: ", line, StringComparison.Ordinal);
        Assert.Empty(result.Stdout);
        return line;
    }
}
