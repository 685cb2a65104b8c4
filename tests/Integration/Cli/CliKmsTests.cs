using System.Text.Json;
using Trousseau.Tests.Integration.Infrastructure;

namespace Trousseau.Tests.Integration.Cli;

/// <summary><c>clectl kms</c> against trousseaud's KMS socket: the pipe from encrypt to decrypt, the default socket, exit codes.</summary>
[Collection(ClectlAgainstOneServer.Name)]
public sealed class CliKmsTests(ClectlFixture fixture)
{
    [Fact]
    public async Task Encrypt_output_pipes_into_decrypt_with_the_data_directory_socket()
    {
        var result = await fixture.Clectl.ShellAsync("bash", "set -o pipefail; printf hi | clectl kms encrypt | clectl kms decrypt");

        Assert.True(result.ExitCode == 0, result.Stderr);
        Assert.Equal("hi", result.Stdout);
    }

    [Fact]
    public async Task Encrypt_prints_the_key_id_and_ciphertext_on_one_line_or_as_json_or_yaml_which_decrypt_reads()
    {
        var line = await fixture.Clectl.RunWithInputAsync("secret-dek", "kms", "encrypt");
        var json = await fixture.Clectl.RunWithInputAsync("secret-dek", "kms", "encrypt", "-o", "json");
        var yaml = await fixture.Clectl.RunWithInputAsync("secret-dek", "kms", "encrypt", "-o", "yaml");

        ClectlAssert.Ok(line);
        using var document = JsonDocument.Parse(json.Stdout);
        var keyId = document.RootElement.GetProperty("keyId").GetString()!;
        var ciphertext = document.RootElement.GetProperty("ciphertext").GetString()!;
        Assert.Matches($"^{keyId} [A-Za-z0-9+/]+=*\n$", line.Stdout);
        Assert.StartsWith($"keyId: {keyId}\nciphertext: ", yaml.Stdout, StringComparison.Ordinal);
        foreach (var encrypted in new[] { line.Stdout, json.Stdout, yaml.Stdout })
        {
            Assert.Equal("secret-dek", (await fixture.Clectl.RunWithInputAsync(encrypted, "kms", "decrypt")).Stdout);
        }

        Assert.Equal("secret-dek", (await fixture.Clectl.RunWithInputAsync(ciphertext, "kms", "decrypt", "--key-id", keyId, "--socket", fixture.KmsSocket)).Stdout);
    }

