using Trousseau.Tests.Integration.Infrastructure;

namespace Trousseau.Tests.Integration.Cli;

/// <summary>
/// clectl started with standard input closed (<c>&lt;&amp;-</c>, as some supervisors and scripts start programs), for
/// the commands that read it.
/// </summary>
public sealed class CliClosedStdinTests : IDisposable
{
    private readonly TempDirectory _temp = new();

    public void Dispose() => _temp.Dispose();

    [Theory]
    [InlineData("secret create app/login --type login --username app --password-stdin", "clectl: --password-stdin read an empty password.")]
    [InlineData("kms encrypt", "clectl: Nothing on stdin to send.")]
    public async Task A_closed_stdin_reads_as_empty_as_dev_null_does_instead_of_waiting_forever(string command, string error)
    {
        var clectl = new ClectlRunner(_temp.Path, new Dictionary<string, string?> { ["XDG_CONFIG_HOME"] = _temp.Combine("config") });

        var fromNull = await clectl.ShellAsync("bash", $"clectl {command} </dev/null");
        var closed = await clectl.ShellAsync("bash", $"clectl {command} <&-");

        Assert.Equal(error, ClectlAssert.Fails(fromNull, 2));
        Assert.Equal(error, ClectlAssert.Fails(closed, 2));
    }
}
