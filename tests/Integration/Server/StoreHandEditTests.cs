using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using Microsoft.Data.Sqlite;
using Trousseau.Tests.Integration.Infrastructure;

namespace Trousseau.Tests.Integration.Server;

/// <summary>Records of trousseaud's SQLite store changed by hand (the sqlite3 shell) while it is stopped.</summary>
public sealed class StoreHandEditTests : IDisposable
{
    private readonly TempDirectory _temp = new();

    public void Dispose() => _temp.Dispose();

    [Fact]
    public async Task Values_swapped_between_two_records_are_refused_naming_each_secret_and_the_listing_still_answers()
    {
        var dataDir = _temp.Combine("data");
        await CreateAndStopAsync(dataDir, "app/one", "app/two");

        using (var connection = OpenStore(dataDir))
        {
            using var swap = connection.CreateCommand();
            swap.CommandText = """
                CREATE TEMP TABLE before AS SELECT key, value FROM secrets;
                UPDATE secrets SET value = (SELECT before.value FROM before WHERE before.key <> secrets.key);
                SELECT count(*) FROM secrets JOIN before USING (key) WHERE secrets.value <> before.value;
                """;
            Assert.Equal(2L, swap.ExecuteScalar());
        }

        await using var server = await TrousseauServerProcess.StartAsync(dataDir);
        using var reader = await BearerClient.FromTokenFileAsync(server.BaseAddress, Path.Combine(dataDir, "api.token"));
        foreach (var name in new[] { "app/one", "app/two" })
        {
            using var read = await reader.GetAsync(new Uri($"v1/secrets/{name}", UriKind.Relative));
            var problem = await Problems.AssertAsync(read, HttpStatusCode.BadRequest);
            Assert.StartsWith($"The stored record of secret '{name}' cannot be decrypted: authentication failed", problem.GetProperty("detail").GetString(), StringComparison.Ordinal);
        }

        using var listing = await reader.GetFromJsonAsync<JsonDocument>("v1/secrets?prefix=app/");
        Assert.Equal(
            ["app/one", "app/two"],
            listing!.RootElement.GetProperty("items").EnumerateArray().Select(item => item.GetProperty("name").GetString()));
    }

    [Fact]
    public async Task A_revision_set_by_hand_above_the_stores_counter_is_followed_by_greater_ones_not_reused()
    {
        var dataDir = _temp.Combine("data");
        await CreateAndStopAsync(dataDir, "app/one");

        using (var connection = OpenStore(dataDir))
        {
            using var edit = connection.CreateCommand();
            edit.CommandText = "UPDATE secrets SET revision = 1000 WHERE key = 'app/one'; SELECT value FROM revision_counter;";
            Assert.True((long)edit.ExecuteScalar()! < 1000);
        }

        await using var server = await TrousseauServerProcess.StartAsync(dataDir);
        using var writer = await BearerClient.FromTokenFileAsync(server.BaseAddress, Path.Combine(dataDir, "api.token"));
        using var update = new HttpRequestMessage(HttpMethod.Put, "v1/secrets/app/one") { Content = JsonContent.Create(new { data = new { value = "two" } }) };
        update.Headers.IfMatch.Add(new System.Net.Http.Headers.EntityTagHeaderValue("\"1000\""));
        using var updated = await writer.SendAsync(update);
        Assert.True(updated.StatusCode == HttpStatusCode.OK, await updated.Content.ReadAsStringAsync());
        using var metadata = JsonDocument.Parse(await updated.Content.ReadAsStringAsync());
        Assert.True(metadata.RootElement.GetProperty("revision").GetInt64() > 1000, metadata.RootElement.ToString());
    }

