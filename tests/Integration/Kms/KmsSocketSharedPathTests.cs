using System.Diagnostics;
using Trousseau.Tests.Integration.Infrastructure;
using Trousseau.Tests.StoreContract;

namespace Trousseau.Tests.Integration.Kms;

/// <summary>
/// Two trousseaud given one KMS socket path, starting at the same moment where a plugin that crashed left its socket:
/// each finds the old socket refusing connections, and only one may put its own in its place. strace holds the
/// second one right after it found the old socket dead, while the first one starts, then lets it go on.
/// </summary>
public sealed class KmsSocketSharedPathTests : IDisposable
{
    private readonly TempDirectory _temp = new();

    /// <summary>Read by <see cref="StoreFactAttribute"/>: strace is needed, and required under CI.</summary>
    public static string? SkipReason => StraceStops.SkipReason;

    public void Dispose() => _temp.Dispose();

    [StoreFact]
    public async Task A_plugin_that_found_the_socket_dead_before_another_replaced_it_refuses_to_start_and_leaves_the_live_socket_serving()
    {
        var socket = _temp.Combine("run", "kms.sock");
        Directory.CreateDirectory(Path.GetDirectoryName(socket)!);
        var crashed = await ChildProcess.RunAsync(new ProcessStartInfo(
            "python3", ["-c", "import socket, sys; socket.socket(socket.AF_UNIX).bind(sys.argv[1])", socket]));
        Assert.True(crashed.ExitCode == 0, crashed.Stderr);

        // Each connect(2) of the late plugin stops it (SIGSTOP) once the call returns: the first is the check of its
        // settings, the second the look at the socket right before it would replace it.
        var trace = _temp.Combine("strace");
        var info = DotnetProcess.StartInfo(
            RepositoryPaths.Server,
            ["--urls", ServerListener.Loopback().Urls, "--data-dir", _temp.Combine("late"), "--kms-socket", socket, "--Trousseau:Store=memory"],
            _temp.Path);
        StraceStops.Wrap(info, trace, "connect");
        using var late = Process.Start(info)!;
        var lateStdout = late.StandardOutput.ReadToEndAsync();
        var lateStderr = late.StandardError.ReadToEndAsync();
        try
        {
            await StraceStops.ContinueAsync(await StraceStops.StoppedAsync(trace, 1));
            var latePid = await StraceStops.StoppedAsync(trace, 2);

            await using var first = await TrousseauServerProcess.StartAsync(_temp.Combine("first"), ["--kms-socket", socket, "--Trousseau:Store=memory"]);
            using var channel = KmsSocketTests.ChannelFor(socket);
            var kms = new KmsV2Client(channel.CreateCallInvoker());
            var firstKeyId = await Eventually.ReturnsAsync(
                async () => (await kms.StatusAsync()).KeyId,
                keyId => keyId.Length > 0,
                awaited: "the first plugin to serve the socket");
            await StraceStops.ContinueAsync(latePid);

            using (var cts = new CancellationTokenSource(TimeSpan.FromSeconds(60)))
            {
                try
                {
                    await late.WaitForExitAsync(cts.Token);
                }
                catch (OperationCanceledException)
                {
                    late.Kill(entireProcessTree: true);
                    Assert.Fail($"the late plugin still runs 60 s after it was let go on; its output:\n{await lateStdout}{await lateStderr}");
                }
            }

            Assert.Equal(1, late.ExitCode);
            Assert.Equal($"trousseaud: cannot start: The KMS socket {socket} is in use by another process.", (await lateStderr).Trim());
            Assert.Equal(firstKeyId, (await kms.StatusAsync()).KeyId);
            Assert.Equal(0, await first.StopAsync());
            Assert.False(File.Exists(socket), $"the first plugin left {socket} behind as it stopped");
        }
        finally
        {
            if (!late.HasExited)
            {
                late.Kill(entireProcessTree: true);
                await late.WaitForExitAsync();
            }
        }
    }
}
