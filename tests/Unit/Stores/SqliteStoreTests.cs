using Microsoft.Extensions.Options;
using Trousseau.Sqlite;
using Trousseau.Tests.StoreContract;
using Trousseau.Tests.Unit.Support;

namespace Trousseau.Tests.Unit.Stores;

public sealed class SqliteStoreTests : SecretStoreContract, IDisposable
{
    private readonly TempDirectory _directory = new();
    private readonly List<SqliteSecretStore> _opened = [];

    private string DatabasePath => _directory.Combine("data", "secrets.db");

    public void Dispose()
    {
        foreach (var store in _opened)
        {
            store.Dispose();
        }

        _directory.Dispose();
    }

    protected override ISecretStore OpenStore() => Open(DatabasePath);

    [Fact]
    public async Task Records_and_revisions_survive_reopening_the_file()
    {
        var store = Open(DatabasePath);
        var created = await store.CreateAsync("kept", "v1"u8.ToArray());
        var updated = await store.UpdateAsync("kept", "v2"u8.ToArray(), created);
        await store.CreateAsync("gone", "x"u8.ToArray());
        await store.DeleteAsync("gone");
        store.Dispose();

        var reopened = Open(DatabasePath);
        var entry = await reopened.GetAsync("kept");
        var next = await reopened.CreateAsync("later", "y"u8.ToArray());

        Assert.Equal(("v2", updated), (System.Text.Encoding.UTF8.GetString(entry!.Value.Span), entry.Revision));
        Assert.Null(await reopened.GetAsync("gone"));
        Assert.True(next > updated + 1, "a revision used before the reopen came back");
    }

    [Fact]
    public async Task The_database_uses_write_ahead_logging()
    {
        var store = Open(DatabasePath);
        await store.CreateAsync("one", "v"u8.ToArray());

        using var connection = new Microsoft.Data.Sqlite.SqliteConnection($"Data Source={DatabasePath};Mode=ReadOnly");
        connection.Open();
        using var command = connection.CreateCommand();
        command.CommandText = "PRAGMA journal_mode";

        Assert.Equal("wal", (string)command.ExecuteScalar()!);
    }

    [Fact]
    public async Task A_second_store_on_the_same_file_is_refused_as_unavailable_until_the_first_closes()
    {
        var first = Open(DatabasePath);
        await first.CreateAsync("owned", "v"u8.ToArray());
        var second = Open(DatabasePath);

        var error = await Assert.ThrowsAsync<DependencyUnavailableException>(async () => await second.GetAsync("owned"));
        Assert.Contains(DatabasePath, error.Message, StringComparison.Ordinal);

        first.Dispose();
        Assert.Equal("v"u8.ToArray(), (await second.GetAsync("owned"))!.Value.ToArray());
    }

    [Fact]
    public async Task A_file_that_is_not_a_database_is_reported_unavailable()
    {
        Directory.CreateDirectory(Path.GetDirectoryName(DatabasePath)!);
        await File.WriteAllTextAsync(DatabasePath, "this is not a database, just text that is long enough to have a header");
        var store = Open(DatabasePath);

        await Assert.ThrowsAsync<DependencyUnavailableException>(async () => await store.GetAsync("any"));
        Assert.False((await store.CheckHealthAsync()).IsHealthy);
    }

    private SqliteSecretStore Open(string path)
    {
        var store = new SqliteSecretStore(Options.Create(new SqliteStoreOptions { Path = path }));
        _opened.Add(store);
        return store;
    }
}
