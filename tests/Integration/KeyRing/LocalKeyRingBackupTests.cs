using Trousseau.Tests.Integration.Docs;
using Trousseau.Tests.Integration.Infrastructure;

namespace Trousseau.Tests.Integration.KeyRing;

/// <summary>The backup and restore procedure of docs/reference.md, run as written.</summary>
public sealed class LocalKeyRingBackupTests : IDisposable
{
    private const UnixFileMode OwnerReadWrite = UnixFileMode.UserRead | UnixFileMode.UserWrite;

    private readonly TempDirectory _temp = new();

    private string DataDir => _temp.Combine("data");

    private string KeyRingFile => _temp.Combine("data", "local.keyring");

    public void Dispose() => _temp.Dispose();

    [Fact]
    public async Task A_key_ring_backed_up_while_trousseaud_runs_and_restored_after_its_loss_decrypts_every_secret()
    {
        var (backup, restore) = DocumentedShell.BackupAndRestore("Local key ring: backup and restore");
        var environment = new Dictionary<string, string?>
        {
            ["TROUSSEAU_HOME"] = DataDir,
            ["KEYRING_BACKUP"] = _temp.Combine("backup", "local.keyring"),
        };
        Directory.CreateDirectory(_temp.Combine("backup"));

        await using (var server = await TrousseauServerProcess.StartAsync(DataDir))
        {
            var clectl = Clectl(server);
            ClectlAssert.Ok(await clectl.RunAsync("secret", "create", "before", "--from-literal", "k=before"));
            ClectlAssert.Ok(await clectl.RunAsync("key", "rotate"));
            ClectlAssert.Ok(await clectl.RunAsync("secret", "create", "after", "--from-literal", "k=after"));
            await DocumentedShell.RunAsync(backup, _temp.Path, environment);
            Assert.Equal(0, await server.StopAsync());
        }

        File.Delete(KeyRingFile);
        var refused = await ChildProcess.RunAsync(
            DotnetProcess.StartInfo(RepositoryPaths.Server, ["--urls", $"http://127.0.0.1:{FreePort.Next()}", "--data-dir", DataDir], _temp.Path),
            timeout: TimeSpan.FromSeconds(30));
        Assert.Equal(2, refused.ExitCode);

        await DocumentedShell.RunAsync(restore, _temp.Path, environment);

        Assert.Equal(OwnerReadWrite, File.GetUnixFileMode(environment["KEYRING_BACKUP"]!));
        Assert.Equal(OwnerReadWrite, File.GetUnixFileMode(KeyRingFile));
        await using var restored = await TrousseauServerProcess.StartAsync(DataDir);
        var restoredClectl = Clectl(restored);
        Assert.Equal("before", (await restoredClectl.RunAsync("secret", "get", "before", "--key", "k")).Stdout);
        Assert.Equal("after", (await restoredClectl.RunAsync("secret", "get", "after", "--key", "k")).Stdout);
    }

    private ClectlRunner Clectl(TrousseauServerProcess server) =>
        ClectlRunner.For(server, DataDir, Directory.CreateDirectory(_temp.Combine("work")).FullName);
}
