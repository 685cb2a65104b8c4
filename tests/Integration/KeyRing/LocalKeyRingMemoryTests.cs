using System.Buffers.Binary;
using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using Microsoft.Data.Sqlite;
using Trousseau.Tests.Integration.Infrastructure;

namespace Trousseau.Tests.Integration.KeyRing;

/// <summary>
/// What a memory dump of trousseaud shows of its keys: the local key ring's are held as bytes that are zeroed when
/// dropped, never as the base64 text of the file, which a .NET string or a dead buffer would keep until overwritten;
/// a data key is zeroed once it seals nothing more and no cache or reader holds it.
/// </summary>
public sealed partial class LocalKeyRingMemoryTests : IDisposable
{
    private const int ChunkSize = 4 << 20;

    private readonly TempDirectory _temp = new();

    private string DataDir => _temp.Combine("data");

    public void Dispose() => _temp.Dispose();

    [Fact]
    public async Task After_the_key_ring_is_made_and_rotated_no_key_is_found_as_text_in_trousseauds_memory()
    {
        await using var server = await TrousseauServerProcess.StartAsync(DataDir);
        var clectl = ClectlRunner.For(server, DataDir, Directory.CreateDirectory(_temp.Combine("work")).FullName);
        ClectlAssert.Ok(await clectl.RunAsync("secret", "create", "db", "--from-literal", "password=hunter2"));
        ClectlAssert.Ok(await clectl.RunAsync("key", "rotate"));
        ClectlAssert.Ok(await clectl.RunAsync("secret", "get", "db"));

        var patterns = KeyTexts(await File.ReadAllTextAsync(Path.Combine(DataDir, "local.keyring")));
        Assert.Equal(2 * 3, patterns.Count);

        var found = FindInMemory(server.ProcessId, patterns);

        Assert.True(found.Count == 0, $"trousseaud's memory holds its key ring's keys as text: {string.Join(", ", found)}");
    }

    [Fact]
    public async Task A_data_key_past_its_max_age_leaves_trousseauds_memory_without_waiting_for_another_write()
    {
        await using var server = await TrousseauServerProcess.StartAsync(
            DataDir, ["--Trousseau:DataKeys:MaxAge=00:00:01", "--Trousseau:DataKeys:CacheTimeToLive=00:00:01"]);
        var clectl = ClectlRunner.For(server, DataDir, Directory.CreateDirectory(_temp.Combine("work")).FullName);
        ClectlAssert.Ok(await clectl.RunAsync("secret", "create", "db", "--from-literal", "password=hunter2"));
        var dataKey = new Dictionary<string, byte[]>(StringComparer.Ordinal) { ["the data key of secret db"] = await DataKeyOfAsync("db") };

        await Eventually.ReturnsAsync(
            () => Task.Run(() => FindInMemory(server.ProcessId, dataKey)),
            hits => hits.Count == 0,
            awaited: "the data key to be zeroed",
            show: hits => string.Join(", ", hits));
    }

    /// <summary>The data key a record's envelope wraps, unwrapped with the key ring as the file holds it.</summary>
    private async Task<byte[]> DataKeyOfAsync(string name)
    {
        byte[] record;
        await using (var connection = new SqliteConnection($"Data Source={Path.Combine(DataDir, "store.db")};Mode=ReadOnly;Pooling=False"))
        {
            await connection.OpenAsync();
            await using var command = connection.CreateCommand();
            command.CommandText = "SELECT value FROM secrets WHERE key = $key";
            command.Parameters.AddWithValue("$key", name);
            record = (byte[])(await command.ExecuteScalarAsync())!;
        }

        // The record's clear header (format, type, times, and in format 2 a revision), then a format 2 envelope.
        var envelope = record[(2 + record[1] + 16 + (record[0] == 2 ? 8 : 0))..];
        Assert.Equal("TRS\u0002"u8.ToArray(), envelope[..4]);
        var offset = 7 + envelope[6];
        var keyIdLength = BinaryPrimitives.ReadUInt16BigEndian(envelope.AsSpan(offset));
        var keyId = Encoding.UTF8.GetString(envelope, offset + 2, keyIdLength);
        offset += 2 + keyIdLength + 4;
        var wrapped = envelope[(offset + 2)..(offset + 2 + BinaryPrimitives.ReadUInt16BigEndian(envelope.AsSpan(offset)))];

        var ring = JsonNode.Parse(await File.ReadAllTextAsync(Path.Combine(DataDir, "local.keyring")))!;
        var ringKey = Convert.FromBase64String(ring["keys"]!.AsArray().Single(k => k!["keyId"]!.GetValue<string>() == keyId)!["key"]!.GetValue<string>());
        var labelled = new byte[wrapped.Length - 12 - 16];
        using (var aes = new AesGcm(ringKey, 16))
        {
            aes.Decrypt(wrapped.AsSpan(0, 12), wrapped.AsSpan(12, labelled.Length), wrapped.AsSpan(^16), labelled, Encoding.UTF8.GetBytes($"trousseau/local-wrap/v1:{keyId}"));
        }

        Assert.Equal("trousseau/store\0"u8.ToArray(), labelled[..^32]);
        return labelled[^32..];
    }

