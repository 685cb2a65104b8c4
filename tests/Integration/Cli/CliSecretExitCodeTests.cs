using System.Text.Json;
using Trousseau.Tests.Integration.Infrastructure;
using YamlDotNet.Serialization;

namespace Trousseau.Tests.Integration.Cli;

/// <summary><c>clectl secret</c>: the exit code of each kind of failure, and output in every format.</summary>
[Collection(ClectlAgainstOneServer.Name)]
public sealed class CliSecretExitCodeTests(ClectlFixture fixture)
{
    private readonly ClectlRunner _clectl = fixture.Clectl;

    [Fact]
    public async Task A_missing_secret_exits_3_and_an_existing_name_exits_4()
    {
        ClectlAssert.Ok(await _clectl.RunAsync("secret", "create", "codes/taken", "--from-literal", "k=v"));

        ClectlAssert.Fails(await _clectl.RunAsync("secret", "get", "codes/absent"), 3);
        ClectlAssert.Fails(await _clectl.RunAsync("secret", "delete", "codes/absent"), 3);
        ClectlAssert.Fails(await _clectl.RunAsync("secret", "create", "codes/taken", "--from-literal", "k=w"), 4);
    }

    [Fact]
    public async Task Create_without_data_exits_2_says_how_to_give_data_and_stores_nothing()
    {
        var line = ClectlAssert.Fails(await _clectl.RunAsync("secret", "create", "codes/empty"), 2);

        Assert.Contains("--from-literal", line, StringComparison.Ordinal);
        Assert.Contains("--from-file", line, StringComparison.Ordinal);
        Assert.Contains("--password-stdin", line, StringComparison.Ordinal);
        ClectlAssert.Fails(await _clectl.RunAsync("secret", "get", "codes/empty"), 3);
    }

    [Fact]
    public async Task An_empty_login_endpoint_exits_2_with_the_rule_whether_generated_or_given_and_stores_nothing()
    {
        var generated = ClectlAssert.Fails(
            await _clectl.RunAsync("secret", "generate", "codes/endpoint-generated", "--type", "login", "--username", "u", "--endpoint", ""), 2);
        var given = ClectlAssert.Fails(
            await _clectl.RunWithInputAsync("p\n", "secret", "create", "codes/endpoint-given", "--type", "login", "--username", "u", "--password-stdin", "--endpoint", " "), 2);

        Assert.All([generated, given], line => Assert.Equal(
            "clectl: A login secret's 'endpoint' is empty or only white space; leave it out when there is none.", line));
        ClectlAssert.Fails(await _clectl.RunAsync("secret", "get", "codes/endpoint-generated"), 3);
        ClectlAssert.Fails(await _clectl.RunAsync("secret", "get", "codes/endpoint-given"), 3);
    }

    [Fact]
    public async Task An_update_removing_every_key_exits_2_and_keeps_the_secret_as_it_was()
    {
        ClectlAssert.Ok(await _clectl.RunAsync("secret", "create", "codes/every-key", "--from-literal", "a=1", "--from-literal", "b=2"));

        var line = ClectlAssert.Fails(await _clectl.RunAsync("secret", "update", "codes/every-key", "--remove", "a", "--remove", "b"), 2);

        Assert.Equal("clectl: A secret holds at least one data key; 'data' is empty (delete the secret to remove every key).", line);
        var kept = await _clectl.RunAsync("secret", "get", "codes/every-key", "-o", "json");
        ClectlAssert.Ok(kept);
        using var secret = JsonDocument.Parse(kept.Stdout);
        Assert.Equal(["a", "b"], secret.RootElement.GetProperty("data").EnumerateObject().Select(p => p.Name).Order(StringComparer.Ordinal));
    }

