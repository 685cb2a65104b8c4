using Trousseau.Tests.Integration.Infrastructure;

namespace Trousseau.Tests.Integration.Cli;

/// <summary>clectl whose standard output cannot take what it prints: closed, a full disk, a pipe nobody reads any more.</summary>
[Collection(ClectlAgainstOneServer.Name)]
public sealed class CliStandardOutputTests(ClectlFixture fixture)
{
    private const string Consequence = "Nothing more was printed; a change the command made (create, update, delete, rotate) stands.";

    // Runs the command with standard output a pipe whose read end is closed before it starts, as 'clectl secret list |
    // head -c 1' leaves it once head has its byte: every write clectl makes to it fails with EPIPE, whenever it comes.
    private const string ClosedPipe = """
        import os, subprocess, sys
        read, write = os.pipe()
        os.close(read)
        sys.exit(subprocess.call(sys.argv[1:], stdout=write))
        """;

    private readonly ClectlRunner _clectl = fixture.Clectl;

    [Theory]
    [InlineData(">&-", "Bad file descriptor (it is closed)")]
    [InlineData("> /dev/full", "No space left on device")]
    public async Task A_standard_output_that_refuses_the_listing_exits_1_with_one_line_saying_why(string redirection, string reason)
    {
        // The table's header comes first, whatever the server holds.
        var result = await _clectl.ShellAsync("bash", $"clectl secret list {redirection}");

        Assert.Equal($"clectl: Cannot write to standard output: {reason}. {Consequence}", ClectlAssert.Fails(result, 1));
    }

    [Theory]
    [InlineData("--help", ">&-", "the help", "Bad file descriptor (it is closed)")]
    [InlineData("secret get --help", "> /dev/full", "the help", "No space left on device")]
    [InlineData("help secret", ">&-", "the help", "Bad file descriptor (it is closed)")]
    [InlineData("secret", "> /dev/full", "the help", "No space left on device")]
    [InlineData("--version", ">&-", "the version", "Bad file descriptor (it is closed)")]
    public async Task Help_or_version_that_standard_output_refuses_exits_1_with_one_line_saying_it_could_not_be_written_rather_than_a_stack_trace(
        string words, string redirection, string what, string reason)
    {
        var result = await _clectl.ShellAsync("bash", $"clectl {words} {redirection}");

        // Help and the version change nothing: the line says only what could not be written, and why.
        Assert.Equal($"clectl: Cannot write {what} to standard output: {reason}.", ClectlAssert.Fails(result, 1));
    }

    [Theory]
    [InlineData(">&-", "Bad file descriptor (it is closed)")]
    [InlineData("> /dev/full", "No space left on device")]
    public async Task A_completion_script_that_standard_output_refuses_exits_1_with_one_line_saying_it_could_not_be_written(string redirection, string reason)
    {
        var result = await _clectl.ShellAsync("bash", $"clectl completion bash {redirection}");

        // Printing the script changes nothing: the line says nothing of a change.
        Assert.Equal($"clectl: Cannot write the completion script to standard output: {reason}.", ClectlAssert.Fails(result, 1));
    }

    [Theory]
    [InlineData(">&-", "Bad file descriptor (it is closed)")]
    [InlineData("> /dev/full", "No space left on device")]
    public async Task Completion_candidates_that_standard_output_refuses_exit_1_with_one_line_rather_than_a_stack_trace(string redirection, string reason)
    {
        // What the completion scripts run for 'clectl sec<TAB>'.
        var result = await _clectl.ShellAsync("bash", $"clectl __complete sec {redirection}");

        Assert.Equal($"clectl: Cannot write the completion candidates to standard output: {reason}.", ClectlAssert.Fails(result, 1));
    }

    [Fact]
    public async Task A_closed_standard_output_with_standard_input_on_a_terminal_exits_1_with_the_same_line_rather_than_a_crash()
    {
        // script gives clectl a terminal for standard input and standard error, as a user typing the command has.
        var result = await _clectl.ShellAsync("bash", "script --quiet --return --command 'clectl secret list >&-' /dev/null");

        Assert.True(result.ExitCode == 1, $"expected exit 1, got {result.ExitCode}: {result.Stdout}");
        // The terminal's set-up sequences (.NET's, when clectl runs on dotnet) may come before the line.
        Assert.EndsWith($"clectl: Cannot write to standard output: Bad file descriptor (it is closed). {Consequence}", result.Stdout.Trim(), StringComparison.Ordinal);
        Assert.DoesNotContain("Unhandled exception", result.Stdout, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_create_whose_output_cannot_be_written_says_the_change_stands_and_the_secret_is_there()
    {
        var result = await _clectl.ShellAsync("bash", "clectl secret create stdout/created --from-literal k=v > /dev/full");

        Assert.Equal($"clectl: Cannot write to standard output: No space left on device. {Consequence}", ClectlAssert.Fails(result, 1));
        var value = await _clectl.RunAsync("secret", "get", "stdout/created", "--key", "k");
        ClectlAssert.Ok(value);
        Assert.Equal("v", value.Stdout);
    }

    [Fact]
    public async Task A_pipe_whose_reader_went_away_ends_clectl_quietly_with_141_as_sigpipe_ends_unix_tools()
    {
        ClectlAssert.Ok(await _clectl.RunAsync("secret", "create", "stdout/piped", "--from-literal", "k=v"));

        var result = await _clectl.ShellAsync("bash", $"python3 -c '{ClosedPipe}' clectl secret list");

        Assert.True(result.ExitCode == 141, $"expected exit 141, got {result.ExitCode}: {result.Stderr}");
        Assert.Empty(result.Stderr);
    }

    [Fact]
    public async Task Completion_candidates_to_a_pipe_whose_reader_went_away_end_clectl_quietly_with_141()
    {
        var result = await _clectl.ShellAsync("bash", $"python3 -c '{ClosedPipe}' clectl __complete sec");

        Assert.True(result.ExitCode == 141, $"expected exit 141, got {result.ExitCode}: {result.Stderr}");
        Assert.Empty(result.Stderr);
    }
}
