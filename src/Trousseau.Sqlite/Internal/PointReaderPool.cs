using System.Collections.Concurrent;

namespace Trousseau.Sqlite.Internal;

/// <summary>A bounded pool of <see cref="PointReader"/>s; readers beyond the bound are closed when returned.</summary>
internal sealed class PointReaderPool(string connectionString, int maxIdle) : IDisposable
{
    private readonly ConcurrentQueue<PointReader> _idle = new();
    private int _idleCount;
    private bool _disposed;

    public PointReader Rent()
    {
        if (_idle.TryDequeue(out var reader))
        {
            Interlocked.Decrement(ref _idleCount);
            return reader;
        }

        return new PointReader(connectionString);
    }

    public void Return(PointReader reader)
    {
        if (Volatile.Read(ref _disposed) || Interlocked.Increment(ref _idleCount) > maxIdle)
        {
            if (!Volatile.Read(ref _disposed))
            {
                Interlocked.Decrement(ref _idleCount);
            }

            reader.Dispose();
            return;
        }

        _idle.Enqueue(reader);
    }

    /// <summary>Closes the idle readers; the pool stays usable, and opens new ones as they are asked for.</summary>
    public void Clear()
    {
        while (_idle.TryDequeue(out var reader))
        {
            Interlocked.Decrement(ref _idleCount);
            reader.Dispose();
        }
    }

    public void Dispose()
    {
        Volatile.Write(ref _disposed, true);
        Clear();
    }
}
