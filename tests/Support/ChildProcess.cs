using System.Diagnostics;
using System.Text;

namespace Trousseau.Tests.Integration.Infrastructure;

/// <summary>Runs a program (trousseaud, clectl, bash, git, etcdctl) as a real child process, to its exit.</summary>
public static class ChildProcess
{
    /// <summary>How long <see cref="RunAsync"/> waits unless told otherwise.</summary>
    public static readonly TimeSpan DefaultTimeout = TimeSpan.FromSeconds(60);

    /// <summary>
    /// Runs <paramref name="info"/> to completion, feeding <paramref name="stdin"/>, and returns its exit code and
    /// output. Standard input and both outputs are redirected here. A process still running after
    /// <paramref name="timeout"/> is killed with its children, and the test fails naming it and what it wrote to stderr.
    /// </summary>
    public static async Task<ProcessResult> RunAsync(ProcessStartInfo info, string? stdin = null, TimeSpan? timeout = null)
    {
        info.RedirectStandardInput = true;
        info.RedirectStandardOutput = true;
        info.RedirectStandardError = true;
        info.UseShellExecute = false;
        using var process = Process.Start(info) ?? throw new InvalidOperationException("could not start " + info.FileName);
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        if (stdin is not null)
        {
            await process.StandardInput.WriteAsync(stdin);
        }

        process.StandardInput.Close();
        var limit = timeout ?? DefaultTimeout;
        using var cts = new CancellationTokenSource(limit);
        try
        {
            await process.WaitForExitAsync(cts.Token);
        }
        catch (OperationCanceledException)
        {
            process.Kill(entireProcessTree: true);
            throw new TimeoutException($"{Describe(info)} did not finish within {limit.TotalSeconds} s; stderr so far: {await stderr}");
        }

        return new ProcessResult(process.ExitCode, await stdout, await stderr);
    }

    /// <summary>The command line of <paramref name="info"/>, with a .NET program named by its file.</summary>
    public static string Describe(ProcessStartInfo info)
    {
        var args = info.ArgumentList.ToList();
        var text = new StringBuilder(info.FileName == "dotnet" && args.Count > 0 ? Path.GetFileName(args[0]) : info.FileName);
        foreach (var arg in info.FileName == "dotnet" ? args.Skip(1) : args)
        {
            text.Append(' ').Append(arg);
        }

        return text.ToString();
    }
}
