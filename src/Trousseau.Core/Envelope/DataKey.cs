using System.Security.Cryptography;

namespace Trousseau.Envelope;

/// <summary>
/// One plaintext data key (DEK), its wrapped form and its envelope header. The key bytes live in a pinned array
/// that is zeroed on <see cref="Dispose"/>; <see cref="AesGcm"/> instances are pooled per key because one instance
/// must not be used by two threads at once.
/// </summary>
internal sealed class DataKey : IDisposable
{
    private const int PoolSize = 4;

    private readonly byte[] _key;
    private readonly AesGcm?[] _pool = new AesGcm?[PoolSize];
    private readonly Lock _lock = new();
    private long _uses;
    private bool _disposed;

    /// <summary>Takes ownership of a copy of <paramref name="plaintextKey"/>; the caller zeroes its own copy.</summary>
    public DataKey(ReadOnlySpan<byte> plaintextKey, WrappedKey wrapped, string provider, long createdAt)
    {
        if (plaintextKey.Length != EnvelopeFormat.KeySize)
        {
            throw EnvelopeFormat.Invalid("the unwrapped data key has the wrong length");
        }

        _key = GC.AllocateUninitializedArray<byte>(EnvelopeFormat.KeySize, pinned: true);
        plaintextKey.CopyTo(_key);
        Wrapped = wrapped.Ciphertext.ToArray();
        Provider = provider;
        KeyId = wrapped.KeyId;
        KeyVersion = wrapped.KeyVersion;
        CreatedAt = createdAt;
        LastUsed = createdAt;
        HeaderPrefix = EnvelopeFormat.BuildPrefix(provider, KeyId, KeyVersion, Wrapped);
    }

    public byte[] Wrapped { get; }

    public string Provider { get; }

    public string KeyId { get; }

    public uint KeyVersion { get; }

    /// <summary>The envelope bytes before the nonce, the same for every record this key encrypts.</summary>
    public byte[] HeaderPrefix { get; }

    /// <summary>When the key was made or unwrapped, as a <see cref="TimeProvider"/> timestamp.</summary>
    public long CreatedAt { get; }

    public long LastUsed { get; set; }

    public bool IsDisposed => Volatile.Read(ref _disposed);

    /// <summary>Counts one more encryption under this key and returns the new count.</summary>
    public long CountUse() => Interlocked.Increment(ref _uses);

    /// <summary>Takes an <see cref="AesGcm"/> for this key, or <see langword="null"/> once the key is disposed.</summary>
    public AesGcm? Rent()
    {
        for (var i = 0; i < _pool.Length; i++)
        {
            var instance = Interlocked.Exchange(ref _pool[i], null);
            if (instance is not null)
            {
                return instance;
            }
        }

        lock (_lock)
        {
            return _disposed ? null : new AesGcm(_key, EnvelopeFormat.TagSize);
        }
    }

    /// <summary>Gives back an instance from <see cref="Rent"/>.</summary>
    public void Return(AesGcm instance)
    {
        if (!IsDisposed)
        {
            for (var i = 0; i < _pool.Length; i++)
            {
                if (Interlocked.CompareExchange(ref _pool[i], instance, null) is null)
                {
                    // Dispose may have emptied the pool meanwhile: take it back out if so.
                    if (IsDisposed && Interlocked.CompareExchange(ref _pool[i], null, instance) == instance)
                    {
                        instance.Dispose();
                    }

                    return;
                }
            }
        }

        instance.Dispose();
    }

    public void Dispose()
    {
        lock (_lock)
        {
            if (_disposed)
            {
                return;
            }

            Volatile.Write(ref _disposed, true);
            CryptographicOperations.ZeroMemory(_key);
        }

        for (var i = 0; i < _pool.Length; i++)
        {
            Interlocked.Exchange(ref _pool[i], null)?.Dispose();
        }
    }
}
