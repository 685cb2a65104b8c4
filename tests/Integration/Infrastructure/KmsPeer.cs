using System.Diagnostics;
using System.Text;
using System.Text.Json;

namespace Trousseau.Tests.Integration.Infrastructure;

/// <summary>
/// kube-apiserver's side of the KMS socket, played by tests/Integration/Kms/kms_peer.py on python3-grpcio (gRPC's
/// C core): an implementation independent of Trousseau's. One process and one long-lived channel, kept by a test
/// class's fixture across its tests and across plugin restarts (the channel reconnects, as kube-apiserver's does);
/// one JSON line per call.
/// </summary>
internal sealed class KmsPeer : IAsyncDisposable
{
    private const string Python = "/usr/bin/python3";

    /// <summary>How long one command may take to answer: longer than any call's own deadline, so only a hung peer meets it.</summary>
    private static readonly TimeSpan ReplyTimeout = TimeSpan.FromSeconds(60);

    private readonly Process _process;
    private readonly string _socket;
    private readonly StringBuilder _stderr = new();

    private KmsPeer(Process process, string socket)
    {
        _process = process;
        _socket = socket;
        _process.ErrorDataReceived += (_, line) =>
        {
            if (line.Data is not null)
            {
                lock (_stderr)
                {
                    _stderr.AppendLine(line.Data);
                }
            }
        };
        _process.BeginErrorReadLine();
    }

    public static KmsPeer Start(string socket)
    {
        if (!File.Exists(Python) || RunQuietly(Python, "-c", "import grpc, google.protobuf") != 0)
        {
            throw new InvalidOperationException("The KMS tests need python3-grpcio and python3-protobuf (Debian); ./test.sh installs them when run as root.");
        }

        var info = new ProcessStartInfo(Python)
        {
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        info.ArgumentList.Add(Path.Combine(RepositoryPaths.Root, "tests", "Integration", "Kms", "kms_peer.py"));
        info.ArgumentList.Add(socket);
        return new KmsPeer(Process.Start(info)!, socket);
    }

    /// <summary>What the peer wrote to its standard error so far.</summary>
    private string Stderr
    {
        get
        {
            lock (_stderr)
            {
                return _stderr.ToString();
            }
        }
    }

    /// <summary>One call; the result holds <c>code</c>, <c>details</c> and, when OK, <c>response</c>.</summary>
    public Task<JsonElement> CallAsync(string method, object? request = null, double timeoutSeconds = 3) =>
        SendAsync(new Dictionary<string, object?> { ["method"] = method, ["request"] = request ?? new { }, ["timeout"] = timeoutSeconds });

    /// <summary>
    /// Calls <paramref name="method"/> until it answers OK and returns its response: a channel that outlived the
    /// plugin it last talked to may fail a call or two (UNAVAILABLE) before it has reconnected, as kube-apiserver's
    /// does. After <paramref name="timeout"/> the test fails naming the method, the socket and the last answer.
    /// </summary>
    public async Task<JsonElement> WaitForOkAsync(string method, TimeSpan timeout)
    {
        var result = await Eventually.ReturnsAsync(
            () => CallAsync(method),
            r => r.GetProperty("code").GetString() == "OK",
            timeout,
            awaited: $"{method} on {_socket} to answer OK",
            show: r => $"{r.GetProperty("code")}: {r.GetProperty("details")}");
        return result.GetProperty("response");
    }

    /// <summary>
    /// The same call <paramref name="count"/> times, every one started on the channel before any answer is awaited;
    /// the result holds <c>codes</c> and <c>responses</c>.
    /// </summary>
    public Task<JsonElement> CallManyAsync(string method, object request, int count) =>
        SendAsync(new Dictionary<string, object?> { ["method"] = method, ["request"] = request, ["repeat"] = count, ["timeout"] = 10 });

    public async ValueTask DisposeAsync()
    {
        _process.StandardInput.Close();
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(10));
        try
        {
            await _process.WaitForExitAsync(timeout.Token);
        }
        catch (OperationCanceledException)
        {
            _process.Kill();
        }

        _process.Dispose();
    }

    /// <summary>
    /// Sends one command and reads its answer. A peer that does not answer in time, or ends, fails the test naming
    /// the method and the socket, with what the peer wrote to its standard error.
    /// </summary>
    private async Task<JsonElement> SendAsync(Dictionary<string, object?> command)
    {
        var call = $"{command["method"]} on {_socket}";
        await _process.StandardInput.WriteLineAsync(JsonSerializer.Serialize(command));
        await _process.StandardInput.FlushAsync();
        using var timeout = new CancellationTokenSource(ReplyTimeout);
        string? line = null;
        try
        {
            line = await _process.StandardOutput.ReadLineAsync(timeout.Token);
        }
        catch (OperationCanceledException) when (timeout.IsCancellationRequested)
        {
            Assert.Fail($"kms_peer.py did not answer {call} within {ReplyTimeout.TotalSeconds} s; its stderr:\n{Stderr}");
        }

        if (line is null)
        {
            await _process.WaitForExitAsync();
            Assert.Fail($"kms_peer.py ended (exit code {_process.ExitCode}) before answering {call}; its stderr:\n{Stderr}");
        }

        using var document = JsonDocument.Parse(line);
        return document.RootElement.Clone();
    }

    private static int RunQuietly(string file, params string[] args)
    {
        using var process = Process.Start(new ProcessStartInfo(file, args) { RedirectStandardError = true, RedirectStandardOutput = true })!;
        process.WaitForExit();
        return process.ExitCode;
    }

    /// <summary>The response of a call the peer made, after asserting that its status is OK (the status and details otherwise).</summary>
    public static JsonElement Ok(JsonElement result)
    {
        Assert.True(result.GetProperty("code").GetString() == "OK", $"{result.GetProperty("code")}: {result.GetProperty("details")}");
        return result.GetProperty("response");
    }
}
