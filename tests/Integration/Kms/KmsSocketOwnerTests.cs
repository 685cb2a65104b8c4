using System.Diagnostics;
using System.Net.Sockets;
using Trousseau.Tests.Integration.Infrastructure;
using Trousseau.Tests.StoreContract;

namespace Trousseau.Tests.Integration.Kms;

/// <summary>
/// The KMS socket's directory as an attacker on the node would set it up: owned by another user, who may replace the
/// socket whatever its mode says, so that kube-apiserver hands its data keys to the attacker's plugin. And a live socket
/// of another user's that the plugin may not connect to, which it must not take for one left behind.
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

    [StoreFact]
    public async Task A_live_socket_the_plugins_user_may_not_connect_to_is_refused_naming_it_and_keeps_serving()
    {
        // A directory of the plugin's user (nobody), holding a live socket of root's that nobody may not write to, as
        // a plugin that ran as root before leaves it while it still serves.
        var directory = _temp.Combine("run");
        var data = _temp.Combine("data");
        Directory.CreateDirectory(directory);
        Directory.CreateDirectory(data);
        File.SetUnixFileMode(_temp.Path, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute
            | UnixFileMode.GroupRead | UnixFileMode.GroupExecute | UnixFileMode.OtherRead | UnixFileMode.OtherExecute);
        File.SetUnixFileMode(directory, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
        var chown = await ChildProcess.RunAsync(new ProcessStartInfo("chown", [$"{OtherUser}:{OtherUser}", directory, data]));
        Assert.True(chown.ExitCode == 0, chown.Stderr);
        var socket = Path.Combine(directory, "kms.sock");
        using var live = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        live.Bind(new UnixDomainSocketEndPoint(socket));
        live.Listen();
        File.SetUnixFileMode(socket, UnixFileMode.UserRead | UnixFileMode.UserWrite);

        var plugin = DotnetProcess.StartInfo(RepositoryPaths.Server, ["--urls", ServerListener.Loopback().Urls, "--data-dir", data, "--kms-socket", socket], _temp.Path);
        var asOtherUser = new ProcessStartInfo("setpriv", [$"--reuid={OtherUser}", $"--regid={OtherUser}", "--clear-groups", "--", plugin.FileName, .. plugin.ArgumentList])
        {
            WorkingDirectory = plugin.WorkingDirectory,
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        };
        foreach (var (name, value) in plugin.Environment)
        {
            asOtherUser.Environment[name] = value;
        }

        var result = await ChildProcess.RunAsync(asOtherUser, timeout: TimeSpan.FromSeconds(60));

        Assert.Equal(1, result.ExitCode);
        Assert.StartsWith($"trousseaud: cannot start: The KMS socket path {socket} is a socket this process may not connect to (", result.Stderr.Trim(), StringComparison.Ordinal);
        using var caller = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        await caller.ConnectAsync(new UnixDomainSocketEndPoint(socket));
        using var accepted = await live.AcceptAsync();
        Assert.True(accepted.Connected);
    }
}
