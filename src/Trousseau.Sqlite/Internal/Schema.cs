namespace Trousseau.Sqlite.Internal;

/// <summary>
/// The database schema, created on first use and brought up to <see cref="Version"/> (kept in <c>user_version</c>)
/// when a store opens a file an older build made.
/// </summary>
internal static class Schema
{
    /// <summary>The schema version this build writes.</summary>
    public const int Version = 2;

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
        """;

    /// <summary>
    /// Version 2: <c>secret_heads</c> holds each record's first bytes beside its key and revision, so that a listing
    /// reads this small table and never the records. Triggers keep it in step with <c>secrets</c> on every write,
    /// whichever build makes the write; it is filled from the records already there. Runs in one transaction, and
    /// runs again harmlessly if an older build has set <c>user_version</c> back.
    /// </summary>
    public static readonly string AddHeads = $"""
        CREATE TABLE IF NOT EXISTS secret_heads (
            key TEXT PRIMARY KEY NOT NULL,
            head BLOB NOT NULL,
            revision INTEGER NOT NULL
        ) WITHOUT ROWID;
        CREATE TRIGGER IF NOT EXISTS secret_heads_insert AFTER INSERT ON secrets BEGIN
            INSERT OR REPLACE INTO secret_heads (key, head, revision) VALUES (NEW.key, substr(NEW.value, 1, {StoreEntryHead.MaxLength}), NEW.revision);
        END;
        CREATE TRIGGER IF NOT EXISTS secret_heads_update AFTER UPDATE ON secrets BEGIN
            INSERT OR REPLACE INTO secret_heads (key, head, revision) VALUES (NEW.key, substr(NEW.value, 1, {StoreEntryHead.MaxLength}), NEW.revision);
        END;
        CREATE TRIGGER IF NOT EXISTS secret_heads_delete AFTER DELETE ON secrets BEGIN
            DELETE FROM secret_heads WHERE key = OLD.key;
        END;
        INSERT OR REPLACE INTO secret_heads (key, head, revision) SELECT key, substr(value, 1, {StoreEntryHead.MaxLength}), revision FROM secrets;
        PRAGMA user_version = {Version};
        """;
}
