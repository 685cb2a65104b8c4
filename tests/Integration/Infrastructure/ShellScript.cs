using System.Diagnostics;

namespace Trousseau.Tests.Integration.Infrastructure;

/// <summary>
/// A block of shell commands run by bash as a user would type it, in a process group of its own, so that what it
/// leaves running in the background (a server, <c>dotnet run ... &amp;</c>) can be stopped with it. Output goes to
/// files, so that a background job holding it open never blocks the test.
/// </summary>
internal sealed class ShellScript : IAsyncDisposable
{
    private readonly string _output;
    private readonly string _errors;
    private readonly Process _process;

    private ShellScript(string output, string errors, Process process) => (_output, _errors, _process) = (output, errors, process);

    /// <summary>Starts <paramref name="commands"/> (a script's text) with <c>bash -e</c> in <paramref name="workingDirectory"/>.</summary>
    public static ShellScript Start(string commands, string workingDirectory, string scratch, IReadOnlyDictionary<string, string?> environment)
    {
        var name = "script-" + Guid.NewGuid().ToString("N")[..8];
        var script = Path.Combine(scratch, name + ".sh");
        File.WriteAllText(script, commands);
        var output = Path.Combine(scratch, name + ".out");
        var errors = Path.Combine(scratch, name + ".err");

        // setsid makes bash the leader of a new process group; its id is bash's pid.
        var info = new ProcessStartInfo("setsid", ["bash", "-c", "exec bash -e \"$0\" >\"$1\" 2>\"$2\"", script, output, errors])
        {
            WorkingDirectory = workingDirectory,
            UseShellExecute = false,
        };
        foreach (var (key, value) in environment)
        {
            if (value is null)
            {
                info.Environment.Remove(key);
            }
            else
            {
                info.Environment[key] = value;
            }
        }

        return new ShellScript(output, errors, Process.Start(info) ?? throw new InvalidOperationException("bash did not start"));
    }

    public string Stdout => ReadShared(_output);

    public string Stderr => ReadShared(_errors);

    /// <summary>Waits for the script itself to end (not what it left in the background) and returns its exit code.</summary>
    public async Task<int> WaitAsync(TimeSpan timeout)
    {
        using var cancellation = new CancellationTokenSource(timeout);
        try
        {
            await _process.WaitForExitAsync(cancellation.Token);
        }
        catch (OperationCanceledException)
        {
            Assert.Fail($"the script did not end within {timeout.TotalSeconds} s; it printed:\n{Stdout}\n{Stderr}");
        }

        return _process.ExitCode;
    }

    /// <summary>Stops the script's whole process group (SIGINT, as Ctrl+C would, then SIGTERM, then SIGKILL).</summary>
    public async ValueTask DisposeAsync()
    {
        // Interrupted as a terminal's Ctrl+C would; then terminated, as a service manager stops a process, for a test run
        // started where SIGINT is ignored (a shell's background job), which its processes inherit and .NET then keeps;
        // killed after 10 s more; and gone before the next test starts, so that a port it listened on (the README's
        // 8787) is free again.
        await SignalGroupAsync("INT");
        if (!await GroupEndsWithinAsync(TimeSpan.FromSeconds(2)))
        {
            await SignalGroupAsync("TERM");
            if (!await GroupEndsWithinAsync(TimeSpan.FromSeconds(10)))
            {
                await SignalGroupAsync("KILL");
                await GroupEndsWithinAsync(TimeSpan.FromSeconds(10));
            }
        }

        _process.Dispose();
    }

    /// <summary>Whether every process of the script's group has ended within <paramref name="grace"/>.</summary>
    private async Task<bool> GroupEndsWithinAsync(TimeSpan grace)
    {
        using var timeout = new CancellationTokenSource(grace);
        while (await SignalGroupAsync("0"))
        {
            if (timeout.IsCancellationRequested)
            {
                return false;
            }

            await Task.Delay(100, CancellationToken.None);
        }

        return true;
    }

    private async Task<bool> SignalGroupAsync(string signal)
    {
        using var kill = Process.Start(new ProcessStartInfo("kill", ["-" + signal, "--", "-" + _process.Id])
        {
            RedirectStandardError = true,
            UseShellExecute = false,
        })!;
        await kill.WaitForExitAsync();
        return kill.ExitCode == 0;
    }

    private static string ReadShared(string path)
    {
        if (!File.Exists(path))
        {
            return string.Empty;
        }

        using var stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite);
        using var reader = new StreamReader(stream);
        return reader.ReadToEnd();
    }
}
