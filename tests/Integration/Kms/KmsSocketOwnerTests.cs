using System.Diagnostics;
using Trousseau.Tests.Integration.Infrastructure;
using Trousseau.Tests.StoreContract;

namespace Trousseau.Tests.Integration.Kms;

/// <summary>
/// The KMS socket's directory as an attacker on the node would set it up: owned by another user, who may replace the
/// socket whatever its mode says, so that kube-apiserver hands its data keys to the attacker's plugin.
/// </summary>
public sealed class KmsSocketOwnerTests : IDisposable
{
    // nobody: neither root nor the user the tests run as.
    private const string OtherUser = "65534";

    private readonly TempDirectory _temp = new();

    /// <summary>Why the tests are skipped: giving a directory to another user needs root.</summary>
    public static string? SkipReason => Environment.IsPrivilegedProcess
        ? null
        : "Needs root, to give the socket's directory to another user (chown); run the tests as root to include it.";

    public void Dispose() => _temp.Dispose();

    [StoreFact]
    public async Task A_socket_directory_another_user_owns_is_refused_naming_it_and_its_owner_and_nothing_is_created_in_it()
    {
        var directory = _temp.Combine("run");
        Directory.CreateDirectory(directory);
        File.SetUnixFileMode(directory, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute
            | UnixFileMode.GroupRead | UnixFileMode.GroupExecute | UnixFileMode.OtherRead | UnixFileMode.OtherExecute);
        var chown = await ChildProcess.RunAsync(new ProcessStartInfo("chown", [OtherUser, directory]));
        Assert.True(chown.ExitCode == 0, chown.Stderr);

        var result = await TrousseauServerProcess.RunToExitAsync(_temp.Combine("data"), ["--kms-socket", Path.Combine(directory, "kms.sock")]);

        Assert.Equal(1, result.ExitCode);
        Assert.Equal(
            $"trousseaud: cannot start: The KMS socket directory {directory} belongs to user id {OtherUser}, neither root nor the user this process runs as (uid 0), who could replace the socket; "
            + $"give it to root or that user (chown 0 {directory}) or put the socket in another directory.",
            result.Stderr.Trim());
        Assert.Empty(Directory.GetFileSystemEntries(directory));
    }
}
