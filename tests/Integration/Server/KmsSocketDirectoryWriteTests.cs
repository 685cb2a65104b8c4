using Trousseau.Tests.Integration.Infrastructure;

namespace Trousseau.Tests.Integration.Server;

/// <summary>
/// A KMS socket whose directory trousseaud may not write (a system directory such as /run for a trousseaud that runs as
/// an unprivileged user, a read-only file system): the start is refused with one line naming the directory and the
/// setting to change, before anything is created, as for a data directory it cannot write; a directory that becomes so
/// while trousseaud runs leaves the socket behind at the stop, said in a warning, never a crash.
/// </summary>
public sealed class KmsSocketDirectoryWriteTests : IDisposable
{
    private readonly TempDirectory _temp = new();

    public void Dispose() => _temp.Dispose();

    [Theory]
    [InlineData("kms.sock")]
    [InlineData("run/trousseau/kms.sock")]
    public async Task A_socket_directory_that_cannot_be_written_or_created_stops_the_start_with_one_line_naming_it_and_no_stack_trace(string below)
    {
        await using var protectedDirectory = await WriteProtectedDirectory.CreateAsync(_temp.Combine("protected"));
        var socket = Path.Combine(protectedDirectory.Path, below);
        var dataDir = _temp.Combine("data");

        var result = await TrousseauServerProcess.RunToExitAsync(dataDir, ["--kms-socket", socket]);

        Assert.Equal(1, result.ExitCode);
        var line = Assert.Single((result.Stdout + result.Stderr).Split('\n', StringSplitOptions.RemoveEmptyEntries));
        Assert.StartsWith($"trousseaud: cannot start: The KMS socket {socket} cannot be made: its directory {Path.GetDirectoryName(socket)} ", line, StringComparison.Ordinal);
        Assert.Contains(Environment.IsPrivilegedProcess ? "is immutable" : $"gives no write permission to the user this process runs as ({Environment.UserName})", line, StringComparison.Ordinal);
        Assert.EndsWith("or choose another path with --kms-socket or Trousseau:Kms:Socket.", line, StringComparison.Ordinal);
        Assert.False(Directory.Exists(dataDir), "the refused start left its data directory behind");
    }

    [Fact]
    public async Task A_socket_directory_made_read_only_while_trousseaud_runs_leaves_the_socket_at_the_stop_with_a_warning_and_exit_0_and_the_next_start_replaces_it()
    {
        var dataDir = _temp.Combine("data");
        var socket = _temp.Combine("run", "kms.sock");
        await using (var server = await TrousseauServerProcess.StartAsync(dataDir, ["--kms-socket", socket]))
        {
            await using (await WriteProtectedDirectory.CreateAsync(Path.GetDirectoryName(socket)!))
            {
                Assert.Equal(0, await server.StopAsync());
            }

            Assert.DoesNotContain("Unhandled exception", server.Log, StringComparison.Ordinal);
            Assert.Contains($"The KMS socket {socket} could not be removed at the stop", server.Log, StringComparison.Ordinal);
        }

        // The start refuses a socket another process serves, and replaces one left behind.
        await using var again = await TrousseauServerProcess.StartAsync(dataDir, ["--kms-socket", socket]);
        Assert.Equal(0, await again.StopAsync());
        Assert.False(File.Exists(socket), "the KMS socket was left behind by a stop that could remove it");
    }
}
