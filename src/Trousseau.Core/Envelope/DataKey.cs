using System.Security.Cryptography;

namespace Trousseau.Envelope;

/// <summary>
/// One plaintext data key (DEK) of one purpose, its wrapped form and its envelope header. The key bytes live in a pinned array
/// that is zeroed when the last reference is released: the cache holds one, the encryptor one for its current key,
/// and every encryption or decryption one while it runs, so evicting a key never pulls it from under a reader.
/// <see cref="AesGcm"/> instances are pooled per key because one instance must not be used by two threads at once.
/// </summary>
internal sealed class DataKey
{
    private const int PoolSize = 4;

    private readonly byte[] _key;
    private readonly AesGcm?[] _pool = new AesGcm?[PoolSize];
    private long _uses;
    private int _references = 1;

    /// <summary>
    /// Takes a copy of <paramref name="plaintextKey"/> (the caller zeroes its own copy) and gives the caller the
    /// first reference, to be given back with <see cref="Release"/>.
    /// </summary>
    public DataKey(EnvelopePurpose purpose, ReadOnlySpan<byte> plaintextKey, WrappedKey wrapped, string provider, long createdAt)
    {
        if (plaintextKey.Length != EnvelopeFormat.KeySize)
        {
            throw EnvelopeFormat.Invalid("the unwrapped data key has the wrong length");
        }

        _key = GC.AllocateUninitializedArray<byte>(EnvelopeFormat.KeySize, pinned: true);
        plaintextKey.CopyTo(_key);
        Purpose = purpose;
        Wrapped = wrapped.Ciphertext.ToArray();
        Provider = provider;
        KeyId = wrapped.KeyId;
        KeyVersion = wrapped.KeyVersion;
        CreatedAt = createdAt;
        LastUsed = createdAt;
        HeaderPrefix = purpose == EnvelopePurpose.Unlabelled ? [] : EnvelopeFormat.BuildPrefix(purpose, provider, KeyId, KeyVersion, Wrapped);
    }

    /// <summary>The purpose whose label the provider unwrapped with this key; <see cref="EnvelopePurpose.Unlabelled"/> for a format 1 key.</summary>
    public EnvelopePurpose Purpose { get; }

    public byte[] Wrapped { get; }

    public string Provider { get; }

    public string KeyId { get; }

    public uint KeyVersion { get; }

    /// <summary>The envelope bytes before the nonce, the same for every record this key encrypts; empty for a format 1 key, which encrypts nothing.</summary>
    public byte[] HeaderPrefix { get; }

    /// <summary>When the key was made or unwrapped, as a <see cref="TimeProvider"/> timestamp.</summary>
    public long CreatedAt { get; }

    public long LastUsed { get; set; }

    /// <summary>Counts one more encryption under this key and returns the new count.</summary>
    public long CountUse() => Interlocked.Increment(ref _uses);

    /// <summary>Takes one more reference, unless the key was already zeroed; a reference keeps the key usable.</summary>
    public bool TryAcquire()
    {
        var references = Volatile.Read(ref _references);
        while (references > 0)
        {
            var seen = Interlocked.CompareExchange(ref _references, references + 1, references);
            if (seen == references)
            {
                return true;
            }

            references = seen;
        }

        return false;
    }

    /// <summary>Gives back a reference; the last one zeroes the key.</summary>
    public void Release()
    {
        if (Interlocked.Decrement(ref _references) != 0)
        {
            return;
        }

        CryptographicOperations.ZeroMemory(_key);
        for (var i = 0; i < _pool.Length; i++)
        {
            Interlocked.Exchange(ref _pool[i], null)?.Dispose();
        }
    }

    /// <summary>Takes an <see cref="AesGcm"/> for this key; the caller holds a reference until it gives it back.</summary>
    public AesGcm Rent()
    {
        for (var i = 0; i < _pool.Length; i++)
        {
            var instance = Interlocked.Exchange(ref _pool[i], null);
            if (instance is not null)
            {
                return instance;
            }
        }

        return new AesGcm(_key, EnvelopeFormat.TagSize);
    }

    /// <summary>Gives back an instance from <see cref="Rent"/>, before the caller releases its reference.</summary>
    public void Return(AesGcm instance)
    {
        for (var i = 0; i < _pool.Length; i++)
        {
            if (Interlocked.CompareExchange(ref _pool[i], instance, null) is null)
            {
                return;
            }
        }

        instance.Dispose();
    }
}
