using System.Diagnostics;

namespace Trousseau.Tests.Integration.Infrastructure;

/// <summary>A named pipe made where a regular file is expected, to check what opens that file does not wait on it.</summary>
internal static class Fifo
{
    /// <summary>Makes a FIFO at <paramref name="path"/> (mode 0600, with <c>mkfifo</c>) and returns the path.</summary>
    public static async Task<string> MakeAsync(string path)
    {
        var made = await ChildProcess.RunAsync(new ProcessStartInfo("mkfifo", ["-m", "600", path]));
        Assert.True(made.ExitCode == 0, $"mkfifo failed: {made.Stderr}");
        return path;
    }
}
