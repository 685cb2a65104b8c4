using System.Diagnostics;
using System.Text;
using Trousseau.Tests.Integration.Infrastructure;
using Trousseau.Tests.StoreContract;

namespace Trousseau.Tests.Integration.Server;

/// <summary>
/// Two trousseaud started at the same moment on one SQLite store not created yet: each finds it free at first, and
/// only one can take it. strace holds the second one right after its first look at the store's lock file, while the
/// first one starts and takes the store, then lets it go on.
/// </summary>
public sealed class SqliteStoreStartRaceTests : IDisposable
{
    private readonly TempDirectory _temp = new();

    /// <summary>Read by <see cref="StoreFactAttribute"/>: strace is needed, and required under CI.</summary>
    public static string? SkipReason => StraceStops.SkipReason;

    public void Dispose() => _temp.Dispose();

    [StoreFact]
    public async Task The_one_that_finds_the_store_taken_after_both_saw_it_free_logs_warning_9004_once_naming_the_other()
    {
        var dataDir = _temp.Combine("data");
        var storePath = Path.Combine(dataDir, "store.db");

        // Only the store is shared: each has a key ring of its own, which the late one, stopped, could hold locked.
        string[] shared = [$"--Trousseau:Sqlite:Path={storePath}"];

        // Each look of the late one at the lock file stops it (SIGSTOP) once the call returns; the first finds none.
        var trace = _temp.Combine("strace");
        var info = DotnetProcess.StartInfo(
            RepositoryPaths.Server, ["--urls", ServerListener.Loopback().Urls, "--data-dir", _temp.Combine("late"), .. shared], _temp.Path);
        StraceStops.Wrap(info, trace, "all", storePath + ".lock");
        var output = new StringBuilder();
        using var late = new Process { StartInfo = info };
        late.OutputDataReceived += (_, e) => Append(output, e.Data);
        late.ErrorDataReceived += (_, e) => Append(output, e.Data);
        late.Start();
        late.BeginOutputReadLine();
        late.BeginErrorReadLine();
        try
        {
            var latePid = await StraceStops.StoppedAsync(trace, 1);

            await using var first = await TrousseauServerProcess.StartAsync(_temp.Combine("first"), shared);
            await first.WaitForReadinessAsync(System.Net.HttpStatusCode.OK);

            // Let the late one go on, again at each later look at the lock file, until it says it started.
            var log = await Eventually.ReturnsAsync(
                async () =>
                {
                    if (StraceStops.IsStopped(latePid))
                    {
                        await StraceStops.ContinueAsync(latePid);
                    }

                    return Text(output);
                },
                text => text.Contains("trousseaud ", StringComparison.Ordinal) && text.Contains(" started: ", StringComparison.Ordinal) || late.HasExited,
                TimeSpan.FromSeconds(60),
                "the late trousseaud to start",
                text => text);

            var inUse = $"The SQLite store '{storePath}' is in use by another process or store instance (lock file {storePath}.lock): process {first.ProcessId} (";
            var warnings = log.Split('\n').Count(line =>
                line.Contains(inUse, StringComparison.Ordinal) && line.Contains("but its secret calls answer 503 until that process stops", StringComparison.Ordinal));
            Assert.True(warnings == 1, $"{warnings} warnings 9004 where one was expected; the late trousseaud's output:\n{log}");
            Assert.Equal(0, await first.StopAsync());
        }
        finally
        {
            if (!late.HasExited)
            {
                late.Kill(entireProcessTree: true);
                await late.WaitForExitAsync();
            }
        }
    }

    private static void Append(StringBuilder output, string? line)
    {
        if (line is not null)
        {
            lock (output)
            {
                output.Append(line).Append('\n');
            }
        }
    }

    private static string Text(StringBuilder output)
    {
        lock (output)
        {
            return output.ToString();
        }
    }
}
