using System.Diagnostics;

namespace Trousseau.Tests.Integration.Infrastructure;

/// <summary>
/// A process run under strace, which stops it (SIGSTOP) right after each chosen system call returns, so that a test can
/// have another process act at that very instant and then let the first go on: a race made to happen every time.
/// </summary>
internal static class StraceStops
{
    private const string StoppedLine = "--- SIGSTOP {si_signo=SIGSTOP, si_code=SI_KERNEL} ---";

    /// <summary>For a test class's <c>SkipReason</c>: strace is needed, and required under CI.</summary>
    public static string? SkipReason { get; } =
        Environment.GetEnvironmentVariable("CI") == "true" || File.Exists("/usr/bin/strace") ? null : "strace is not installed (Debian package strace)";

    /// <summary>
    /// Makes <paramref name="info"/> run its program under strace, writing to <paramref name="trace"/> and stopping the
    /// process after each of <paramref name="calls"/> (strace's syscall set: <c>connect</c>, <c>all</c>); with
    /// <paramref name="path"/>, only after the calls on that path.
    /// </summary>
    public static void Wrap(ProcessStartInfo info, string trace, string calls, string? path = null)
    {
        string[] strace =
        [
            "-f", "-qq", "-o", trace, .. path is null ? Array.Empty<string>() : ["-P", path],
            "-e", $"trace={calls}", "-e", "signal=SIGSTOP", "-e", $"inject={calls}:signal=SIGSTOP", info.FileName,
        ];
        foreach (var argument in strace.Reverse())
        {
            info.ArgumentList.Insert(0, argument);
        }

        info.FileName = "strace";
    }

    /// <summary>Whether the process or thread <paramref name="pid"/> is stopped.</summary>
    public static bool IsStopped(string pid) =>
        File.Exists($"/proc/{pid}/stat") && File.ReadAllText($"/proc/{pid}/stat").Split(')')[1].Trim()[0] is 't' or 'T';

    /// <summary>
    /// Waits until strace has stopped the traced process for the <paramref name="count"/>th time, and returns the id
    /// strace names it by (the thread that made the call, whose process the stop holds whole).
    /// </summary>
    public static async Task<string> StoppedAsync(string trace, int count) =>
        await Eventually.ReturnsAsync<string?>(
            () =>
            {
                var stops = File.Exists(trace) ? File.ReadLines(trace).Where(line => line.Contains(StoppedLine, StringComparison.Ordinal)).ToList() : [];
                var pid = stops.Count == count ? stops[^1].Split(' ')[0] : null;
                return Task.FromResult(pid is not null && IsStopped(pid) ? pid : null);
            },
            pid => pid is not null,
            TimeSpan.FromSeconds(60),
            $"the process stopped by strace for the {count}th time",
            _ => File.Exists(trace) ? File.ReadAllText(trace) : "no trace yet") ?? string.Empty;

    /// <summary>
    /// The id of the process that the thread <paramref name="tid"/> (as <see cref="StoppedAsync"/> returns it) belongs
    /// to, which outlives the thread.
    /// </summary>
    public static string ProcessOf(string tid) =>
        File.ReadLines($"/proc/{tid}/status").First(line => line.StartsWith("Tgid:", StringComparison.Ordinal))["Tgid:".Length..].Trim();

    /// <summary>
    /// Lets the process that <paramref name="pid"/> belongs to go on at each stop until <paramref name="task"/> (which
    /// needs it, such as a call it answers) ends; fails after 60 s naming <paramref name="awaited"/>.
    /// </summary>
    public static async Task GoOnUntilAsync(string pid, Task task, string awaited)
    {
        await Eventually.HoldsAsync(
            async () =>
            {
                if (IsStopped(pid))
                {
                    await ContinueAsync(pid);
                }

                return task.IsCompleted;
            },
            timeout: TimeSpan.FromSeconds(60),
            awaited: awaited);
        await task;
    }

    /// <summary>Lets the process that <paramref name="pid"/> belongs to go on.</summary>
    public static async Task ContinueAsync(string pid)
    {
        using var resume = Process.Start("kill", ["-CONT", pid])!;
        await resume.WaitForExitAsync();
    }
}