    /// <summary>
    /// Each key of the file as a .NET string holds its base64 (UTF-16), as UTF-8 bytes hold it, and as the file spells
    /// it (a JSON string may escape '+').
    /// </summary>
    private static Dictionary<string, byte[]> KeyTexts(string file)
    {
        var patterns = new Dictionary<string, byte[]>(StringComparer.Ordinal);
        foreach (var key in JsonNode.Parse(file)!["keys"]!.AsArray())
        {
            var version = key!["version"]!.GetValue<int>();
            var base64 = key["key"]!.GetValue<string>();
            Assert.Equal(32, Convert.FromBase64String(base64).Length);
            var spelled = KeyFields().Matches(file).Select(m => m.Groups[1].Value).Single(v => Unescape(v) == base64);
            patterns[$"key version {version} as a string (UTF-16)"] = Encoding.Unicode.GetBytes(base64);
            patterns[$"key version {version} as UTF-8 base64"] = Encoding.UTF8.GetBytes(base64);
            patterns[$"key version {version} as the file spells it"] = Encoding.UTF8.GetBytes(spelled);
        }

        return patterns;
    }

    private static string Unescape(string jsonStringContent) => JsonNode.Parse($"\"{jsonStringContent}\"")!.GetValue<string>();

    /// <summary>
    /// Where each pattern occurs in the writable memory of process <paramref name="pid"/>, read through
    /// <c>/proc/PID/mem</c> (this process started it, so it may read it); regions that cannot be read are passed over.
    /// </summary>
    private static List<string> FindInMemory(int pid, Dictionary<string, byte[]> patterns)
    {
        var longest = patterns.Values.Max(p => p.Length);
        var buffer = new byte[ChunkSize + longest];
        var found = new List<string>();
        using var memory = new FileStream($"/proc/{pid}/mem", FileMode.Open, FileAccess.Read, FileShare.ReadWrite, bufferSize: 0);
        var scanned = 0L;
        foreach (var line in File.ReadLines($"/proc/{pid}/maps"))
        {
            var fields = line.Split(' ', StringSplitOptions.RemoveEmptyEntries);
            if (!fields[1].StartsWith("rw", StringComparison.Ordinal))
            {
                continue;
            }

            var bounds = fields[0].Split('-');
            var start = long.Parse(bounds[0], NumberStyles.HexNumber, CultureInfo.InvariantCulture);
            var end = long.Parse(bounds[1], NumberStyles.HexNumber, CultureInfo.InvariantCulture);
            for (var at = start; at < end; at += ChunkSize)
            {
                var length = (int)Math.Min(buffer.Length, end - at);
                try
                {
                    memory.Seek(at, SeekOrigin.Begin);
                    memory.ReadExactly(buffer, 0, length);
                }
                catch (IOException)
                {
                    break;
                }

                scanned += length;
                foreach (var (name, pattern) in patterns)
                {
                    var chunk = buffer.AsSpan(0, length);
                    for (var offset = chunk.IndexOf(pattern); offset >= 0; offset = NextIndex(chunk, pattern, offset))
                    {
                        // A match in the overlap is found again at the start of the next chunk.
                        if (offset < ChunkSize)
                        {
                            found.Add($"{name} at 0x{at + offset:x}");
                        }
                    }
                }
            }
        }

        Assert.True(scanned > 1 << 20, $"only {scanned} bytes of trousseaud's memory could be read");
        return found;
    }

    private static int NextIndex(ReadOnlySpan<byte> chunk, byte[] pattern, int previous)
    {
        var next = chunk[(previous + 1)..].IndexOf(pattern);
        return next < 0 ? -1 : previous + 1 + next;
    }

    [GeneratedRegex("\"key\": \"([^\"]*)\"")]
    private static partial Regex KeyFields();
}
