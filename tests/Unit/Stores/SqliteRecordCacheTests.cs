using System.Security.Cryptography;
using Microsoft.Extensions.Options;
using Trousseau.Sqlite;
using Trousseau.Tests.Integration.Infrastructure;

namespace Trousseau.Tests.Unit.Stores;

/// <summary>
/// The SQLite store answers reads from an in-memory copy of the records it has read or written. That copy must stay
/// bounded in bytes, not only in records: the worker's pass at start reads every record, so a store of large secrets
/// would otherwise sit whole in trousseaud's memory.
/// </summary>
public sealed class SqliteRecordCacheTests : IDisposable
{
    private const int RecordBytes = 64 * 1024;
    private const int Records = 1_100;
    private const long MaxHeldBytes = 64L * 1024 * 1024;

    private readonly TempDirectory _directory = new();

    public void Dispose() => _directory.Dispose();

    [Fact]
    public async Task Records_of_64_KiB_written_and_read_again_after_a_reopen_are_held_in_memory_up_to_64_MiB_and_all_read_back()
    {
        var path = _directory.Combine("data", "store.db");
        var values = new Dictionary<string, byte[]>(StringComparer.Ordinal);
        using (var writer = Open(path))
        {
            for (var i = 0; i < Records; i++)
            {
                var value = RandomNumberGenerator.GetBytes(RecordBytes);
                values[$"big/{i:D4}"] = value;
                await writer.CreateAsync($"big/{i:D4}", value);
            }

            AssertBounded(writer.CachedRecords);
        }

        using var reader = Open(path);
        foreach (var (key, value) in values)
        {
            var entry = await reader.GetAsync(key);
            Assert.True(entry is not null && entry.Value.Span.SequenceEqual(value), $"{key} did not read back as written");
        }

        AssertBounded(reader.CachedRecords);
    }

    private static void AssertBounded((int Records, long Bytes) held) =>
        Assert.True(held.Bytes <= MaxHeldBytes, $"the store holds {held.Records} records of {held.Bytes} bytes in memory, more than {MaxHeldBytes}");

    private static SqliteSecretStore Open(string path) => new(Options.Create(new SqliteStoreOptions { Path = path }));
}
