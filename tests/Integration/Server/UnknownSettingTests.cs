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

    [Theory]
    [InlineData("--Trousseau:Etcd:Endpoints=http://127.0.0.1:2379", null, null, "Trousseau:Etcd:Endpoints")]
    [InlineData(null, "Trousseau__Api__AllowedHosts", "proxy.local", "Trousseau:Api:AllowedHosts")]
    [InlineData(null, null, """{ "Trousseau": { "Etcd": { "Endpoints": "http://127.0.0.1:2379" } } }""", "Trousseau:Etcd:Endpoints")]
    [InlineData(null, null, """{ "Trousseau": { "Api": { "Policies": [ { "Subjects": "admin", "Secrets": ["**"], "Actions": ["read"] } ] } } }""", "Trousseau:Api:Policies:0:Subjects")]
    public async Task One_value_given_to_a_list_exits_2_saying_how_to_write_a_list(string? argument, string? variable, string? value, string key)
    {
        var environment = new Dictionary<string, string?>();
        List<string> args = ["--Trousseau:Store=memory"];
        if (argument is not null)
        {
            args.Add(argument);
        }
        else if (variable is not null)
        {
            environment[variable] = value;
        }
        else
        {
            var file = _temp.Combine("settings.json");
            await File.WriteAllTextAsync(file, value);
            args.AddRange(["--config", file]);
        }

        var result = await TrousseauServerProcess.RunToExitAsync(_temp.Combine("data"), args, environment);

        Assert.Equal(2, result.ExitCode);
        Assert.Equal(
            $"trousseaud: invalid configuration: {key} is a list, so the one value given to it would not be read: write each item "
            + $"with its index, as --{key}:0=VALUE on the command line, {key.Replace(":", "__", StringComparison.Ordinal)}__0=VALUE in "
            + "the environment, or a JSON array in a file.",
            Assert.Single(result.Stderr.Split('\n', StringSplitOptions.RemoveEmptyEntries)));
        Assert.False(Directory.Exists(_temp.Combine("data")));
    }

    [Fact]
    public async Task One_value_given_to_a_list_of_objects_exits_2_saying_how_to_write_its_items()
    {
        var result = await TrousseauServerProcess.RunToExitAsync(_temp.Combine("data"), ["--Trousseau:Store=memory", "--Trousseau:Api:Policies=admin"]);

        Assert.Equal(2, result.ExitCode);
        Assert.Equal(
            "trousseaud: invalid configuration: Trousseau:Api:Policies is a list of objects, so the one value given to it would not be "
            + "read: write each item's settings with its index, as --Trousseau:Api:Policies:0:NAME=VALUE on the command line, "
            + "Trousseau__Api__Policies__0__NAME=VALUE in the environment, or a JSON array of objects in a file.",
            Assert.Single(result.Stderr.Split('\n', StringSplitOptions.RemoveEmptyEntries)));
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
