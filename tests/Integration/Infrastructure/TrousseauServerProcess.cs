using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Text;

namespace Trousseau.Tests.Integration.Infrastructure;

/// <summary>
/// trousseaud (or another web host of ours, such as a sample) running as a real process on a free loopback port.
/// </summary>
internal sealed class TrousseauServerProcess : IAsyncDisposable
{
    private static readonly TimeSpan StartTimeout = TimeSpan.FromSeconds(60);
    private static readonly TimeSpan StopTimeout = TimeSpan.FromSeconds(30);

    private readonly Process _process;
    private readonly StringBuilder _log = new();
    private readonly string _name;

    private TrousseauServerProcess(Process process, ServerListener listener, string name)
    {
        _name = name;
        _process = process;
        BaseAddress = listener.BaseAddress;
        Http = listener.CreateClient();
        _process.OutputDataReceived += (_, e) => Append(e.Data);
        _process.ErrorDataReceived += (_, e) => Append(e.Data);
        _process.BeginOutputReadLine();
        _process.BeginErrorReadLine();
    }

    public Uri BaseAddress { get; }

    /// <summary>A client of the server (over TLS, one that trusts its CA), with no token.</summary>
    public HttpClient Http { get; }

    /// <summary>The process id.</summary>
    public int ProcessId => _process.Id;

    /// <summary>Whether the process has ended (by itself or killed).</summary>
    public bool HasExited => _process.HasExited;

    /// <summary>Everything the server wrote to stdout and stderr so far.</summary>
    public string Log
    {
        get
        {
            lock (_log)
            {
                return _log.ToString();
            }
        }
    }

    /// <summary>
    /// Waits up to 10 s for <paramref name="client"/>'s GET of <paramref name="path"/> to be answered (a connection
    /// refused or reset is tried again), then asserts that the server still runs and answered 200: that a flood of
    /// connections, once closed, left it serving.
    /// </summary>
    public async Task AssertAnswersOkAsync(HttpClient client, string path, string awaited)
    {
        var status = await Eventually.ReturnsAsync(
            async () =>
            {
                try
                {
                    using var response = await client.GetAsync(new Uri(path, UriKind.Relative));
                    return (HttpStatusCode?)response.StatusCode;
                }
                catch (Exception e) when (e is HttpRequestException or TaskCanceledException)
                {
                    return null;
                }
            },
            answered => answered is not null || HasExited,
            TimeSpan.FromSeconds(10),
            awaited,
            answered => $"{answered?.ToString() ?? "no answer"}; trousseaud's output:\n{Log}");
        Assert.False(HasExited, Log);
        Assert.Equal(HttpStatusCode.OK, status);
    }

    /// <summary>
    /// Starts trousseaud with <c>--data-dir</c>, listening as <paramref name="listener"/> says (plain HTTP on a free
    /// loopback port unless given), and returns once <c>/healthz</c> answers 200.
    /// </summary>
    public static Task<TrousseauServerProcess> StartAsync(
        string dataDir, IEnumerable<string>? extraArgs = null, IReadOnlyDictionary<string, string?>? environment = null, ServerListener? listener = null) =>
        StartHostAsync(RepositoryPaths.Server, Path.GetDirectoryName(dataDir)!, ["--data-dir", dataDir, .. extraArgs ?? []], "healthz", environment, listener);

    /// <summary>
    /// Starts trousseaud with <c>--data-dir</c> on a free loopback port, with its open-file limit (soft and
    /// hard, <c>RLIMIT_NOFILE</c>) set to <paramref name="openFiles"/> by util-linux's <c>prlimit</c>, and returns once
    /// <c>/healthz</c> answers 200.
    /// </summary>
    public static Task<TrousseauServerProcess> StartWithOpenFileLimitAsync(string dataDir, int openFiles) =>
        StartHostAsync(RepositoryPaths.Server, Path.GetDirectoryName(dataDir)!, ["--data-dir", dataDir], "healthz", prepare: info =>
        {
            string[] command = [info.FileName, .. info.ArgumentList];
            info.FileName = "prlimit";
            info.ArgumentList.Clear();
            foreach (var word in (string[])[$"--nofile={openFiles}", "--", .. command])
            {
                info.ArgumentList.Add(word);
            }
        });

