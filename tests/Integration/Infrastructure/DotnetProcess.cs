using System.Diagnostics;
using System.Text;

namespace Trousseau.Tests.Integration.Infrastructure;

/// <summary>Runs a built .NET program (trousseaud, clectl) as a real child process.</summary>
internal static class DotnetProcess
{
    public static readonly TimeSpan DefaultTimeout = TimeSpan.FromSeconds(60);

    public static ProcessStartInfo StartInfo(string dll, IEnumerable<string> args, string workingDirectory, IReadOnlyDictionary<string, string?>? environment = null)
    {
        var info = new ProcessStartInfo("dotnet")
        {
            WorkingDirectory = workingDirectory,
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        info.ArgumentList.Add(dll);
        foreach (var arg in args)
        {
            info.ArgumentList.Add(arg);
        }

        foreach (var name in info.Environment.Keys.Where(k => k.StartsWith("Trousseau__", StringComparison.OrdinalIgnoreCase) || k.StartsWith("TROUSSEAU_", StringComparison.Ordinal)).ToList())
        {
            info.Environment.Remove(name);
        }

        foreach (var (name, value) in environment ?? new Dictionary<string, string?>())
        {
            info.Environment[name] = value;
        }

        return info;
    }

    /// <summary>Runs to completion, feeding <paramref name="stdin"/>, and returns exit code and output.</summary>
    public static async Task<ProcessResult> RunAsync(ProcessStartInfo info, string? stdin = null, TimeSpan? timeout = null)
    {
        using var process = Process.Start(info) ?? throw new InvalidOperationException("could not start " + info.FileName);
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        if (stdin is not null)
        {
            await process.StandardInput.WriteAsync(stdin);
        }

        process.StandardInput.Close();
        using var cts = new CancellationTokenSource(timeout ?? DefaultTimeout);
        try
        {
            await process.WaitForExitAsync(cts.Token);
        }
        catch (OperationCanceledException)
        {
            process.Kill(entireProcessTree: true);
            throw new TimeoutException($"{Describe(info)} did not finish in time; stderr so far: {await stderr}");
        }

        return new ProcessResult(process.ExitCode, await stdout, await stderr);
    }

    public static string Describe(ProcessStartInfo info)
    {
        var text = new StringBuilder(Path.GetFileName(info.ArgumentList[0]));
        foreach (var arg in info.ArgumentList.Skip(1))
        {
            text.Append(' ').Append(arg);
        }

        return text.ToString();
    }
}
