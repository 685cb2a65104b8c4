using System.Buffers;
using System.Security.Cryptography;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using Trousseau.Internal;

namespace Trousseau.Envelope;

/// <summary>
/// Envelope encryption: AES-256-GCM under a data key that the key provider wraps once, the header and the caller's
/// context authenticated as associated data. A warm cache makes encrypt and decrypt synchronous, with no
/// key-provider call and one allocation (the output). Every operation holds a reference on the data key it uses, so
/// cache pressure or a rotation never zeroes a key under it.
/// </summary>
internal sealed class EnvelopeEncryptor : IDisposable
{
    private const int StackAadLimit = 1024;
    private static readonly KeyValuePair<string, object?> EncryptTag = new(TrousseauTelemetry.Operation, "encrypt");
    private static readonly KeyValuePair<string, object?> DecryptTag = new(TrousseauTelemetry.Operation, "decrypt");

    private readonly IKeyProvider _provider;
    private readonly DataKeyOptions _options;
    private readonly TimeProvider _time;
    private readonly TrousseauInstrumentation _instrumentation;
    private readonly ILogger _logger;
    private readonly DataKeyCache _cache;
    private readonly SemaphoreSlim _newKeyLock = new(1, 1);
    private DataKey? _current;

    public EnvelopeEncryptor(IKeyProvider provider, IOptions<TrousseauOptions> options, TimeProvider time, TrousseauInstrumentation instrumentation, ILogger<EnvelopeEncryptor>? logger = null)
    {
        _provider = provider;
        _options = options.Value.DataKeys;
        _time = time;
        _instrumentation = instrumentation;
        _logger = logger ?? NullLogger<EnvelopeEncryptor>.Instance;
        _cache = new DataKeyCache(_options.CacheSize, _options.CacheTimeToLive, time);
    }

    /// <summary>Number of unwrapped data keys held now.</summary>
    public int CachedKeyCount => _cache.Count;

    public ValueTask<EncryptResult> EncryptAsync(ReadOnlyMemory<byte> plaintext, ReadOnlyMemory<byte> context, CancellationToken cancellationToken)
    {
        var key = Volatile.Read(ref _current);
        if (key is not null && key.TryAcquire())
        {
            try
            {
                if (IsFresh(key))
                {
                    _instrumentation.DataKeyCacheHits.Add(1, EncryptTag);
                    return new ValueTask<EncryptResult>(Encrypt(key, plaintext.Span, context.Span));
                }
            }
            finally
            {
                key.Release();
            }
        }

        _instrumentation.DataKeyCacheMisses.Add(1, EncryptTag);
        return EncryptWithNewKeyAsync(plaintext, context, cancellationToken);
    }

    public ValueTask<byte[]> DecryptAsync(ReadOnlyMemory<byte> envelope, ReadOnlyMemory<byte> context, CancellationToken cancellationToken)
    {
        var layout = EnvelopeFormat.Parse(envelope.Span);
        if (_cache.TryLease(envelope.Span[layout.Wrapped], out var key))
        {
            try
            {
                var plaintext = Decrypt(key, envelope.Span, layout, context.Span);
                _instrumentation.DataKeyCacheHits.Add(1, DecryptTag);
                return new ValueTask<byte[]>(plaintext);
            }
            finally
            {
                key.Release();
            }
        }

        _instrumentation.DataKeyCacheMisses.Add(1, DecryptTag);
        return DecryptWithUnwrapAsync(envelope, layout, context, cancellationToken);
    }

    /// <summary>Stops encrypting under the current data key, so that the next write wraps a new one (after a rotation).</summary>
    public void RetireCurrentKey() => Interlocked.Exchange(ref _current, null)?.Release();