    /// <summary>
    /// Runs trousseaud with <c>--data-dir</c> to its exit, as a start it refuses or a <c>--help</c> does, listening as
    /// <paramref name="listener"/> says (plain HTTP on a free loopback port unless given), and returns its exit code and
    /// output. A trousseaud still running after the time a start is given is killed, and the test fails.
    /// </summary>
    public static Task<ProcessResult> RunToExitAsync(
        string dataDir, IEnumerable<string>? extraArgs = null, IReadOnlyDictionary<string, string?>? environment = null, ServerListener? listener = null)
    {
        string[] args = ["--urls", (listener ?? ServerListener.Loopback()).Urls, "--data-dir", dataDir, .. extraArgs ?? []];
        return ChildProcess.RunAsync(DotnetProcess.StartInfo(RepositoryPaths.Server, args, Path.GetDirectoryName(dataDir)!, environment), timeout: StartTimeout);
    }

    /// <summary>Starts trousseaud in <paramref name="workingDirectory"/> with exactly these arguments (plus a free port).</summary>
    public static Task<TrousseauServerProcess> StartInAsync(string workingDirectory, IEnumerable<string> args, IReadOnlyDictionary<string, string?>? environment = null) =>
        StartHostAsync(RepositoryPaths.Server, workingDirectory, args, "healthz", environment);

    /// <summary>
    /// Starts the web host <paramref name="dll"/> with these arguments plus <c>--urls</c> (plain HTTP on a free loopback
    /// port unless <paramref name="listener"/> says otherwise), and returns once <paramref name="probe"/> answers 200.
    /// <paramref name="prepare"/>, when given, changes how the process is started (<see cref="StartupHook.Enable"/>).
    /// </summary>
    public static async Task<TrousseauServerProcess> StartHostAsync(
        string dll,
        string workingDirectory,
        IEnumerable<string> args,
        string probe,
        IReadOnlyDictionary<string, string?>? environment = null,
        ServerListener? listener = null,
        Action<ProcessStartInfo>? prepare = null)
    {
        var server = Launch(dll, workingDirectory, args, environment, listener, prepare);
        try
        {
            await server.WaitUntilLiveAsync(probe);
        }
        catch
        {
            // A start that hangs fails the test, and the process is not left running after it.
            await server.DisposeAsync();
            throw;
        }

        return server;
    }

    /// <summary>
    /// Starts the web host <paramref name="dll"/> as <see cref="StartHostAsync"/> does, but returns at once, for a start
    /// the test holds part-way (<see cref="StraceStops"/>); <see cref="WaitUntilLiveAsync"/> waits for it to answer.
    /// </summary>
    public static TrousseauServerProcess Launch(
        string dll,
        string workingDirectory,
        IEnumerable<string> args,
        IReadOnlyDictionary<string, string?>? environment = null,
        ServerListener? listener = null,
        Action<ProcessStartInfo>? prepare = null)
    {
        listener ??= ServerListener.Loopback();
        string[] allArgs = ["--urls", listener.Urls, .. args];
        var info = DotnetProcess.StartInfo(dll, allArgs, workingDirectory, environment);
        prepare?.Invoke(info);
        return new TrousseauServerProcess(Process.Start(info)!, listener, Path.GetFileNameWithoutExtension(dll));
    }

