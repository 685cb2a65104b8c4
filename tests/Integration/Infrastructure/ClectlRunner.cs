namespace Trousseau.Tests.Integration.Infrastructure;

/// <summary>
/// Runs the real clectl as a process, with its own working directory and <c>XDG_CONFIG_HOME</c>, and with the
/// server address and token taken from the environment variables a user would set.
/// </summary>
internal sealed class ClectlRunner(string workingDirectory, IReadOnlyDictionary<string, string?> environment)
{
    /// <summary>
    /// A runner pointed at <paramref name="server"/> with the token of its data directory in <c>TROUSSEAU_TOKEN</c>, as
    /// a user of a server on another address than the default gives it (clectl sends the data directory's token file
    /// only to the default server), and that data directory as <c>TROUSSEAU_HOME</c>.
    /// </summary>
    public static ClectlRunner For(TrousseauServerProcess server, string dataDir, string workingDirectory)
    {
        var tokenFile = Path.Combine(dataDir, "api.token");
        return new(workingDirectory, new Dictionary<string, string?>
        {
            ["TROUSSEAU_SERVER"] = server.BaseAddress.ToString(),
            ["TROUSSEAU_TOKEN"] = File.Exists(tokenFile) ? File.ReadAllText(tokenFile).Trim() : null,
            ["TROUSSEAU_HOME"] = dataDir,
            ["XDG_CONFIG_HOME"] = Path.Combine(workingDirectory, "config"),
        });
    }

    public string WorkingDirectory => workingDirectory;

    public Task<ProcessResult> RunAsync(params string[] args) => RunWithInputAsync(stdin: null, args);

    public Task<ProcessResult> RunWithInputAsync(string? stdin, params string[] args) =>
        ChildProcess.RunAsync(DotnetProcess.StartInfo(RepositoryPaths.Cli, args, workingDirectory, environment), stdin);

    /// <summary>
    /// Runs <paramref name="script"/> with <paramref name="shell"/> (<c>bash</c>, <c>zsh</c>, <c>fish</c>), in which
    /// the command <c>clectl</c> is the real clectl, as a user types it.
    /// </summary>
    public Task<ProcessResult> ShellAsync(string shell, string script)
    {
        var bin = Path.Combine(workingDirectory, "clectl-bin");
        var wrapper = Path.Combine(bin, "clectl");
        if (!File.Exists(wrapper))
        {
            Directory.CreateDirectory(bin);
            File.WriteAllText(wrapper, $"#!/bin/sh\nexec {DotnetProcess.ShellCommand(RepositoryPaths.Cli)} \"$@\"\n");
            File.SetUnixFileMode(wrapper, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
        }

        var info = DotnetProcess.StartInfo(RepositoryPaths.Cli, [], workingDirectory, environment);
        info.FileName = shell;
        info.ArgumentList.Clear();
        info.ArgumentList.Add("-c");
        info.ArgumentList.Add(script);
        info.Environment["PATH"] = bin + Path.PathSeparator + Environment.GetEnvironmentVariable("PATH");
        return ChildProcess.RunAsync(info);
    }

    /// <summary>The same runner with some environment variables changed (a null value removes one).</summary>
    public ClectlRunner With(params (string Name, string? Value)[] changes)
    {
        var copy = new Dictionary<string, string?>(environment);
        foreach (var (name, value) in changes)
        {
            copy[name] = value;
        }

        return new ClectlRunner(workingDirectory, copy);
    }

    /// <summary>The same runner in another working directory.</summary>
    public ClectlRunner In(string directory) => new(directory, environment);
}
