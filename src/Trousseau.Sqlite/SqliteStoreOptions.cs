namespace Trousseau.Sqlite;

/// <summary>Options of the SQLite store, under <c>Trousseau:Sqlite</c>.</summary>
public sealed class SqliteStoreOptions
{
    /// <summary>The database file; created, with its directory (mode 0700), when absent. Required.</summary>
    public string? Path { get; set; }

    /// <summary>How long a write waits for another process holding the database lock. Default 5 seconds.</summary>
    public TimeSpan BusyTimeout { get; set; } = TimeSpan.FromSeconds(5);
}
