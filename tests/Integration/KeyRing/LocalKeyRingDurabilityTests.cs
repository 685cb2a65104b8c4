using System.Diagnostics;
using System.Text.RegularExpressions;
using Trousseau.Tests.Integration.Infrastructure;
using Trousseau.Tests.StoreContract;

namespace Trousseau.Tests.Integration.KeyRing;

/// <summary>
/// What trousseaud asks of the kernel when it writes the key ring, seen through strace: the new file is flushed,
/// renamed over the old one, and then the directory that holds the name is flushed too, so that a power loss
/// after a rotation answered cannot bring back the ring without the new key.
/// </summary>
public sealed partial class LocalKeyRingDurabilityTests : IDisposable
{
    private readonly TempDirectory _temp = new();

    /// <summary>Read by <see cref="StoreFactAttribute"/>: strace is needed, and required under CI.</summary>
    public static string? SkipReason => StraceStops.SkipReason;

    public void Dispose() => _temp.Dispose();

    [StoreFact]
    public async Task A_rotation_flushes_the_key_ring_and_then_its_directory_after_the_rename()
    {
        var dataDir = _temp.Combine("data");
        var trace = _temp.Combine("strace");
        var url = $"http://127.0.0.1:{FreePort.Next()}";
        var info = DotnetProcess.StartInfo(RepositoryPaths.Server, ["--urls", url, "--data-dir", dataDir], _temp.Path);
        string[] strace = ["-ff", "--seccomp-bpf", "-e", "trace=openat,fsync,rename,renameat,renameat2", "-o", trace, info.FileName];
        foreach (var argument in strace.Reverse())
        {
            info.ArgumentList.Insert(0, argument);
        }

        info.FileName = "strace";
        using var server = Process.Start(info)!;
        try
        {
            var clectl = new ClectlRunner(Directory.CreateDirectory(_temp.Combine("work")).FullName, new Dictionary<string, string?>
            {
                ["TROUSSEAU_SERVER"] = url,
                ["TROUSSEAU_HOME"] = dataDir,
                ["XDG_CONFIG_HOME"] = _temp.Combine("config"),
            });
            await Eventually.HoldsAsync(async () => (await clectl.RunAsync("health")).ExitCode == 0);

            ClectlAssert.Ok(await clectl.RunAsync("key", "rotate", "--token-file", Path.Combine(dataDir, "api.token")));

            var keyRing = Path.Combine(dataDir, "local.keyring");
            await Eventually.HoldsAsync(
                () => Threads(trace).Sum(lines => DirectoryFlushedAfterRename(lines, keyRing, dataDir)) >= 2,
                () => $"no rename of {keyRing} followed by an fsync of {dataDir}, at creation and at rotation, in:\n{string.Join('\n', Threads(trace).SelectMany(l => l).Where(l => l.Contains(dataDir, StringComparison.Ordinal)))}");
        }
        finally
        {
            server.Kill(entireProcessTree: true);
            await server.WaitForExitAsync();
        }
    }

    /// <summary>The system calls of each thread: strace -ff writes one file per thread, <c>strace.TID</c>.</summary>
    private static IEnumerable<string[]> Threads(string prefix) =>
        Directory.EnumerateFiles(Path.GetDirectoryName(prefix)!, Path.GetFileName(prefix) + ".*").Select(File.ReadAllLines);

    /// <summary>
    /// How many renames onto <paramref name="target"/> one thread followed at once (no other traced call between)
    /// by opening <paramref name="directory"/> and an fsync of that handle.
    /// </summary>
    private static int DirectoryFlushedAfterRename(string[] lines, string target, string directory)
    {
        var count = 0;
        var renamed = false;
        string? directoryHandle = null;
        foreach (var call in lines.Select(line => Syscall().Match(line)).Where(m => m.Success))
        {
            var (name, arguments, result) = (call.Groups["name"].Value, call.Groups["arguments"].Value, call.Groups["result"].Value);
            if (name == "fsync" && directoryHandle is not null && arguments == directoryHandle && result == "0")
            {
                count++;
            }

            var opensDirectory = name == "openat" && renamed && arguments.StartsWith($"AT_FDCWD, \"{directory}\",", StringComparison.Ordinal);
            directoryHandle = opensDirectory ? result : null;
            renamed = name.StartsWith("rename", StringComparison.Ordinal) && arguments.EndsWith($"\"{target}\"", StringComparison.Ordinal) && result == "0";
        }

        return count;
    }

    // rename("/d/local.keyring.x.tmp", "/d/local.keyring") = 0
    [GeneratedRegex(@"^(?<name>\w+)\((?<arguments>.*)\)\s+=\s+(?<result>-?\d+)")]
    private static partial Regex Syscall();
}
