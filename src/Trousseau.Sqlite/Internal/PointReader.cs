using Microsoft.Data.Sqlite;

namespace Trousseau.Sqlite.Internal;

/// <summary>
/// An open connection with the single-record SELECT prepared once, so that a read costs one statement step: no
/// connection open, no SQL compile. Not thread-safe; <see cref="PointReaderPool"/> hands each to one caller at a time.
/// </summary>
internal sealed class PointReader : IDisposable
{
    private readonly SqliteConnection _connection;
    private readonly SqliteCommand _command;
    private readonly SqliteParameter _key;

    public PointReader(string connectionString)
    {
        _connection = new SqliteConnection(connectionString);
        try
        {
            _connection.Open();
            _command = _connection.CreateCommand();
            _command.CommandText = "SELECT value, revision FROM secrets WHERE key = $key";
            _key = _command.Parameters.Add("$key", SqliteType.Text);
            _command.Prepare();
        }
        catch
        {
            _connection.Dispose();
            throw;
        }
    }

    public StoreEntry? Read(string key)
    {
        _key.Value = key;
        using var reader = _command.ExecuteReader();
        return reader.Read() ? new StoreEntry(key, reader.GetFieldValue<byte[]>(0), reader.GetInt64(1)) : null;
    }

    public void Dispose()
    {
        _command.Dispose();
        _connection.Dispose();
    }
}
