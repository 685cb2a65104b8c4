using System.Buffers.Binary;
using System.Collections.Concurrent;
using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using Microsoft.Data.Sqlite;
using Trousseau.Tests.Integration.Infrastructure;

namespace Trousseau.Tests.Integration.Server;

/// <summary>trousseaud's background worker across a crash, on the default SQLite store and local key ring.</summary>
public sealed class WorkerRestartTests : IDisposable
{
    private const int SecretCount = 2000;
    private static readonly string[] Arguments = ["--Trousseau:Worker:Interval=00:00:00.5"];

    private readonly TempDirectory _temp = new();

    private string DataDir => _temp.Combine("data");

    public void Dispose() => _temp.Dispose();

    [Fact]
    public async Task A_rewrap_killed_half_way_is_finished_after_a_restart_without_any_operator_call_and_keeps_every_revision()
    {
        Dictionary<string, long> revisions;
        string rotatedKeyId;
        await using (var server = await TrousseauServerProcess.StartAsync(DataDir, Arguments))
        {
            using var http = Client(server);
            revisions = await CreateSecretsAsync(http);
            using var rotate = await http.PostAsync("v1/keys/rotate", new StringContent("{}", Encoding.UTF8, "application/json"));
            rotatedKeyId = (await rotate.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("keyId").GetString()!;

            // The worker sees the rotation at its next tick and starts moving records: kill it as soon as it has.
            await Eventually.HoldsAsync(() => StoredKeyIds().ContainsValue(rotatedKeyId), () => server.Log);
            await server.KillAsync();
        }

        var left = StoredKeyIds().Count(k => k.Value != rotatedKeyId);
        Assert.True(left > 0, "The rewrap finished before the kill: the test did not interrupt it.");

        await using (var restarted = await TrousseauServerProcess.StartAsync(DataDir, Arguments))
        {
            using var http = Client(restarted);
            await Eventually.HoldsAsync(
                () => StoredKeyIds().Values.All(k => k == rotatedKeyId),
                () => $"{StoredKeyIds().Count(k => k.Value != rotatedKeyId)} of the {left} records left under the old key still are:\n{restarted.Log}");

            Assert.Equal(rotatedKeyId, (await http.GetFromJsonAsync<JsonElement>("v1/keys")).GetProperty("keyId").GetString());
            await Parallel.ForEachAsync(revisions, new ParallelOptions { MaxDegreeOfParallelism = 8 }, async (secret, ct) =>
            {
                var read = await http.GetFromJsonAsync<JsonElement>("v1/secrets/" + secret.Key, ct);
                Assert.Equal("value-of-" + secret.Key, read.GetProperty("data").GetProperty("k").GetString());
                Assert.Equal(secret.Value, read.GetProperty("revision").GetInt64());
            });
        }
    }

    private HttpClient Client(TrousseauServerProcess server) =>
        BearerClient.Create(server.BaseAddress, File.ReadAllText(Path.Combine(DataDir, "api.token")).Trim(), TimeSpan.FromSeconds(60));

    private static async Task<Dictionary<string, long>> CreateSecretsAsync(HttpClient http)
    {
        var revisions = new ConcurrentDictionary<string, long>(StringComparer.Ordinal);
        await Parallel.ForEachAsync(Enumerable.Range(0, SecretCount), new ParallelOptions { MaxDegreeOfParallelism = 8 }, async (i, ct) =>
        {
            var name = $"crash/{i:D4}";
            using var body = new StringContent($$$"""{"name":"{{{name}}}","type":"opaque","data":{"k":"value-of-{{{name}}}"}}""", Encoding.UTF8, "application/json");
            using var created = await http.PostAsync("v1/secrets", body, ct);
            Assert.Equal(HttpStatusCode.Created, created.StatusCode);
            revisions[name] = (await created.Content.ReadFromJsonAsync<JsonElement>(ct)).GetProperty("revision").GetInt64();
        });
        return new Dictionary<string, long>(revisions, StringComparer.Ordinal);
    }

    /// <summary>
    /// The key id each stored record is sealed under, read from the SQLite file as docs/envelope.md lays records out:
    /// the record header (format 1, or 2 with the kept revision), then the envelope, whose key id follows the provider id
    /// (after a purpose byte in envelope format 2).
    /// </summary>
    private Dictionary<string, string> StoredKeyIds()
    {
        using var connection = new SqliteConnection($"Data Source={Path.Combine(DataDir, "store.db")};Mode=ReadOnly;Pooling=False");
        connection.Open();
        using var command = connection.CreateCommand();
        command.CommandText = "SELECT key, value FROM secrets";
        using var reader = command.ExecuteReader();
        var keyIds = new Dictionary<string, string>(StringComparer.Ordinal);
        while (reader.Read())
        {
            var record = (byte[])reader.GetValue(1);
            var envelope = record.AsSpan(2 + record[1] + 16 + (record[0] == 2 ? 8 : 0));
            var providerAt = envelope[3] == 2 ? 6 : 5;
            var keyIdAt = providerAt + 1 + envelope[providerAt];
            var keyIdLength = BinaryPrimitives.ReadUInt16BigEndian(envelope[keyIdAt..]);
            keyIds[reader.GetString(0)] = Encoding.UTF8.GetString(envelope.Slice(keyIdAt + 2, keyIdLength));
        }

        return keyIds;
    }
}