    /// <summary>Retires the current data key if another key than <paramref name="keyId"/> wrapped it (a rotation made elsewhere).</summary>
    public void RetireUnlessWrappedBy(string keyId)
    {
        var current = Volatile.Read(ref _current);
        if (current is not null && current.KeyId != keyId && Interlocked.CompareExchange(ref _current, null, current) == current)
        {
            current.Release();
        }
    }

    public void Dispose()
    {
        RetireCurrentKey();
        _cache.Dispose();
        _newKeyLock.Dispose();
    }

    private bool IsFresh(DataKey key) =>
        key.CountUse() <= _options.MaxUses
        && _time.GetElapsedTime(key.CreatedAt) < _options.MaxAge;

    private async ValueTask<EncryptResult> EncryptWithNewKeyAsync(ReadOnlyMemory<byte> plaintext, ReadOnlyMemory<byte> context, CancellationToken cancellationToken)
    {
        var key = await GetFreshKeyAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            return Encrypt(key, plaintext.Span, context.Span);
        }
        finally
        {
            key.Release();
        }
    }

    /// <summary>The current data key, or a new one made current; the caller holds a reference on it and releases it.</summary>
    private async ValueTask<DataKey> GetFreshKeyAsync(CancellationToken cancellationToken)
    {
        await _newKeyLock.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            var current = Volatile.Read(ref _current);
            if (current is not null && current.TryAcquire())
            {
                if (IsFresh(current))
                {
                    return current;
                }

                current.Release();
            }

            var plaintextKey = GC.AllocateUninitializedArray<byte>(EnvelopeFormat.KeySize, pinned: true);
            try
            {
                RandomNumberGenerator.Fill(plaintextKey);
                WrappedKey wrapped;
                using (var span = _instrumentation.StartKeyProvider("wrap", _provider.Name))
                {
                    wrapped = await TrousseauTelemetry.ObserveAsync(span, _provider.WrapAsync(plaintextKey, cancellationToken)).ConfigureAwait(false);
                }

                var fresh = new DataKey(plaintextKey, wrapped, _provider.Name, _time.GetTimestamp());
                var key = _cache.AddLeased(fresh, keep: fresh);

                // The encryptor's own reference on its current key, given back when the key is retired or replaced.
                key.TryAcquire();
                Interlocked.Exchange(ref _current, key)?.Release();
                Log.DataKeyCreated(_logger, _provider.Name, wrapped.KeyId, wrapped.KeyVersion);
                return key;
            }
            finally
            {
                CryptographicOperations.ZeroMemory(plaintextKey);
            }
        }
        finally
        {
            _newKeyLock.Release();
        }
    }

    private async ValueTask<byte[]> DecryptWithUnwrapAsync(ReadOnlyMemory<byte> envelope, EnvelopeLayout layout, ReadOnlyMemory<byte> context, CancellationToken cancellationToken)
    {
        var provider = envelope.Span[layout.Provider];
        if (!provider.SequenceEqual(System.Text.Encoding.ASCII.GetBytes(_provider.Name)))
        {
            throw EnvelopeFormat.Invalid($"it was written by another key provider than '{_provider.Name}'");
        }

        string keyId;
        try
        {
            keyId = StrictUtf8.GetString(envelope.Span[layout.KeyId]);
        }
        catch (System.Text.DecoderFallbackException ex)
        {
            throw new InvalidCiphertextException("The ciphertext cannot be decrypted: its key id is not valid UTF-8.", ex);
        }

        var wrapped = new WrappedKey(keyId, layout.KeyVersion, envelope[layout.Wrapped].ToArray());
        byte[] plaintextKey;
        using (var span = _instrumentation.StartKeyProvider("unwrap", _provider.Name))
        {
            plaintextKey = await TrousseauTelemetry.ObserveAsync(span, _provider.UnwrapAsync(wrapped, cancellationToken)).ConfigureAwait(false);
        }

        DataKey key;
        try
        {
            key = _cache.AddLeased(new DataKey(plaintextKey, wrapped, _provider.Name, _time.GetTimestamp()), keep: Volatile.Read(ref _current));
        }
        finally
        {
            CryptographicOperations.ZeroMemory(plaintextKey);
        }

        try
        {
            return Decrypt(key, envelope.Span, layout, context.Span);
        }
        finally
        {
            key.Release();
        }
    }

    /// <summary>Encrypts under <paramref name="key"/>, on which the caller holds a reference.</summary>
    private static EncryptResult Encrypt(DataKey key, ReadOnlySpan<byte> plaintext, ReadOnlySpan<byte> context)
    {
        var aes = key.Rent();
        try
        {
            var prefix = key.HeaderPrefix;
            var headerLength = prefix.Length + EnvelopeFormat.NonceSize;
            var output = GC.AllocateUninitializedArray<byte>(headerLength + plaintext.Length + EnvelopeFormat.TagSize);
            var span = output.AsSpan();
            prefix.CopyTo(span);
            var nonce = span.Slice(prefix.Length, EnvelopeFormat.NonceSize);
            RandomNumberGenerator.Fill(nonce);
            var ciphertext = span.Slice(headerLength, plaintext.Length);
            var tag = span.Slice(headerLength + plaintext.Length, EnvelopeFormat.TagSize);

            byte[]? rented = null;
            var aad = context.IsEmpty ? span[..headerLength] : Concat(span[..headerLength], context, stackalloc byte[StackAadLimit], ref rented);
            try
            {
                aes.Encrypt(nonce, plaintext, ciphertext, tag, aad);
            }
            finally
            {
                if (rented is not null)
                {
                    ArrayPool<byte>.Shared.Return(rented);
                }
            }

            return new EncryptResult(output, key.Provider, key.KeyId, key.KeyVersion);
        }
        finally
        {
            key.Return(aes);
        }
    }

    /// <summary>Decrypts with <paramref name="key"/>, on which the caller holds a reference.</summary>
    private static byte[] Decrypt(DataKey key, ReadOnlySpan<byte> envelope, EnvelopeLayout layout, ReadOnlySpan<byte> context)
    {
        var aes = key.Rent();
        try
        {
            var headerLength = layout.HeaderLength;
            var nonce = envelope.Slice(layout.NonceOffset, EnvelopeFormat.NonceSize);
            var ciphertext = envelope[headerLength..^EnvelopeFormat.TagSize];
            var tag = envelope[^EnvelopeFormat.TagSize..];
            var plaintext = GC.AllocateUninitializedArray<byte>(ciphertext.Length);

            byte[]? rented = null;
            var aad = context.IsEmpty ? envelope[..headerLength] : Concat(envelope[..headerLength], context, stackalloc byte[StackAadLimit], ref rented);
            try
            {
                aes.Decrypt(nonce, ciphertext, tag, plaintext, aad);
            }
            catch (AuthenticationTagMismatchException ex)
            {
                CryptographicOperations.ZeroMemory(plaintext);
                throw new InvalidCiphertextException(
                    "The ciphertext cannot be decrypted: authentication failed (it was modified, or its context or name differs).",
                    ex);
            }
            finally
            {
                if (rented is not null)
                {
                    ArrayPool<byte>.Shared.Return(rented);
                }
            }

            return plaintext;
        }
        finally
        {
            key.Return(aes);
        }
    }

    private static ReadOnlySpan<byte> Concat(ReadOnlySpan<byte> first, ReadOnlySpan<byte> second, Span<byte> stack, ref byte[]? rented)
    {
        var length = first.Length + second.Length;
        var buffer = length <= stack.Length ? stack : (rented = ArrayPool<byte>.Shared.Rent(length));
        first.CopyTo(buffer);
        second.CopyTo(buffer[first.Length..]);
        return buffer[..length];
    }

    private static readonly System.Text.UTF8Encoding StrictUtf8 = new(encoderShouldEmitUTF8Identifier: false, throwOnInvalidBytes: true);
}
