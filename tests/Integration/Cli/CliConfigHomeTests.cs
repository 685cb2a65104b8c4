using Trousseau.Tests.Integration.Infrastructure;

namespace Trousseau.Tests.Integration.Cli;

/// <summary>Where clectl keeps its contexts when <c>XDG_CONFIG_HOME</c> is not an absolute path, and the directories it makes for them.</summary>
public sealed class CliConfigHomeTests : IDisposable
{
    private readonly TempDirectory _temp = new();

    public void Dispose() => _temp.Dispose();

    [Fact]
    public async Task A_relative_xdg_config_home_is_ignored_as_the_xdg_spec_says_so_contexts_do_not_depend_on_the_working_directory()
    {
        var home = Directory.CreateDirectory(_temp.Combine("home")).FullName;
        var work = Directory.CreateDirectory(_temp.Combine("work")).FullName;
        var other = Directory.CreateDirectory(_temp.Combine("other")).FullName;
        var environment = new Dictionary<string, string?> { ["HOME"] = home, ["XDG_CONFIG_HOME"] = "relative-config" };

        ClectlAssert.Ok(await new ClectlRunner(work, environment).RunAsync("context", "set", "prod", "--server", "https://trousseau.example:8787"));
        var listed = await new ClectlRunner(other, environment).RunAsync("context", "list");

        Assert.True(File.Exists(Path.Combine(home, ".config", "trousseau", "config.json")), "the contexts are not in $HOME/.config");
        Assert.False(Directory.Exists(Path.Combine(work, "relative-config")), "the contexts went below the working directory");
        ClectlAssert.Ok(listed);
        Assert.Contains("https://trousseau.example:8787", listed.Stdout, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Without_a_home_directory_or_xdg_config_home_no_contexts_file_below_the_working_directory_is_read_or_written()
    {
        // A user with no home directory (HOME unset or naming none, as a container's user may have) running clectl in a
        // checkout that holds .config/trousseau/config.json: that file's current context would take the token of
        // $TROUSSEAU_TOKEN to its server.
        var work = Directory.CreateDirectory(_temp.Combine("work")).FullName;
        var planted = Path.Combine(work, ".config", "trousseau", "config.json");
        Directory.CreateDirectory(Path.GetDirectoryName(planted)!);
        File.WriteAllText(planted, """{"current":"planted","contexts":{"planted":{"server":"https://planted.example:8787"}}}""");
        File.SetUnixFileMode(planted, UnixFileMode.UserRead | UnixFileMode.UserWrite);
        var clectl = new ClectlRunner(work, new Dictionary<string, string?> { ["HOME"] = _temp.Combine("no-such-home"), ["XDG_CONFIG_HOME"] = null });

        var listed = await clectl.RunAsync("context", "list", "-o", "json");
        var set = await clectl.RunAsync("context", "set", "prod", "--server", "https://trousseau.example:8787");

        ClectlAssert.Ok(listed);
        Assert.DoesNotContain("planted.example", listed.Stdout, StringComparison.Ordinal);
        Assert.Equal(
            "clectl: No place for clectl's contexts: $XDG_CONFIG_HOME is not set and there is no home directory "
            + $"(HOME is {_temp.Combine("no-such-home")}); set XDG_CONFIG_HOME or HOME to an absolute directory of yours.",
            ClectlAssert.Fails(set, 2));
        Assert.DoesNotContain("trousseau.example", File.ReadAllText(planted), StringComparison.Ordinal);
    }

    [Fact]
    public async Task An_xdg_config_home_that_is_a_file_is_named_as_no_place_for_contexts_and_nothing_is_written()
    {
        var work = Directory.CreateDirectory(_temp.Combine("work")).FullName;
        var configHome = _temp.Combine("config-file");
        File.WriteAllText(configHome, "kept");
        var clectl = new ClectlRunner(work, new Dictionary<string, string?> { ["XDG_CONFIG_HOME"] = configHome });

        var set = await clectl.RunAsync("context", "set", "prod", "--server", "https://trousseau.example:8787");

        Assert.Equal(
            $"clectl: No place for clectl's contexts: {Path.Combine(configHome, "trousseau")} cannot be created, as {configHome} is a file, "
            + "not a directory; set XDG_CONFIG_HOME or HOME to a directory of yours.",
            ClectlAssert.Fails(set, 2));
        Assert.Equal("kept", File.ReadAllText(configHome));
    }

    [Fact]
    public async Task Context_set_creates_every_missing_directory_of_the_contexts_file_0700_under_umask_0_as_the_xdg_spec_asks()
    {
        var work = Directory.CreateDirectory(_temp.Combine("work")).FullName;
        var configHome = _temp.Combine("missing", "parent", "config");
        var clectl = new ClectlRunner(work, new Dictionary<string, string?> { ["XDG_CONFIG_HOME"] = configHome });

        ClectlAssert.Ok(await clectl.ShellAsync("bash", "umask 0 && clectl context set prod --server https://trousseau.example:8787"));

        string[] created = [_temp.Combine("missing"), _temp.Combine("missing", "parent"), configHome, Path.Combine(configHome, "trousseau")];
        Assert.All(created, directory => Assert.Equal(
            (directory, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute),
            (directory, File.GetUnixFileMode(directory))));
    }
}
