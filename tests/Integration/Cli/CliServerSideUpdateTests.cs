using System.Globalization;
using System.Text.Json;
using Microsoft.AspNetCore.Http;
using Trousseau.Tests.Integration.Infrastructure;

namespace Trousseau.Tests.Integration.Cli;

/// <summary>
/// <c>clectl secret update</c> and <c>clectl secret regenerate</c>: the server changes the data, so clectl never reads a
/// value to change a secret and a value the server generated never reaches clectl.
/// </summary>
[Collection(ClectlAgainstOneServer.Name)]
public sealed class CliServerSideUpdateTests(ClectlFixture fixture)
{
    private readonly ClectlRunner _clectl = fixture.Clectl;

    [Fact]
    public async Task Update_sends_one_merge_patch_of_the_keys_it_changes_and_reads_no_value()
    {
        await using var server = await RecordingServer.StartAsync(_ => Results.Json(
            new { name = "gen/api", type = "opaque", revision = 8, createdAt = "2025-01-01T00:00:00.000+00:00", updatedAt = "2025-01-02T00:00:00.000+00:00" }));
        var clectl = _clectl.With(("TROUSSEAU_SERVER", server.BaseAddress.ToString()), ("TROUSSEAU_TOKEN", "recorder-token"));

        var set = await clectl.RunAsync("secret", "update", "gen/api", "--from-literal", "port=6432");
        var request = Assert.Single(server.Requests);
        var removed = await clectl.RunAsync("secret", "update", "gen/api", "--remove", "old", "--remove", "older", "--if-revision", "7");

        ClectlAssert.Ok(set);
        Assert.Equal("PATCH", request.Method);
        Assert.Equal("/v1/secrets/gen/api", request.Path);
        Assert.Equal("application/merge-patch+json", request.Header("Content-Type")?.Split(';')[0]);
        Assert.Null(request.Header("If-Match"));
        Assert.Equal("""{"data":{"port":"6432"}}""", Compact(request.Body));
        ClectlAssert.Ok(removed);
        Assert.Equal(2, server.Requests.Count);
        var removal = server.Requests[1];
        Assert.Equal("PATCH", removal.Method);
        Assert.Equal("\"7\"", removal.Header("If-Match"));
        Assert.Equal("""{"data":{"old":null,"older":null}}""", Compact(removal.Body));
        Assert.Contains("gen/api", set.Stdout, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Update_of_a_generated_login_keeps_its_password_on_the_server_and_refuses_to_remove_it()
    {
        ClectlAssert.Ok(await _clectl.RunAsync("secret", "generate", "cli-patch/db", "--type", "login", "--username", "orders"));
        var password = await ValueAsync("cli-patch/db", "password");

        ClectlAssert.Ok(await _clectl.RunAsync("secret", "update", "cli-patch/db", "--endpoint", "postgres://db:5432/orders"));
        var noPassword = await _clectl.RunAsync("secret", "update", "cli-patch/db", "--remove", "password");
        var both = await _clectl.RunAsync("secret", "update", "cli-patch/db", "--endpoint", "x", "--remove", "endpoint");
        ClectlAssert.Ok(await _clectl.RunAsync("secret", "update", "cli-patch/db", "--remove", "endpoint"));

        Assert.Contains("'password'", ClectlAssert.Fails(noPassword, 2), StringComparison.Ordinal);
        Assert.Contains("endpoint", ClectlAssert.Fails(both, 2), StringComparison.Ordinal);
        var secret = await GetJsonAsync("cli-patch/db");
        Assert.Equal(password, secret.GetProperty("data").GetProperty("password").GetString());
        Assert.Equal("orders", secret.GetProperty("data").GetProperty("username").GetString());
        Assert.False(secret.GetProperty("data").TryGetProperty("endpoint", out _));
    }

    [Fact]
    public async Task Update_removing_a_key_the_secret_does_not_hold_warns_naming_it_and_makes_the_rest_of_the_change()
    {
        ClectlAssert.Ok(await _clectl.RunAsync("secret", "create", "cli-patch/absent", "--from-literal", "user=orders", "--from-literal", "old=1"));
        var before = (await GetJsonAsync("cli-patch/absent")).GetProperty("revision").GetInt64();

        var typo = await _clectl.RunAsync("secret", "update", "cli-patch/absent", "--remove", "nokey");
        var afterTypo = (await GetJsonAsync("cli-patch/absent")).GetProperty("revision").GetInt64();
        var mixed = await _clectl.RunAsync("secret", "update", "cli-patch/absent", "--remove", "old", "--remove", "olde", "-o", "json");

        ClectlAssert.Ok(typo);
        Assert.Equal("clectl: warning: secret 'cli-patch/absent' has no key 'nokey' to remove.\n", typo.Stderr);
        Assert.Contains("cli-patch/absent", typo.Stdout, StringComparison.Ordinal);
        Assert.Equal(before, afterTypo);
        ClectlAssert.Ok(mixed);
        Assert.Equal("clectl: warning: secret 'cli-patch/absent' has no key 'olde' to remove.\n", mixed.Stderr);
        using (var metadata = JsonDocument.Parse(mixed.Stdout))
        {
            Assert.Equal("cli-patch/absent", metadata.RootElement.GetProperty("name").GetString());
        }

        var data = (await GetJsonAsync("cli-patch/absent")).GetProperty("data");
        Assert.False(data.TryGetProperty("old", out _));
        Assert.Equal("orders", data.GetProperty("user").GetString());
    }

    [Fact]
    public async Task Regenerate_prints_only_the_metadata_and_the_stored_value_changes()
    {
        ClectlAssert.Ok(await _clectl.RunAsync("secret", "generate", "cli-regen/api", "--key", "token", "--length", "40"));
        var before = await ValueAsync("cli-regen/api", "token");
        var revision = (await GetJsonAsync("cli-regen/api")).GetProperty("revision").GetInt64().ToString(CultureInfo.InvariantCulture);

        var json = await _clectl.RunAsync("secret", "regenerate", "cli-regen/api", "--if-revision", revision, "-o", "json");
        var afterJson = await ValueAsync("cli-regen/api", "token");
        var table = await _clectl.RunAsync("secret", "regenerate", "cli-regen/api", "--key", "token", "--length", "24");
        var afterTable = await ValueAsync("cli-regen/api", "token");
        var stale = await _clectl.RunAsync("secret", "regenerate", "cli-regen/api", "--if-revision", revision);
        var missing = await _clectl.RunAsync("secret", "regenerate", "cli-regen/absent");

        ClectlAssert.Ok(json);
        ClectlAssert.Ok(table);
        using (var metadata = JsonDocument.Parse(json.Stdout))
        {
            Assert.Equal("cli-regen/api", metadata.RootElement.GetProperty("name").GetString());
            Assert.True(metadata.RootElement.GetProperty("revision").GetInt64() > long.Parse(revision, CultureInfo.InvariantCulture));
            Assert.False(metadata.RootElement.TryGetProperty("data", out _));
        }

        Assert.Contains("cli-regen/api", table.Stdout, StringComparison.Ordinal);
        Assert.NotEqual(before, afterJson);
        Assert.Equal(SecretGenerationOptions.DefaultLength, afterJson.Length);
        Assert.NotEqual(afterJson, afterTable);
        Assert.Equal(24, afterTable.Length);
        foreach (var value in new[] { before, afterJson, afterTable })
        {
            Assert.DoesNotContain(value, json.Stdout + json.Stderr + table.Stdout + table.Stderr, StringComparison.Ordinal);
        }

        ClectlAssert.Fails(stale, 4);
        ClectlAssert.Fails(missing, 3);
        Assert.Equal(afterTable, await ValueAsync("cli-regen/api", "token"));
    }

    private async Task<string> ValueAsync(string name, string key)
    {
        var result = await _clectl.RunAsync("secret", "get", name, "--key", key);
        ClectlAssert.Ok(result);
        return result.Stdout;
    }

    private async Task<JsonElement> GetJsonAsync(string name)
    {
        var result = await _clectl.RunAsync("secret", "get", name, "-o", "json");
        ClectlAssert.Ok(result);
        using var document = JsonDocument.Parse(result.Stdout);
        return document.RootElement.Clone();
    }

    private static string Compact(string json)
    {
        using var document = JsonDocument.Parse(json);
        return JsonSerializer.Serialize(document.RootElement);
    }
}
