using System.Text.Json;
using Trousseau.Tests.Integration.Infrastructure;

namespace Trousseau.Tests.Integration.Cli;

/// <summary>
/// A new user's first session: trousseaud on the embedded default and clectl, both as real processes. The tests share
/// the collection's server, each under names of its own; the one that rotates the key starts a server of its own.
/// </summary>
[Collection(ClectlAgainstOneServer.Name)]
public sealed class CliSecretTests(ClectlFixture fixture)
{
    private const string Password = "Tr0ub4dor-&-3-horse-battery";

    private readonly ClectlRunner _clectl = fixture.Clectl;

    [Fact]
    public async Task Login_secret_walkthrough_create_read_update_list_delete()
    {
        var create = await _clectl.RunWithInputAsync(Password + "\n", "secret", "create", "payments/db", "--type", "login", "--username", "app", "--password-stdin", "--endpoint", "postgres://db:5432");
        ClectlAssert.Ok(create);
        Assert.DoesNotContain(Password, create.Stdout, StringComparison.Ordinal);

        var password = await _clectl.RunAsync("secret", "get", "payments/db", "--key", "password");
        ClectlAssert.Ok(password);
        Assert.Equal(Password, password.Stdout);

        ClectlAssert.Ok(await _clectl.RunAsync("secret", "update", "payments/db", "--from-literal", "password=rotated-value-2"));
        var after = await GetJsonAsync("payments/db");
        Assert.Equal("rotated-value-2", after.GetProperty("data").GetProperty("password").GetString());
        Assert.Equal("app", after.GetProperty("data").GetProperty("username").GetString());
        Assert.Equal("login", after.GetProperty("type").GetString());

        ClectlAssert.Ok(await _clectl.RunAsync("secret", "create", "payments/api", "--from-literal", "token=abc-123"));
        var list = await _clectl.RunAsync("secret", "list", "--prefix", "payments/");
        ClectlAssert.Ok(list);
        Assert.Contains("payments/db", list.Stdout, StringComparison.Ordinal);
        Assert.Contains("payments/api", list.Stdout, StringComparison.Ordinal);
        Assert.DoesNotContain("rotated-value-2", list.Stdout, StringComparison.Ordinal);
        Assert.DoesNotContain("abc-123", list.Stdout, StringComparison.Ordinal);

        var delete = await _clectl.RunAsync("secret", "delete", "payments/db");
        ClectlAssert.Ok(delete);
        var missing = await _clectl.RunAsync("secret", "get", "payments/db");
        ClectlAssert.Fails(missing, 3);
    }

    [Theory]
    [InlineData("\n")]
    [InlineData("\r\n")]
    [InlineData("\r\n\r\n")]
    [InlineData("\n\r\n")]
    public async Task Password_stdin_stores_the_password_without_any_of_its_trailing_line_breaks(string lineBreaks)
    {
        var name = $"stdin/breaks-{lineBreaks.Length}-{(int)lineBreaks[0]}";
        ClectlAssert.Ok(await _clectl.RunWithInputAsync(Password + lineBreaks, "secret", "create", name, "--type", "login", "--username", "app", "--password-stdin"));
        var created = await _clectl.RunAsync("secret", "get", name, "--key", "password");

        ClectlAssert.Ok(await _clectl.RunWithInputAsync("rotated-" + Password + lineBreaks, "secret", "update", name, "--password-stdin"));
        var updated = await _clectl.RunAsync("secret", "get", name, "--key", "password");

        ClectlAssert.Ok(created);
        ClectlAssert.Ok(updated);
        Assert.Equal(Password, created.Stdout);
        Assert.Equal("rotated-" + Password, updated.Stdout);
    }

