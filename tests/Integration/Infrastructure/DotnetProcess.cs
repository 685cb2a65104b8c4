using System.Diagnostics;

namespace Trousseau.Tests.Integration.Infrastructure;

/// <summary>Starts a built .NET program (trousseaud, clectl, a sample) as a real child process.</summary>
internal static class DotnetProcess
{
    /// <summary>
    /// Start information for <c>dotnet <paramref name="dll"/> <paramref name="args"/></c>, with the Trousseau settings of
    /// the test runner's own environment removed and <paramref name="environment"/> added.
    /// </summary>
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
}
