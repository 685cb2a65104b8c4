using Trousseau.Tests.Integration.Infrastructure;
using Trousseau.Tests.StoreContract;

namespace Trousseau.Tests.Integration.Cli;

/// <summary>
/// <c>clectl completion zsh</c> and <c>fish</c>, loaded into the real shells (Debian packages <c>zsh</c> and
/// <c>fish</c>; skipped outside CI where they are missing).
/// </summary>
public sealed class CliShellCompletionTests : IDisposable
{
    private readonly TempDirectory _temp = new();
    private readonly ClectlRunner _clectl;

    public CliShellCompletionTests() =>
        _clectl = new ClectlRunner(_temp.Path, new Dictionary<string, string?> { ["XDG_CONFIG_HOME"] = _temp.Combine("config") });

    public static string? SkipReason =>
        Environment.GetEnvironmentVariable("CI") == "true" || (File.Exists("/usr/bin/zsh") && File.Exists("/usr/bin/fish"))
            ? null
            : "zsh or fish is not installed (Debian packages zsh, fish)";

    public void Dispose() => _temp.Dispose();

    [StoreFact]
    public async Task Fish_completes_commands_and_option_values()
    {
        var result = await _clectl.ShellAsync("fish", """
            clectl completion fish | source
            complete -C 'clectl sec'
            echo ---
            complete -C 'clectl kms '
            echo ---
            complete -C 'clectl health -o y'
            """);

        Assert.True(result.ExitCode == 0, result.Stderr);
        Assert.Equal(["secret", "---", "decrypt", "encrypt", "status", "---", "yaml"], result.Stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries).Select(l => l.Split('\t')[0]));
    }

    [StoreFact]
    public async Task Zsh_completes_commands_and_option_values()
    {
        // compadd works only inside a completion widget: here it prints what the script hands it.
        var result = await _clectl.ShellAsync("zsh", """
            autoload -U compinit && compinit -u
            source <(clectl completion zsh)
            compadd() { [[ $1 == -- ]] && shift; print -l -- "$@" }
            words=(clectl sec); CURRENT=2; _clectl
            print -- --
            words=(clectl kms ''); CURRENT=3; _clectl
            print -- --
            words=(clectl health -o y); CURRENT=4; _clectl
            """);

        Assert.True(result.ExitCode == 0, result.Stderr);
        Assert.Equal(["secret", "--", "decrypt", "encrypt", "status", "--", "yaml"], result.Stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries));
    }
}
