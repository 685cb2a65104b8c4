using System.Diagnostics;
using System.Net.Sockets;
using Trousseau.Tests.Integration.Infrastructure;
using Trousseau.Tests.StoreContract;

namespace Trousseau.Tests.Integration.Kms;

/// <summary>
/// A live socket of another user's at the plugin's socket path, which the plugin may not connect to: it must not take
/// it for one left behind by a plugin that is gone, and replace it, taking kube-apiserver's calls from its server.
/// </summary>
public sealed class KmsForeignSocketTests : IDisposable
{
    // The plugin runs as nobody: neither root nor the user the tests run as.
    private const string OtherUser = "65534";

    private readonly TempDirectory _temp = new();

    /// <summary>Why the test is skipped: running the plugin as another user needs root, and a build that user may read.</summary>
    public static string? SkipReason =>
        !Environment.IsPrivilegedProcess ? "Needs root, to run the plugin as another user (setpriv); run the tests as root to include it."
        : !ReadableByOtherUser() ? $"{RepositoryPaths.Server} cannot be read by user id {OtherUser} (a checkout in a private directory), which the plugin runs as here."
        : null;

    public void Dispose() => _temp.Dispose();

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
        var asOtherUser = new ProcessStartInfo("setpriv", [.. AsOtherUser, plugin.FileName, .. plugin.ArgumentList])
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

    private static readonly string[] AsOtherUser = [$"--reuid={OtherUser}", $"--regid={OtherUser}", "--clear-groups", "--"];

    private static bool ReadableByOtherUser()
    {
        using var test = Process.Start(new ProcessStartInfo("setpriv", [.. AsOtherUser, "test", "-r", RepositoryPaths.Server]))!;
        test.WaitForExit();
        return test.ExitCode == 0;
    }
}
