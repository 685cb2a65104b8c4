using System.Diagnostics;
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
    private readonly Process _process;

    private KmsPeer(Process process) => _process = process;

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
        return new KmsPeer(Process.Start(info)!);
    }

    /// <summary>One call; the result holds <c>code</c>, <c>details</c> and, when OK, <c>response</c>.</summary>
    public Task<JsonElement> CallAsync(string method, object? request = null, double timeoutSeconds = 3) =>
        SendAsync(new Dictionary<string, object?> { ["method"] = method, ["request"] = request ?? new { }, ["timeout"] = timeoutSeconds });

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

    private async Task<JsonElement> SendAsync(object command)
    {
        await _process.StandardInput.WriteLineAsync(JsonSerializer.Serialize(command));
        await _process.StandardInput.FlushAsync();
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        var line = await _process.StandardOutput.ReadLineAsync(timeout.Token)
            ?? throw new InvalidOperationException("kms_peer.py ended: " + await _process.StandardError.ReadToEndAsync());
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