    /// <summary>
    /// Sends <paramref name="request"/> byte for byte over a new connection and reads the answer until the server
    /// closes it; returns the status code, the media type and the body as text (chunk framing left in place).
    /// </summary>
    public async Task<(int Status, string? ContentType, string Body)> SendRawAsync(string request)
    {
        var limit = TimeSpan.FromSeconds(30);
        using var deadline = new CancellationTokenSource(limit);
        using var client = new TcpClient();
        using var received = new MemoryStream();
        try
        {
            await client.ConnectAsync(BaseAddress.Host, BaseAddress.Port, deadline.Token);
            var stream = client.GetStream();
            await stream.WriteAsync(Encoding.ASCII.GetBytes(request), deadline.Token);
            await stream.CopyToAsync(received, deadline.Token);
        }
        catch (OperationCanceledException) when (deadline.IsCancellationRequested)
        {
            Assert.Fail($"trousseaud at {BaseAddress} did not answer '{request.Split("\r\n")[0]}' and close the connection within {limit.TotalSeconds} s; "
                + $"it sent '{Encoding.UTF8.GetString(received.ToArray())}'; its log:\n{Log}");
        }

        var text = Encoding.UTF8.GetString(received.ToArray());
        var headEnd = text.IndexOf("\r\n\r\n", StringComparison.Ordinal);
        Assert.True(headEnd > 0, $"no complete answer: '{text}'");
        var lines = text[..headEnd].Split("\r\n");
        var status = int.Parse(lines[0].Split(' ')[1], System.Globalization.CultureInfo.InvariantCulture);
        var contentType = lines.Skip(1)
            .Where(l => l.StartsWith("Content-Type:", StringComparison.OrdinalIgnoreCase))
            .Select(l => l["Content-Type:".Length..].Split(';')[0].Trim())
            .FirstOrDefault();
        return (status, contentType, text[(headEnd + 4)..]);
    }

    /// <summary>Sends SIGTERM (or <paramref name="signal"/>, such as <c>HUP</c>) and waits for the process to exit; returns its exit code.</summary>
    public async Task<int> StopAsync(string signal = "TERM")
    {
        if (!_process.HasExited)
        {
            using var kill = Process.Start("kill", ["-" + signal, _process.Id.ToString(System.Globalization.CultureInfo.InvariantCulture)]);
            await kill.WaitForExitAsync();
            using var cts = new CancellationTokenSource(StopTimeout);
            try
            {
                await _process.WaitForExitAsync(cts.Token);
            }
            catch (OperationCanceledException)
            {
                Assert.Fail($"{_name} did not exit within {StopTimeout.TotalSeconds} s of SIG{signal}:\n{Log}");
            }
        }

        return _process.ExitCode;
    }

    /// <summary>Kills the process with SIGKILL, as a crash or the OOM killer would, and waits for it to go.</summary>
    public async Task KillAsync()
    {
        if (!_process.HasExited)
        {
            _process.Kill(entireProcessTree: true);
            await _process.WaitForExitAsync();
        }
    }

    public async ValueTask DisposeAsync()
    {
        await KillAsync();
        _process.Dispose();
        Http.Dispose();
    }

    /// <summary>
    /// Waits until <c>/readyz</c> answers <paramref name="expected"/>: readiness follows the background check of the
    /// dependencies, so it may lag a change by up to that check's interval.
    /// </summary>
    public Task WaitForReadinessAsync(HttpStatusCode expected) =>
        Eventually.HoldsAsync(
            async () =>
            {
                using var ready = await Http.GetAsync(new Uri(BaseAddress, "readyz"));
                return ready.StatusCode == expected;
            },
            () => $"/readyz did not answer {(int)expected}:\n{Log}");

    /// <summary>Waits up to 60 s for <paramref name="probe"/> to answer 200; fails at once when the process exits.</summary>
    public Task WaitUntilLiveAsync(string probe = "healthz") =>
        Eventually.ReturnsAsync(
            async () =>
            {
                Assert.False(_process.HasExited, $"{_name} exited with {(_process.HasExited ? _process.ExitCode : 0)} while starting:\n{Log}");
                try
                {
                    using var response = await Http.GetAsync(new Uri(BaseAddress, probe));
                    return (HttpStatusCode?)response.StatusCode;
                }
                catch (HttpRequestException)
                {
                    return null;
                }
            },
            status => status == HttpStatusCode.OK,
            StartTimeout,
            $"{_name} to answer /{probe} with 200",
            status => $"{(status is null ? "no answer" : $"{(int)status}")}; its output:\n{Log}");

    private void Append(string? line)
    {
        if (line is not null)
        {
            lock (_log)
            {
                _log.AppendLine(line);
            }
        }
    }
}