    [Fact]
    public async Task A_value_written_by_hand_as_text_is_refused_naming_its_secret_and_can_be_deleted()
    {
        var dataDir = _temp.Combine("data");
        await CreateAndStopAsync(dataDir, "app/one");

        // As the sqlite3 shell writes a quoted value: a text value, where Trousseau writes blobs.
        using (var connection = OpenStore(dataDir))
        {
            using var edit = connection.CreateCommand();
            edit.CommandText = "UPDATE secrets SET value = 'not an envelope' WHERE key = 'app/one'; SELECT typeof(value) FROM secrets WHERE key = 'app/one';";
            Assert.Equal("text", edit.ExecuteScalar());
        }

        await using var server = await TrousseauServerProcess.StartAsync(dataDir);
        using var reader = await BearerClient.FromTokenFileAsync(server.BaseAddress, Path.Combine(dataDir, "api.token"));
        using (var read = await reader.GetAsync(new Uri("v1/secrets/app/one", UriKind.Relative)))
        {
            var problem = await Problems.AssertAsync(read, HttpStatusCode.BadRequest);
            Assert.Equal("The stored record of secret 'app/one' is corrupt: record format 110 is not supported.", problem.GetProperty("detail").GetString());
        }

        using var deleted = await reader.DeleteAsync(new Uri("v1/secrets/app/one", UriKind.Relative));
        Assert.Equal(HttpStatusCode.NoContent, deleted.StatusCode);
    }

    [Fact]
    public async Task A_stored_key_holding_control_characters_is_named_in_the_log_with_them_escaped_forging_no_line()
    {
        var dataDir = _temp.Combine("data");
        await using (var first = await TrousseauServerProcess.StartAsync(dataDir))
        {
            using var client = await BearerClient.FromTokenFileAsync(first.BaseAddress, Path.Combine(dataDir, "api.token"));
            using var created = await client.PostAsJsonAsync("v1/secrets", new { name = "app/one", type = "opaque", data = new { value = "one" } });
            Assert.Equal(HttpStatusCode.Created, created.StatusCode);
            Assert.Equal(0, await first.StopAsync());
        }

        // A key another program wrote under the store's prefix: a screen clear and a line break, then a forged line.
        using (var connection = new SqliteConnection($"Data Source={Path.Combine(dataDir, "store.db")};Pooling=False"))
        {
            connection.Open();
            using var insert = connection.CreateCommand();
            insert.CommandText = """
                UPDATE revision_counter SET value = value + 1;
                INSERT INTO secrets (key, value, revision) SELECT $key, CAST('not an envelope' AS BLOB), value FROM revision_counter;
                SELECT count(*) FROM secret_heads WHERE key = $key;
                """;
            insert.Parameters.AddWithValue("$key", "app/x\u001B[2J\nforged: line");
            Assert.Equal(1L, insert.ExecuteScalar());
        }

        await using var server = await TrousseauServerProcess.StartAsync(dataDir);
        using var reader = await BearerClient.FromTokenFileAsync(server.BaseAddress, Path.Combine(dataDir, "api.token"));
        using (var listing = await reader.GetFromJsonAsync<JsonDocument>("v1/secrets?prefix=app/"))
        {
            Assert.Equal(["app/one"], listing!.RootElement.GetProperty("items").EnumerateArray().Select(item => item.GetProperty("name").GetString()));
        }

        using (var rewrap = await reader.PostAsJsonAsync("v1/keys/rewrap", new { }))
        {
            Assert.Equal(HttpStatusCode.OK, rewrap.StatusCode);
        }

        const string Escaped = @"app/x\u001B[2J\u000Aforged: line";
        await Eventually.HoldsAsync(
            () => server.Log.Contains($"Listing left out the store key {Escaped}: it is no secret name", StringComparison.Ordinal)
                && server.Log.Contains($"Rewrap left secret {Escaped} as it is", StringComparison.Ordinal),
            () => server.Log);
        Assert.DoesNotContain(server.Log.Split('\n'), line => line.TrimStart().StartsWith("forged", StringComparison.Ordinal));
        Assert.DoesNotContain('\u001B', server.Log);
    }

