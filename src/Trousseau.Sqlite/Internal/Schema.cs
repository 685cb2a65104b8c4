namespace Trousseau.Sqlite.Internal;

/// <summary>The database schema, created on first use. <c>user_version</c> records its version.</summary>
internal static class Schema
{
    public const string Create = """
        PRAGMA journal_mode = WAL;
        CREATE TABLE IF NOT EXISTS secrets (
            key TEXT PRIMARY KEY NOT NULL,
            value BLOB NOT NULL,
            revision INTEGER NOT NULL
        ) WITHOUT ROWID;
        CREATE TABLE IF NOT EXISTS revision_counter (
            id INTEGER PRIMARY KEY CHECK (id = 1),
            value INTEGER NOT NULL
        );
        INSERT OR IGNORE INTO revision_counter (id, value) VALUES (1, 0);
        PRAGMA user_version = 1;
        """;
}
