using Trousseau.Tests.Integration.Infrastructure;

namespace Trousseau.Tests.Integration.Cli;

/// <summary><c>clectl completion bash</c>, loaded into a real bash and called as bash calls it on TAB.</summary>
public sealed class CliCompletionTests : IDisposable
{
    private readonly TempDirectory _temp = new();
    private readonly ClectlRunner _clectl;

    public CliCompletionTests() =>
        _clectl = new ClectlRunner(_temp.Path, new Dictionary<string, string?> { ["XDG_CONFIG_HOME"] = _temp.Combine("config") });

    public void Dispose() => _temp.Dispose();

    [Theory]
    [InlineData("clectl sec", "secret")]
    [InlineData("clectl secret ''", "create delete generate get list regenerate update")]
    [InlineData("clectl secret create db --from-l", "--from-literal")]
    [InlineData("clectl -o ''", "json table yaml")]
    [InlineData("clectl secret create db --type l", "login")]
    [InlineData("clectl completion ''", "bash fish zsh")]
    public async Task Bash_completes_commands_options_and_values(string line, string expected)
    {
        var script = $$"""
            source <(clectl completion bash)
            COMP_WORDS=({{line}}); COMP_CWORD=$((${#COMP_WORDS[@]} - 1))
            _clectl
            printf '%s\n' "${COMPREPLY[@]}" | sort | tr '\n' ' '
            """;

        var result = await _clectl.ShellAsync("bash", script);

        Assert.True(result.ExitCode == 0, result.Stderr);
        Assert.Equal(expected, result.Stdout.Trim());
    }

    [Fact]
    public async Task Bash_falls_back_to_file_names_where_clectl_has_no_candidates()
    {
        var result = await _clectl.ShellAsync("bash", "source <(clectl completion bash); complete -p clectl");

        Assert.Equal("complete -o default -F _clectl clectl", result.Stdout.Trim());
    }

    [Fact]
    public async Task An_unknown_shell_exits_2_and_names_the_shells()
    {
        var result = await _clectl.RunAsync("completion", "powershell");

        var line = ClectlAssert.Fails(result, 2);
        Assert.Contains("bash, zsh or fish", line, StringComparison.Ordinal);
    }
}