    [Fact]
    public async Task A_record_whose_header_is_damaged_is_named_when_read_and_left_out_of_listings_while_the_others_list_read_and_rewrap()
    {
        var dataDir = _temp.Combine("data");
        await CreateAndStopAsync(dataDir, "app/one", "app/two", "app/three");

        using (var connection = OpenStore(dataDir))
        {
            using var read = connection.CreateCommand();
            read.CommandText = "SELECT value FROM secrets WHERE key = 'app/two'";
            var record = (byte[])read.ExecuteScalar()!;
            record[0] = 7;

            // The record's format byte changed, and a row another program added.
            using var damage = connection.CreateCommand();
            damage.CommandText = """
                UPDATE secrets SET value = $record WHERE key = 'app/two';
                UPDATE revision_counter SET value = value + 1;
                INSERT INTO secrets (key, value, revision) SELECT 'app/note', CAST('not an envelope' AS BLOB), value FROM revision_counter;
                SELECT count(*) FROM secret_heads WHERE key IN ('app/two', 'app/note');
                """;
            damage.Parameters.AddWithValue("$record", record);
            Assert.Equal(2L, damage.ExecuteScalar());
        }

        await using var server = await TrousseauServerProcess.StartAsync(dataDir);
        using var reader = await BearerClient.FromTokenFileAsync(server.BaseAddress, Path.Combine(dataDir, "api.token"));
        var listed = new List<string?>();
        var next = "v1/secrets?prefix=app/&limit=1";
        while (next is not null)
        {
            using var page = await reader.GetAsync(new Uri(next, UriKind.Relative));
            Assert.True(page.StatusCode == HttpStatusCode.OK, await page.Content.ReadAsStringAsync());
            using var body = JsonDocument.Parse(await page.Content.ReadAsStringAsync());
            listed.AddRange(body.RootElement.GetProperty("items").EnumerateArray().Select(item => item.GetProperty("name").GetString()));
            next = body.RootElement.TryGetProperty("continue", out var token) && token.GetString() is { } value
                ? $"v1/secrets?prefix=app/&limit=1&continue={Uri.EscapeDataString(value)}"
                : null;
        }

        Assert.Equal(["app/one", "app/three"], listed);
        await Eventually.HoldsAsync(
            () => server.Log.Contains("Listing left out secret app/two: The stored record of secret 'app/two' is corrupt: record format 7 is not supported.", StringComparison.Ordinal)
                && server.Log.Contains("Listing left out secret app/note: The stored record of secret 'app/note' is corrupt: record format 110 is not supported.", StringComparison.Ordinal),
            () => server.Log);

        using (var damaged = await reader.GetAsync(new Uri("v1/secrets/app/two", UriKind.Relative)))
        {
            var problem = await Problems.AssertAsync(damaged, HttpStatusCode.BadRequest);
            Assert.Equal("The stored record of secret 'app/two' is corrupt: record format 7 is not supported.", problem.GetProperty("detail").GetString());
        }

        using (var other = await reader.GetAsync(new Uri("v1/secrets/app/three", UriKind.Relative)))
        {
            Assert.Equal(HttpStatusCode.OK, other.StatusCode);
        }

        using (var rewrap = await reader.PostAsJsonAsync("v1/keys/rewrap", new { }))
        {
            Assert.Equal(HttpStatusCode.OK, rewrap.StatusCode);
            using var counts = JsonDocument.Parse(await rewrap.Content.ReadAsStringAsync());
            Assert.Equal(2, counts.RootElement.GetProperty("failed").GetInt64());
        }

        var clectl = ClectlRunner.For(server, dataDir, _temp.Path);
        var list = await clectl.RunAsync("secret", "list", "--prefix", "app/", "-o", "json");
        ClectlAssert.Ok(list);
        using var cliListing = JsonDocument.Parse(list.Stdout);
        Assert.Equal(["app/one", "app/three"], cliListing.RootElement.GetProperty("items").EnumerateArray().Select(item => item.GetProperty("name").GetString()));
    }

    /// <summary>Runs trousseaud on <paramref name="dataDir"/> to create each opaque secret named (its value is its name), then stops it.</summary>
    private static async Task CreateAndStopAsync(string dataDir, params string[] names)
    {
        await using var first = await TrousseauServerProcess.StartAsync(dataDir);
        using var client = await BearerClient.FromTokenFileAsync(first.BaseAddress, Path.Combine(dataDir, "api.token"));
        foreach (var name in names)
        {
            using var created = await client.PostAsJsonAsync("v1/secrets", new { name, type = "opaque", data = new { value = name } });
            Assert.Equal(HttpStatusCode.Created, created.StatusCode);
        }

        Assert.Equal(0, await first.StopAsync());
    }

    /// <summary>The store of a stopped trousseaud, opened as the sqlite3 shell would.</summary>
    private static SqliteConnection OpenStore(string dataDir)
    {
        var connection = new SqliteConnection($"Data Source={Path.Combine(dataDir, "store.db")};Pooling=False");
        connection.Open();
        return connection;
    }
}
