using System.Diagnostics;
using Trousseau.Tests.Integration.Infrastructure;
using Trousseau.Tests.StoreContract;

namespace Trousseau.Tests.Integration.Cli;

/// <summary>
/// A contexts file that belongs to another user, who can change it whatever its mode says (as ssh refuses such a
/// config file): clectl warns on every command.
/// </summary>
public sealed class CliContextsFileOwnerTests : IDisposable
{
    private const int Nobody = 65534;

    private readonly TempDirectory _temp = new();
    private readonly ClectlRunner _clectl;

    public CliContextsFileOwnerTests() =>
        _clectl = new ClectlRunner(_temp.Path, new Dictionary<string, string?> { ["XDG_CONFIG_HOME"] = _temp.Combine("config") });

    /// <summary>Why the tests are skipped: giving a file to another user needs root.</summary>
    public static string? SkipReason => Environment.IsPrivilegedProcess
        ? null
        : "Needs root, to give the contexts file to another user (chown); run the tests as root to include it.";

    public void Dispose() => _temp.Dispose();

    [StoreFact]
    public async Task A_contexts_file_that_belongs_to_another_user_is_warned_about_on_every_command_until_it_is_the_users_own()
    {
        var file = _temp.Combine("config", "trousseau", "config.json");
        ClectlAssert.Ok(await _clectl.RunAsync("context", "set", "paths", "--server", "http://127.0.0.1:1"));
        await ChownAsync(file, Nobody);

        var list = await _clectl.RunAsync("context", "list");
        var kms = await _clectl.RunWithInputAsync("dek", "kms", "encrypt", "--socket", _temp.Combine("none.sock"));
        await ChownAsync(file, 0);
        var own = await _clectl.RunAsync("context", "list");

        ClectlAssert.Ok(list);
        var warning = $"clectl: warning: {file} belongs to user id {Nobody}, not to you (uid 0): that user could point a context at a server of theirs and receive its token; "
            + $"make it yours: cp {file} {file}.new && mv {file}.new {file} && chmod 600 {file}.";
        Assert.Equal(warning + "\n", list.Stderr);
        Assert.StartsWith(warning + "\n", kms.Stderr, StringComparison.Ordinal);
        ClectlAssert.Ok(own);
        Assert.Empty(own.Stderr);
    }

    private static async Task ChownAsync(string file, int user)
    {
        var chown = await ChildProcess.RunAsync(new ProcessStartInfo("chown", [$"{user}:{user}", file]));
        Assert.True(chown.ExitCode == 0, chown.Stderr);
    }
}
