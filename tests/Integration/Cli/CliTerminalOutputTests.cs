using Trousseau.Tests.Integration.Infrastructure;
using YamlDotNet.Serialization;

namespace Trousseau.Tests.Integration.Cli;

/// <summary>
/// A secret value may hold control characters (an escape sequence that clears the screen or sets the window title,
/// a carriage return that hides what came before). <c>clectl secret get</c> shows them escaped when its output is a
/// terminal, prints them as they are with <c>--raw</c>, and never changes what a script reads through a pipe. (.NET
/// writes a keypad-mode sequence of its own to a terminal, so the checks look for the value's sequences.)
/// </summary>
[Collection(ClectlAgainstOneServer.Name)]
public sealed class CliTerminalOutputTests(ClectlFixture fixture)
{
    private const string Value = "before\u001b[2J\u001b]0;pwned\u0007mid\rafter\u009bend";

    [Fact]
    public async Task On_a_terminal_secret_get_escapes_control_characters_and_raw_prints_them()
    {
        var file = Path.Combine(fixture.NewDirectory(), "value.bin");
        await File.WriteAllTextAsync(file, Value);
        ClectlAssert.Ok(await fixture.Clectl.RunAsync("secret", "create", "term/evil", "--from-file", $"k={file}", "--from-file", $"pem={file}"));

        var table = await OnTerminalAsync("clectl secret get term/evil");
        var key = await OnTerminalAsync("clectl secret get term/evil --key k");
        var rawTable = await OnTerminalAsync("clectl secret get term/evil --raw");
        var rawKey = await OnTerminalAsync("clectl --raw secret get term/evil --key k");
        var piped = await fixture.Clectl.RunAsync("secret", "get", "term/evil", "--key", "k");

        foreach (var escaped in new[] { table, key })
        {
            ClectlAssert.Ok(escaped);
            Assert.DoesNotContain("\u001b[2J", escaped.Stdout, StringComparison.Ordinal);
            Assert.DoesNotContain("\u001b]0;", escaped.Stdout, StringComparison.Ordinal);
            Assert.DoesNotContain("\u0007", escaped.Stdout, StringComparison.Ordinal);
            Assert.DoesNotContain("\u009b", escaped.Stdout, StringComparison.Ordinal);
            Assert.Contains(@"before\x1b[2J\x1b]0;pwned\x07mid\rafter\u009bend", escaped.Stdout, StringComparison.Ordinal);
        }

        foreach (var raw in new[] { rawTable, rawKey })
        {
            ClectlAssert.Ok(raw);
            Assert.Contains("\u001b[2J\u001b]0;pwned\u0007mid", raw.Stdout, StringComparison.Ordinal);
        }

        ClectlAssert.Ok(piped);
        Assert.Equal(Value, piped.Stdout);
    }

    [Fact]
    public async Task Yaml_output_escapes_control_characters_and_reads_back_as_stored()
    {
        var file = Path.Combine(fixture.NewDirectory(), "value.bin");
        await File.WriteAllTextAsync(file, Value + "\nsecond line");
        ClectlAssert.Ok(await fixture.Clectl.RunAsync("secret", "create", "term/yaml", "--from-file", $"k={file}"));

        var onTerminal = await OnTerminalAsync("clectl secret get term/yaml -o yaml");
        var piped = await fixture.Clectl.RunAsync("secret", "get", "term/yaml", "-o", "yaml");

        ClectlAssert.Ok(onTerminal);
        Assert.DoesNotContain("\u001b[2J", onTerminal.Stdout, StringComparison.Ordinal);
        Assert.DoesNotContain("\u0007", onTerminal.Stdout, StringComparison.Ordinal);
        ClectlAssert.Ok(piped);
        var read = new DeserializerBuilder().Build().Deserialize<Dictionary<string, object>>(piped.Stdout);
        Assert.Equal(Value + "\nsecond line", Assert.IsType<Dictionary<object, object>>(read["data"])["k"]);
    }

    [Fact]
    public async Task On_a_terminal_a_value_alone_keeps_its_line_breaks_and_tabs()
    {
        ClectlAssert.Ok(await fixture.Clectl.RunAsync("secret", "create", "term/lines", "--from-literal", "k=line one\tcol\nline two"));

        var key = await OnTerminalAsync("clectl secret get term/lines --key k");
        var table = await OnTerminalAsync("clectl secret get term/lines");

        ClectlAssert.Ok(key);
        Assert.Contains("line one\tcol\r\nline two", key.Stdout, StringComparison.Ordinal);
        ClectlAssert.Ok(table);
        Assert.Contains(@"line one\tcol\nline two", table.Stdout, StringComparison.Ordinal);
    }

    /// <summary>Runs a command line with clectl's output on a pseudo-terminal (util-linux <c>script</c>).</summary>
    private Task<ProcessResult> OnTerminalAsync(string command) =>
        fixture.Clectl.ShellAsync("bash", $"script --quiet --return --command '{command}' /dev/null");
}
