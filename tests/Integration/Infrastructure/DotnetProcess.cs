using System.Diagnostics;

namespace Trousseau.Tests.Integration.Infrastructure;

/// <summary>Starts a built .NET program (trousseaud, clectl, a sample) as a real child process, or a native build of one.</summary>
internal static class DotnetProcess
{
    /// <summary>
    /// Start information for <c>dotnet <paramref name="program"/> <paramref name="args"/></c> (or the native executable
    /// <paramref name="program"/> itself), with the Trousseau settings of the test runner's own environment removed and
    /// <paramref name="environment"/> added.
    /// </summary>
    public static ProcessStartInfo StartInfo(string program, IEnumerable<string> args, string workingDirectory, IReadOnlyDictionary<string, string?>? environment = null)
    {
        var native = IsNative(program);
        var info = new ProcessStartInfo(native ? program : "dotnet")
        {
            WorkingDirectory = workingDirectory,
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        if (!native)
        {
            info.ArgumentList.Add(program);
        }

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

    /// <summary>The shell words that start <paramref name="program"/>, for a script: <c>dotnet 'x.dll'</c> or <c>'x'</c>.</summary>
    public static string ShellCommand(string program) => IsNative(program) ? $"'{program}'" : $"dotnet '{program}'";

    private static bool IsNative(string program) => !program.EndsWith(".dll", StringComparison.Ordinal);
}