    [Fact]
    public async Task List_prints_every_secret_of_every_page_in_name_order()
    {
        var names = Enumerable.Range(0, TrousseauLimits.DefaultListPageSize + 25).Select(i => $"bulk/{i:D4}").ToList();
        using (var http = new HttpClient { BaseAddress = fixture.Server.BaseAddress })
        {
            var client = new Trousseau.Remote.TrousseauClient(http, await BearerClient.ReadTokenAsync(Path.Combine(fixture.DataDir, "api.token")));
            await Parallel.ForEachAsync(names, new ParallelOptions { MaxDegreeOfParallelism = 8 }, async (name, ct) =>
                await client.CreateSecretAsync(name, SecretType.Opaque, new Dictionary<string, string> { ["k"] = "bulk-value" }, ct));
        }

        var table = await _clectl.RunAsync("secret", "list", "--prefix", "bulk/");
        var json = await JsonAsync("secret", "list", "--prefix", "bulk/");
        var yaml = await _clectl.RunAsync("secret", "list", "--prefix", "bulk/", "-o", "yaml");

        ClectlAssert.Ok(table);
        var lines = table.Stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.StartsWith("NAME", lines[0], StringComparison.Ordinal);
        Assert.Equal(names, lines.Skip(1).Select(line => line.Split(' ')[0]));
        Assert.Equal(names, json.GetProperty("items").EnumerateArray().Select(i => i.GetProperty("name").GetString()));
        ClectlAssert.Ok(yaml);
        Assert.Equal(names, yaml.Stdout.Split('\n').Where(l => l.StartsWith("- name: ", StringComparison.Ordinal)).Select(l => l["- name: ".Length..]));
        Assert.DoesNotContain("bulk-value", table.Stdout + yaml.Stdout, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Generate_makes_a_40_character_value_on_the_server_without_printing_it()
    {
        var generate = await _clectl.RunAsync("secret", "generate", "gen/session-key", "--key", "value", "--length", "40", "-o", "json");
        ClectlAssert.Ok(generate);
        using var metadata = JsonDocument.Parse(generate.Stdout);
        Assert.False(metadata.RootElement.TryGetProperty("data", out _));

        var value = await _clectl.RunAsync("secret", "get", "gen/session-key", "--key", "value");
        ClectlAssert.Ok(value);
        Assert.Equal(40, value.Stdout.Length);
        Assert.DoesNotContain(value.Stdout, generate.Stdout, StringComparison.Ordinal);
        Assert.DoesNotContain(value.Stdout, generate.Stderr, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Duplicate_create_and_stale_revision_exit_4_and_change_nothing()
    {
        ClectlAssert.Ok(await _clectl.RunAsync("secret", "create", "dup/one", "--from-literal", "k=first"));
        var first = await GetJsonAsync("dup/one");
        var revision = first.GetProperty("revision").GetInt64();

        ClectlAssert.Fails(await _clectl.RunAsync("secret", "create", "dup/one", "--from-literal", "k=second"), 4);
        ClectlAssert.Ok(await _clectl.RunAsync("secret", "update", "dup/one", "--from-literal", "k=third", "--if-revision", revision.ToString(System.Globalization.CultureInfo.InvariantCulture)));
        var stale = ClectlAssert.Fails(await _clectl.RunAsync("secret", "update", "dup/one", "--from-literal", "k=fourth", "--if-revision", revision.ToString(System.Globalization.CultureInfo.InvariantCulture)), 4);
        Assert.Equal("clectl: Secret 'dup/one' has changed since the expected revision, and nothing was changed: read it again for its current revision, then retry.", stale);
        ClectlAssert.Fails(await _clectl.RunAsync("secret", "delete", "dup/one", "--if-revision", revision.ToString(System.Globalization.CultureInfo.InvariantCulture)), 4);

        Assert.Equal("third", (await _clectl.RunAsync("secret", "get", "dup/one", "--key", "k")).Stdout);
    }

    [Fact]
    public async Task A_wrong_or_missing_token_exits_5_and_reveals_nothing()
    {
        ClectlAssert.Ok(await _clectl.RunAsync("secret", "create", "auth/check", "--from-literal", "k=guarded-value"));
        var token = await BearerClient.ReadTokenAsync(Path.Combine(fixture.DataDir, "api.token"));

        var wrong = await _clectl.With(("TROUSSEAU_TOKEN", "not-the-token")).RunAsync("secret", "get", "auth/check");
        var none = await _clectl.With(("TROUSSEAU_TOKEN", null)).RunAsync("secret", "get", "auth/check");

        foreach (var refused in new[] { wrong, none })
        {
            ClectlAssert.Fails(refused, 5);
            Assert.DoesNotContain("guarded-value", refused.Stdout + refused.Stderr, StringComparison.Ordinal);
            Assert.DoesNotContain(token, refused.Stdout + refused.Stderr, StringComparison.Ordinal);
        }
    }

    [Fact]
    public async Task Values_come_from_files_and_get_prints_a_table_or_json()
    {
        var file = Path.Combine(fixture.NewDirectory(), "cert.pem");
        await File.WriteAllTextAsync(file, "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n");
        ClectlAssert.Ok(await _clectl.RunAsync("secret", "create", "tls/site", "--from-file", $"cert={file}", "--from-literal", "host=example.org"));

        var table = await _clectl.RunAsync("secret", "get", "tls/site");
        var json = await GetJsonAsync("tls/site");
        var raw = await _clectl.RunAsync("secret", "get", "tls/site", "--key", "cert");

        ClectlAssert.Ok(table);
        Assert.Contains("example.org", table.Stdout, StringComparison.Ordinal);
        Assert.Equal(await File.ReadAllTextAsync(file), json.GetProperty("data").GetProperty("cert").GetString());
        Assert.Equal(await File.ReadAllTextAsync(file), raw.Stdout);
        ClectlAssert.Fails(await _clectl.RunAsync("secret", "get", "tls/site", "--key", "absent"), 3);
    }

    [Fact]
    public async Task Bad_names_and_bad_arguments_exit_2_without_contacting_storage()
    {
        ClectlAssert.Fails(await _clectl.RunAsync("secret", "create", "Bad Name", "--from-literal", "k=v"), 2);
        ClectlAssert.Fails(await _clectl.RunAsync("secret", "create", "ok/name", "--from-literal", "no-equals-sign"), 2);
        ClectlAssert.Fails(await _clectl.RunAsync("secret", "update", "ok/name"), 2);
        ClectlAssert.Fails(await _clectl.RunAsync("secret", "frobnicate"), 2);

        var list = await _clectl.RunAsync("secret", "list", "-o", "json");
        ClectlAssert.Ok(list);
        Assert.DoesNotContain("ok/name", list.Stdout, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Key_rotate_changes_the_key_id_and_rewrap_moves_every_secret()
    {
        // A key rotation changes what every other test sees: this one has a server to itself.
        using var temp = new TempDirectory();
        await using var server = await TrousseauServerProcess.StartAsync(temp.Combine("data"));
        var clectl = ClectlRunner.For(server, temp.Combine("data"), temp.Path);
        ClectlAssert.Ok(await clectl.RunAsync("secret", "create", "keys/a", "--from-literal", "k=value-a"));
        ClectlAssert.Ok(await clectl.RunAsync("secret", "create", "keys/b", "--from-literal", "k=value-b"));
        var before = await JsonAsync(clectl, "key", "status");

        var rotated = await JsonAsync(clectl, "key", "rotate");
        var status = await JsonAsync(clectl, "key", "status");
        var rewrap = await JsonAsync(clectl, "key", "rewrap");
        var again = await JsonAsync(clectl, "key", "rewrap");
        var said = await clectl.RunAsync("key", "rewrap");

        Assert.NotEqual(before.GetProperty("keyId").GetString(), rotated.GetProperty("keyId").GetString());
        Assert.Equal(rotated.GetProperty("keyId").GetString(), status.GetProperty("keyId").GetString());
        Assert.Equal("local", status.GetProperty("provider").GetString());
        Assert.Equal(2, rewrap.GetProperty("rewrapped").GetInt64());
        Assert.Equal(0, again.GetProperty("rewrapped").GetInt64());
        Assert.Equal(rotated.GetProperty("keyId").GetString(), rewrap.TryGetProperty("keyId", out var keyId) ? keyId.GetString() : null);
        ClectlAssert.Ok(said);
        Assert.Equal($"rewrapped 0 secrets to key {rotated.GetProperty("keyId").GetString()}, 2 needed no move", said.Stdout.TrimEnd());
        Assert.Equal("value-a", (await clectl.RunAsync("secret", "get", "keys/a", "--key", "k")).Stdout);
        Assert.Equal("value-b", (await clectl.RunAsync("secret", "get", "keys/b", "--key", "k")).Stdout);
    }

    private Task<JsonElement> GetJsonAsync(string name) => JsonAsync(_clectl, "secret", "get", name);

    private Task<JsonElement> JsonAsync(params string[] args) => JsonAsync(_clectl, args);

    private static async Task<JsonElement> JsonAsync(ClectlRunner clectl, params string[] args)
    {
        var result = await clectl.RunAsync([.. args, "-o", "json"]);
        ClectlAssert.Ok(result);
        using var document = JsonDocument.Parse(result.Stdout);
        return document.RootElement.Clone();
    }
}
