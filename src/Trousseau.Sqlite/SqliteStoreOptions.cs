namespace Trousseau.Sqlite;

/// <summary>Options of the SQLite store, under <c>Trousseau:Sqlite</c>.</summary>
public sealed class SqliteStoreOptions
{
    /// <summary>The database file; created, with its directory (mode 0700), when absent. Required.</summary>
    [RequiredSetting(ErrorMessage = "Trousseau:Sqlite:Path is {0}; it must be the path of the SQLite database file (for example /var/lib/trousseau/store.db).")]
    public string? Path { get; set; }

    /// <summary>
    /// How long a write waits for the database, whether another process holds its lock or this store's earlier writes
    /// are ahead in line, before it fails as unavailable. Default 5 seconds.
    /// </summary>
    [SettingRange("00:00:00", "00:10:00", MinimumIsExclusive = true, ErrorMessage = "Trousseau:Sqlite:BusyTimeout is {0}; it must be above 00:00:00 and at most 00:10:00.")]
    public TimeSpan BusyTimeout { get; set; } = TimeSpan.FromSeconds(5);
}