    [Fact]
    public async Task A_from_file_path_that_does_not_exist_exits_2_and_names_the_path()
    {
        var missing = Path.Combine(fixture.NewDirectory(), "no-such.pem");

        var line = ClectlAssert.Fails(await _clectl.RunAsync("secret", "create", "codes/from-file", "--from-file", $"cert={missing}"), 2);

        Assert.Contains(missing, line, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Names_and_flags_the_server_or_parser_refuses_exit_2()
    {
        ClectlAssert.Fails(await _clectl.RunAsync("secret", "create", "Not A Name", "--from-literal", "k=v"), 2);
        ClectlAssert.Fails(await _clectl.RunAsync("secret", "create", "codes/login", "--type", "login", "--from-literal", "k=v"), 2);
        ClectlAssert.Fails(await _clectl.RunAsync("secret", "create", "codes/type", "--type", "certificate", "--from-literal", "k=v"), 2);
        ClectlAssert.Fails(await _clectl.RunAsync("secret", "get", "codes/x", "--if-revision", "1"), 2);
    }

    [Fact]
    public async Task Secret_commands_exit_6_when_no_server_listens()
    {
        var nowhere = _clectl.With(("TROUSSEAU_SERVER", $"http://127.0.0.1:{FreePort.Next()}"));

        ClectlAssert.Fails(await nowhere.RunAsync("secret", "list"), 6);
        ClectlAssert.Fails(await nowhere.RunAsync("secret", "create", "codes/unreached", "--from-literal", "k=v"), 6);
    }

    [Fact]
    public async Task Delete_prints_json_or_yaml_when_asked()
    {
        ClectlAssert.Ok(await _clectl.RunAsync("secret", "create", "codes/delete-json", "--from-literal", "k=v"));
        ClectlAssert.Ok(await _clectl.RunAsync("secret", "create", "codes/delete-yaml", "--from-literal", "k=v"));

        var json = await _clectl.RunAsync("secret", "delete", "codes/delete-json", "-o", "json");
        var yaml = await _clectl.RunAsync("secret", "delete", "codes/delete-yaml", "-o", "yaml");

        ClectlAssert.Ok(json);
        using var document = JsonDocument.Parse(json.Stdout);
        Assert.Equal("codes/delete-json", document.RootElement.GetProperty("name").GetString());
        Assert.True(document.RootElement.GetProperty("deleted").GetBoolean());
        ClectlAssert.Ok(yaml);
        Assert.Equal("name: codes/delete-yaml\ndeleted: true\n", yaml.Stdout);
    }

    [Fact]
    public async Task Yaml_output_reads_back_with_the_same_values_and_types_as_the_json()
    {
        ClectlAssert.Ok(await _clectl.RunAsync(
            "secret", "create", "codes/yaml", "--from-literal", "flag=true", "--from-literal", "zip=0123", "--from-literal", "no=no",
            "--from-literal", "empty=", "--from-literal", "pem=-----BEGIN-----\nMIIB\n-----END-----\n", "--from-literal", "colon=a: b # c"));

        var json = await _clectl.RunAsync("secret", "get", "codes/yaml", "-o", "json");
        var yaml = await _clectl.RunAsync("secret", "get", "codes/yaml", "-o", "yaml");

        ClectlAssert.Ok(json);
        ClectlAssert.Ok(yaml);
        using var expected = JsonDocument.Parse(json.Stdout);

        // A reader that takes unquoted scalars for booleans, numbers and null, as YAML 1.1 readers do.
        var read = new DeserializerBuilder().WithAttemptingUnquotedStringTypeDeserialization().Build().Deserialize<Dictionary<string, object>>(yaml.Stdout);
        var data = Assert.IsType<Dictionary<object, object>>(read["data"]);
        foreach (var item in expected.RootElement.GetProperty("data").EnumerateObject())
        {
            Assert.Equal(item.Value.GetString(), Assert.IsType<string>(data[item.Name]));
        }

        Assert.Equal(expected.RootElement.GetProperty("revision").GetInt64(), Convert.ToInt64(read["revision"], System.Globalization.CultureInfo.InvariantCulture));
        Assert.Equal(expected.RootElement.GetProperty("createdAt").GetString(), read["createdAt"]);
    }
}
