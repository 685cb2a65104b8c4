using System.Diagnostics;
using Trousseau.Tests.Integration.Infrastructure;

namespace Trousseau.Tests.Integration.Cli;

/// <summary>clectl interrupted (Ctrl-C, SIGINT) while a server of its list holds a request it has not answered.</summary>
public sealed class CliInterruptTests : IDisposable
{
    private const string Token = "interrupt-test-token-never-shown";

    // SIGINT back to its default for clectl: a shell starts a background job, and may start the tests, with it ignored.
    private const string WithSigint = "import os, signal, sys; signal.signal(signal.SIGINT, signal.SIG_DFL); os.execvp(sys.argv[1], sys.argv[1:])";

    private readonly TempDirectory _temp = new();

    public void Dispose() => _temp.Dispose();

    [Fact]
    public async Task Ctrl_c_during_a_write_exits_130_saying_which_server_may_have_applied_it_and_never_the_token()
    {
        using var silent = TcpStandIn.Silent();
        var servers = $"http://127.0.0.1:1/,{silent.BaseAddress}";

        var result = await InterruptedAsync(silent, "secret", "create", "app/db", "--from-file", "k=" + Value(), "--server", servers);

        Assert.Equal(
            $"clectl: Interrupted while trousseaud at {silent.BaseAddress} held the request (POST v1/secrets) unanswered: it may or may not have been applied there; check (clectl secret get, secret list, key status) before you repeat it.",
            ClectlAssert.Fails(result, 130));
        Assert.DoesNotContain(Token, result.Stderr, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Ctrl_c_during_a_listing_exits_130_with_no_cut_document_and_says_nothing_changed()
    {
        using var silent = TcpStandIn.Silent();

        var result = await InterruptedAsync(silent, "secret", "list", "-o", "json", "--server", silent.BaseAddress.ToString());

        Assert.Equal(
            $"clectl: Interrupted while trousseaud at {silent.BaseAddress} held the request (GET v1/secrets) unanswered; a read changes nothing.",
            ClectlAssert.Fails(result, 130));
    }

    [Theory]
    [InlineData("table")]
    [InlineData("json")]
    public async Task Ctrl_c_while_a_listing_waits_on_its_second_page_exits_130_saying_a_read_changes_nothing(string format)
    {
        const string FirstPage = "{\"items\":[{\"name\":\"interrupt/first\",\"type\":\"opaque\",\"revision\":1,\"updatedAt\":\"2025-01-01T00:00:00Z\",\"createdAt\":\"2025-01-01T00:00:00Z\"}],\"continue\":\"c1\"}";
        using var hanging = TcpStandIn.AnsweringFirstThenSilent(
            $"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {FirstPage.Length}\r\nConnection: close\r\n\r\n{FirstPage}");

        var result = await InterruptedAsync(hanging, 2, "secret", "list", "-o", format, "--server", hanging.BaseAddress.ToString());

        Assert.True(result.ExitCode == 130, $"expected exit 130, got {result.ExitCode}: {result.Stderr}");
        Assert.Equal(
            [$"clectl: Interrupted while trousseaud at {hanging.BaseAddress} held the request (GET v1/secrets) unanswered; a read changes nothing."],
            result.Stderr.Split('\n', StringSplitOptions.RemoveEmptyEntries));
        if (format == "table")
        {
            // A table is printed as pages come: the first page's rows stay, the exit code says the listing is cut.
            Assert.Contains("interrupt/first", result.Stdout, StringComparison.Ordinal);
        }
        else
        {
            Assert.Empty(result.Stdout);
        }
    }

    [Fact]
    public async Task Ctrl_c_while_password_stdin_waits_for_its_input_exits_130_with_one_line_and_sends_nothing()
    {
        using var silent = TcpStandIn.Silent();

        var result = await InterruptedAsync(
            ReadsStandardInput,
            () => "clectl never waited on its standard input",
            "secret", "create", "app/db", "--username", "u", "--password-stdin", "--server", silent.BaseAddress.ToString());

        Assert.Equal("clectl: Interrupted.", ClectlAssert.Fails(result, 130));
        Assert.Equal(0, silent.Connections);
    }

    [Theory]
    [InlineData("encrypt")]
    [InlineData("decrypt")]
    public async Task Ctrl_c_while_kms_encrypt_or_decrypt_waits_for_its_input_exits_130_with_one_line_and_calls_no_plugin(string command)
    {
        // A socket nobody serves: a call would end in a line naming it, not in the one of the interrupt.
        var socket = _temp.Combine("kms.sock");

        var result = await InterruptedAsync(
            ReadsStandardInput,
            () => "clectl never waited on its standard input",
            "kms", command, "--socket", socket);

        Assert.Equal("clectl: Interrupted.", ClectlAssert.Fails(result, 130));
    }

    /// <summary>
    /// Whether a thread of process <paramref name="id"/> is blocked in read(2) on its standard input: on descriptor 0 or
    /// on one that refers to the same pipe (.NET reads a copy of it).
    /// </summary>
    private static bool ReadsStandardInput(int id)
    {
        var input = new FileInfo($"/proc/{id}/fd/0").LinkTarget;
        return Directory.EnumerateDirectories($"/proc/{id}/task").Any(task =>
        {
            try
            {
                var call = File.ReadAllText(Path.Combine(task, "syscall")).Split(' ');
                return call is ["0", var descriptor, ..]
                    && new FileInfo($"/proc/{id}/fd/{Convert.ToInt32(descriptor, 16)}").LinkTarget == input;
            }
            catch (IOException)
            {
                // The thread, or the descriptor, is gone meanwhile.
                return false;
            }
        });
    }

    private string Value()
    {
        var file = _temp.Combine("value");
        File.WriteAllText(file, "v");
        return file;
    }

    /// <summary>Runs clectl with <paramref name="args"/> and sends it SIGINT once <paramref name="server"/> holds its connection.</summary>
    private Task<ProcessResult> InterruptedAsync(TcpStandIn server, params string[] args) => InterruptedAsync(server, 1, args);

    /// <summary>
    /// Runs clectl with <paramref name="args"/> and sends it SIGINT once <paramref name="server"/> accepted
    /// <paramref name="connections"/> connections from it.
    /// </summary>
    private Task<ProcessResult> InterruptedAsync(TcpStandIn server, int connections, params string[] args) => InterruptedAsync(
        _ => server.Connections >= connections,
        () => $"clectl never made {connections} connections to {server.BaseAddress}",
        args);

    /// <summary>
    /// Runs clectl with <paramref name="args"/>, its standard input a pipe left open, and sends it SIGINT once
    /// <paramref name="ready"/> holds for its process id.
    /// </summary>
    private async Task<ProcessResult> InterruptedAsync(Func<int, bool> ready, Func<string> never, params string[] args)
    {
        var info = DotnetProcess.StartInfo(RepositoryPaths.Cli, args, _temp.Path, new Dictionary<string, string?>
        {
            ["TROUSSEAU_TOKEN"] = Token,
            ["XDG_CONFIG_HOME"] = _temp.Combine("config"),
        });
        info.ArgumentList.Insert(0, info.FileName);
        info.ArgumentList.Insert(0, WithSigint);
        info.ArgumentList.Insert(0, "-c");
        info.FileName = "python3";
        using var clectl = Process.Start(info)!;
        var stdout = clectl.StandardOutput.ReadToEndAsync();
        var stderr = clectl.StandardError.ReadToEndAsync();
        try
        {
            await Eventually.HoldsAsync(() => ready(clectl.Id), never);
            var interrupt = await ChildProcess.RunAsync(new ProcessStartInfo("kill", ["-INT", clectl.Id.ToString(System.Globalization.CultureInfo.InvariantCulture)]));
            Assert.True(interrupt.ExitCode == 0, interrupt.Stderr);
            using var patience = new CancellationTokenSource(ChildProcess.DefaultTimeout);
            await clectl.WaitForExitAsync(patience.Token);
        }
        finally
        {
            if (!clectl.HasExited)
            {
                clectl.Kill(entireProcessTree: true);
            }
        }

        return new ProcessResult(clectl.ExitCode, await stdout, await stderr);
    }
}