    [Fact]
    public async Task A_socket_path_longer_than_a_unix_socket_address_holds_exits_2_with_one_line_counting_its_bytes()
    {
        var ascii = "/tmp/" + new string('k', 60) + "/" + new string('s', 60) + ".sock";
        var accented = "/tmp/" + new string('\u00e9', 50) + "/kms.sock";

        var line = ClectlAssert.Fails(await fixture.Clectl.RunAsync("kms", "status", "--socket", ascii), 2);
        var accentedLine = ClectlAssert.Fails(await fixture.Clectl.RunAsync("kms", "status", "--socket", accented), 2);

        Assert.Equal(
            $"clectl: the KMS socket path {ascii} is 131 bytes long, more than the 107 a Unix socket address holds; give a shorter path (a symbolic link to its directory, say).",
            line);
        Assert.Contains(" is 114 bytes long, more than the 107 ", accentedLine, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Input_the_plugin_refuses_exits_2()
    {
        var encrypted = await fixture.Clectl.RunWithInputAsync("dek", "kms", "encrypt");
        var ciphertext = encrypted.Stdout.Trim().Split(' ')[^1];

        var wrongKey = ClectlAssert.Fails(await fixture.Clectl.RunWithInputAsync(ciphertext, "kms", "decrypt", "--key-id", "not-issued"), 2);
        var notOurs = ClectlAssert.Fails(await fixture.Clectl.RunWithInputAsync("local-key " + Convert.ToBase64String(new byte[48]), "kms", "decrypt"), 2);
        ClectlAssert.Fails(await fixture.Clectl.RunWithInputAsync("local-key not*base64", "kms", "decrypt"), 2);
        ClectlAssert.Fails(await fixture.Clectl.RunWithInputAsync(ciphertext, "kms", "decrypt"), 2);
        ClectlAssert.Fails(await fixture.Clectl.RunWithInputAsync("", "kms", "encrypt"), 2);

        Assert.Contains("InvalidArgument", wrongKey, StringComparison.Ordinal);
        Assert.Contains("InvalidArgument", notOurs, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData(513)]
    [InlineData(64 * 1024)]
    public async Task A_plaintext_over_the_plugins_512_bytes_exits_2_with_the_plugins_invalid_argument_message_in_one_line(int length)
    {
        // clectl sends up to 64 KiB, as a KMS plugin may take; trousseaud's takes 512 bytes at most.
        var result = await fixture.Clectl.RunWithInputAsync(new string('p', length), "kms", "encrypt");

        Assert.Equal(
            $"clectl: the KMS plugin answered InvalidArgument: plaintext must be 1 to 512 bytes, not {length}.",
            ClectlAssert.Fails(result, 2));
    }

    [Fact]
    public async Task More_than_the_64_KiB_clectl_sends_exits_2_with_its_own_line()
    {
        var result = await fixture.Clectl.RunWithInputAsync(new string('p', (64 * 1024) + 1), "kms", "encrypt");

        Assert.Equal("clectl: stdin holds more than 64 KiB; KMS messages are small.", ClectlAssert.Fails(result, 2));
    }

    [Fact]
    public async Task A_socket_nobody_serves_exits_6_and_names_it()
    {
        var home = fixture.NewDirectory();
        var elsewhere = Path.Combine(fixture.NewDirectory(), "absent.sock");

        var defaulted = ClectlAssert.Fails(await fixture.Clectl.With(("TROUSSEAU_HOME", home)).RunAsync("kms", "status"), 6);
        var named = ClectlAssert.Fails(await fixture.Clectl.RunAsync("kms", "status", "--socket", elsewhere), 6);

        Assert.Contains(Path.Combine(home, "kms.sock"), defaulted, StringComparison.Ordinal);
        Assert.Contains(elsewhere, named, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Clectl_kms_runs_on_a_dotnet_that_has_no_aspnet_core_runtime()
    {
        using var runtimeConfig = JsonDocument.Parse(await File.ReadAllTextAsync(Path.ChangeExtension(RepositoryPaths.CliDll, ".runtimeconfig.json")));
        var options = runtimeConfig.RootElement.GetProperty("runtimeOptions");
        Assert.False(options.TryGetProperty("frameworks", out _), "clectl names more than one shared framework.");
        Assert.Equal("Microsoft.NETCore.App", options.GetProperty("framework").GetProperty("name").GetString());

        // A .NET installation of the base runtime alone: this machine's dotnet host and Microsoft.NETCore.App, nothing else.
        var root = Path.GetFullPath(Path.Combine(Path.GetDirectoryName(typeof(object).Assembly.Location)!, "..", "..", ".."));
        var bare = fixture.NewDirectory();
        File.Copy(Path.Combine(root, "dotnet"), Path.Combine(bare, "dotnet"));
        File.CreateSymbolicLink(Path.Combine(bare, "host"), Path.Combine(root, "host"));
        Directory.CreateDirectory(Path.Combine(bare, "shared"));
        File.CreateSymbolicLink(Path.Combine(bare, "shared", "Microsoft.NETCore.App"), Path.Combine(root, "shared", "Microsoft.NETCore.App"));
        var info = DotnetProcess.StartInfo(RepositoryPaths.CliDll, ["kms", "status", "--socket", fixture.KmsSocket, "-o", "json"], bare);
        info.FileName = Path.Combine(bare, "dotnet");
        info.Environment["DOTNET_ROOT"] = bare;

        var status = await ChildProcess.RunAsync(info);

        Assert.True(status.ExitCode == 0, status.Stderr);
        using var json = JsonDocument.Parse(status.Stdout);
        Assert.Equal("ok", json.RootElement.GetProperty("healthz").GetString());
    }

    [Fact]
    public async Task Socket_help_names_the_data_directory_default()
    {
        var help = await fixture.Clectl.RunAsync("kms", "status", "--help");

        ClectlAssert.Ok(help);
        Assert.Contains("kms.sock in trousseaud's data directory, $TROUSSEAU_HOME, else ./.trousseau", help.Stdout.ReplaceLineEndings(" "), StringComparison.Ordinal);
        Assert.DoesNotContain("/var/run", help.Stdout, StringComparison.Ordinal);
    }
}
