using System.Diagnostics;

namespace Trousseau.Tests.Integration.Infrastructure;

/// <summary>
/// A directory in which the test's own user cannot create files while this lives: no write permission for its owner,
/// or, for root (whom modes do not stop), the immutable attribute (<c>chattr +i</c>). Disposing makes it writable again.
/// </summary>
internal sealed class WriteProtectedDirectory : IAsyncDisposable
{
    private WriteProtectedDirectory(string path) => Path = path;

    public string Path { get; }

    /// <summary>Creates <paramref name="path"/> and protects it.</summary>
    public static async Task<WriteProtectedDirectory> CreateAsync(string path)
    {
        Directory.CreateDirectory(path);
        await ProtectAsync(path, protect: true);
        return new WriteProtectedDirectory(path);
    }

    public async ValueTask DisposeAsync() => await ProtectAsync(Path, protect: false);

    private static async Task ProtectAsync(string path, bool protect)
    {
        if (!Environment.IsPrivilegedProcess)
        {
            var mode = File.GetUnixFileMode(path);
            File.SetUnixFileMode(path, protect ? mode & ~UnixFileMode.UserWrite : mode | UnixFileMode.UserWrite);
            return;
        }

        var chattr = await ChildProcess.RunAsync(new ProcessStartInfo("chattr", [protect ? "+i" : "-i", path]));
        Assert.True(chattr.ExitCode == 0, $"chattr could not change {path}: {chattr.Stderr}");
    }
}
