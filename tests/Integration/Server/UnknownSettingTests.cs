using Trousseau.Tests.Integration.Infrastructure;

namespace Trousseau.Tests.Integration.Server;

/// <summary>
/// A key below <c>Trousseau</c> that is no setting (a slip of the keyboard) stops trousseaud before it reads any
/// setting or touches any file, instead of leaving the default it meant to change in force.
/// </summary>
public sealed class UnknownSettingTests : IDisposable
{
    private const string Listed = "Every setting is listed in docs/reference.md of the Trousseau repository.";

    private readonly TempDirectory _temp = new();

    public void Dispose() => _temp.Dispose();

    [Theory]
    [InlineData("--Trousseau:Audit:FailOpn=true", "Trousseau:Audit:FailOpn (did you mean Trousseau:Audit:FailOpen?) is not a setting")]
    [InlineData("--trousseau:api:tls:clientcafiles=/etc/ca.pem", "Trousseau:Api:tls:clientcafiles (did you mean Trousseau:Api:Tls:ClientCaFile?) is not a setting")]
    [InlineData("--Trousseau:Api:Policies:2:Subject:0=*", "Trousseau:Api:Policies:2:Subject:0 (did you mean Trousseau:Api:Policies:2:Subjects:0?) is not a setting")]
    [InlineData("--Trousseau:Api:Port=9000", "Trousseau:Api:Port is not a setting")]
    public async Task A_key_that_is_no_setting_exits_2_naming_it_and_the_nearest_setting(string setting, string refusal)
    {
        var result = await TrousseauServerProcess.RunToExitAsync(_temp.Combine("data"), [setting]);

        Assert.Equal(2, result.ExitCode);
        Assert.Equal($"trousseaud: invalid configuration: {refusal} of trousseaud. {Listed}", Assert.Single(result.Stderr.Split('\n', StringSplitOptions.RemoveEmptyEntries)));
        Assert.False(Directory.Exists(_temp.Combine("data")));
    }

    [Fact]
    public async Task Settings_written_outside_the_Trousseau_section_of_a_config_file_exit_2_naming_the_file_and_them()
    {
        var file = _temp.Combine("settings.json");
        await File.WriteAllTextAsync(file, """{ "Store": "memory", "Api": { "Urls": "http://127.0.0.1:9" }, "Logging": { "LogLevel": { "Default": "Warning" } } }""");

        var result = await TrousseauServerProcess.RunToExitAsync(_temp.Combine("data"), ["--config", file]);

        Assert.Equal(2, result.ExitCode);
        Assert.Equal(
            $"trousseaud: invalid configuration: {file} sets Api and Store at its top level, outside the Trousseau section, where trousseaud reads "
            + "no setting: move them into that section, as { \"Trousseau\": { \"Api\": ... } }.",
            Assert.Single(result.Stderr.Split('\n', StringSplitOptions.RemoveEmptyEntries)));
        Assert.False(Directory.Exists(_temp.Combine("data")));
    }

    [Fact]
    public async Task Every_unknown_key_from_every_source_is_named_at_once_and_never_its_value()
    {
        var environment = new Dictionary<string, string?> { ["Trousseau__Api__Auth__Mod"] = "kubernetes" };

        var result = await TrousseauServerProcess.RunToExitAsync(_temp.Combine("data"), ["--Trousseau:Vault:Auth:SecretID_File=s3cr3t-id-file"], environment);

        Assert.Equal(2, result.ExitCode);
        Assert.Equal(
            "trousseaud: invalid configuration: Trousseau:Api:Auth:Mod (did you mean Trousseau:Api:Auth:Mode?) and "
            + $"Trousseau:Vault:Auth:SecretID_File (did you mean Trousseau:Vault:Auth:SecretIdFile?) are not settings of trousseaud. {Listed}",
            Assert.Single(result.Stderr.Split('\n', StringSplitOptions.RemoveEmptyEntries)));
        Assert.DoesNotContain("s3cr3t", result.Stderr + result.Stdout, StringComparison.Ordinal);
    }
}
