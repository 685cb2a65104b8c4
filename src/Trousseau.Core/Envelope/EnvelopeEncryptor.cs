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
/// <remarks>
/// Each <see cref="EnvelopePurpose"/> has data keys of its own: the provider wraps each one behind its purpose's
/// label, and the envelope header names the purpose. An envelope opens only for the purpose it names, with a data key
/// that unwraps to that purpose's label; a format 1 envelope, which names none, opens where
/// <see cref="EnvelopePurposes.OpensUnlabelled"/> allows.
/// </remarks>
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
    private readonly ITimer _ageCheck;
    private readonly IDisposable? _keyLoss;

    // The wrap of a new data key under way for each purpose, by purpose, which every call needing one waits for.
    private readonly SharedCall<DataKey>?[] _making = new SharedCall<DataKey>?[EnvelopePurposes.Count];
    private readonly Lock _makingLock = new();

    // The unwrap of a data key under way for each envelope's wrapped key, which every read needing that key waits for.
    private readonly Dictionary<UnwrapTarget, SharedCall<DataKey>> _unwrapping = [];
    private readonly Lock _unwrappingLock = new();

    // The data key each purpose encrypts under now, by purpose.
    private readonly DataKey?[] _current = new DataKey?[EnvelopePurposes.Count];

    // Orders retiring the current data keys against making a new one current, which a slow wrap may reach only after.
    private readonly Lock _retireLock = new();

    // The current key id this encryptor was last told of (RetireUnlessWrappedBy), and how many times it was told of
    // another one or had every data key retired: a wrap that spans one of those may be under the older key.
    private string? _knownKeyId;
    private long _keyChanges;
    private int _disposed;

    public EnvelopeEncryptor(IKeyProvider provider, IOptions<TrousseauOptions> options, TimeProvider time, TrousseauInstrumentation instrumentation, ILogger<EnvelopeEncryptor>? logger = null)
    {
        _provider = provider;
        _options = options.Value.DataKeys;
        _time = time;
        _instrumentation = instrumentation;
        _logger = logger ?? NullLogger<EnvelopeEncryptor>.Instance;
        _cache = new DataKeyCache(_options.CacheSize, _options.CacheTimeToLive, time);
        StoreWrites = new StoreWriteTracker(() => Interlocked.CompareExchange(ref _knownKeyId, null, null));
        var checkEvery = TimeSpan.FromTicks(Math.Clamp(_options.MaxAge.Ticks / 4, TimeSpan.TicksPerSecond, TimeSpan.TicksPerMinute));
        _ageCheck = time.CreateTimer(static state => ((EnvelopeEncryptor)state!).RetireAgedKeys(), this, checkEvery, checkEvery);
        _keyLoss = (provider as IKeyLossNotifier)?.OnKeyLost(DropEveryKey);
    }

    /// <summary>The writes of stored records under way, which a rewrap waits for (see <see cref="StoreWriteTracker"/>).</summary>
    public StoreWriteTracker StoreWrites { get; }

    /// <summary>Number of unwrapped data keys held now.</summary>
    public int CachedKeyCount => _cache.Count;

    public ValueTask<EncryptResult> EncryptAsync(EnvelopePurpose purpose, ReadOnlyMemory<byte> plaintext, ReadOnlyMemory<byte> context, CancellationToken cancellationToken)
    {
        ThrowIfDisposed();
        var key = Volatile.Read(ref _current[(int)purpose]);
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
        return EncryptWithNewKeyAsync(purpose, plaintext, context, cancellationToken);
    }

    public ValueTask<byte[]> DecryptAsync(EnvelopePurpose purpose, ReadOnlyMemory<byte> envelope, ReadOnlyMemory<byte> context, CancellationToken cancellationToken)
    {
        ThrowIfDisposed();
        var layout = EnvelopeFormat.Parse(envelope.Span);
        CheckPurpose(layout.Purpose, purpose, context.Span);
        if (_cache.TryLease(envelope.Span[layout.Wrapped], out var key))
        {
            try
            {
                CheckKeyPurpose(key, layout.Purpose);
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
        return DecryptWithUnwrapAsync(purpose, envelope, layout, context, cancellationToken);
    }

    /// <summary>
    /// Stops encrypting under the current data keys, so that the next write of each purpose wraps a new one; a data key
    /// whose wrap is still under way seals only the writes that waited for its wrap.
    /// </summary>
    public void RetireCurrentKey()
    {
        lock (_retireLock)
        {
            _knownKeyId = null;
            _keyChanges++;
            for (var i = 0; i < _current.Length; i++)
            {
                Interlocked.Exchange(ref _current[i], null)?.Release();
            }
        }
    }

    /// <summary>
    /// Retires every current data key and lets go of every cached one: the key provider found its key gone, so none of
    /// them may seal a new write (no restart could unwrap it again), and reads ask the provider, which says what is wrong.
    /// </summary>
    private void DropEveryKey()
    {
        RetireCurrentKey();
        _cache.RemoveAll();
    }

    /// <summary>
    /// Retires each current data key that another key than <paramref name="keyId"/>, the key provider's current key,
    /// wrapped (after a rotation, made here or elsewhere). A data key whose wrap is still under way stops sealing new
    /// writes as well: unless <paramref name="keyId"/> wrapped it, it seals only the writes that waited for its wrap.
    /// </summary>
    public void RetireUnlessWrappedBy(string keyId)
    {
        lock (_retireLock)
        {
            if (_knownKeyId != keyId)
            {
                _knownKeyId = keyId;
                _keyChanges++;
            }

            for (var i = 0; i < _current.Length; i++)
            {
                var current = Volatile.Read(ref _current[i]);
                if (current is not null && current.KeyId != keyId && Interlocked.CompareExchange(ref _current[i], null, current) == current)
                {
                    current.Release();
                }
            }
        }
    }

    /// <summary>
    /// Throws the <see cref="ObjectDisposedException"/> of a call made after the service provider that made this
    /// encryptor (and the <see cref="ITrousseau"/> and <see cref="IKeyAdministration"/> over it) was disposed.
    /// </summary>
    public void ThrowIfDisposed()
    {
        if (Volatile.Read(ref _disposed) != 0)
        {
            throw Disposed();
        }
    }

    private static ObjectDisposedException Disposed() => new(
        "Trousseau has been disposed: the service provider (host) that made it has stopped, and its key provider and store with it. Resolve ITrousseau from a running host.",
        innerException: null);

    /// <remarks>
    /// A call waiting for a data key when the provider stops takes the outcome of the wrap under way, which fails with
    /// <see cref="ThrowIfDisposed"/>'s exception once the key provider answers it, rather than wait forever.
    /// </remarks>
    public void Dispose()
    {
        Interlocked.Exchange(ref _disposed, 1);
        _ageCheck.Dispose();
        _keyLoss?.Dispose();
        RetireCurrentKey();
        _cache.Dispose();
    }

    /// <summary>
    /// Lets go of each current data key past <see cref="DataKeyOptions.MaxAge"/>, which seals nothing more: it is zeroed
    /// once the cache and its last reader let go of it too, not only when the next write replaces it.
    /// </summary>
    private void RetireAgedKeys()
    {
        lock (_retireLock)
        {
            for (var i = 0; i < _current.Length; i++)
            {
                var current = Volatile.Read(ref _current[i]);
                if (current is not null && _time.GetElapsedTime(current.CreatedAt) >= _options.MaxAge && Interlocked.CompareExchange(ref _current[i], null, current) == current)
                {
                    current.Release();
                }
            }
        }
    }

    private bool IsFresh(DataKey key) =>
        key.CountUse() <= _options.MaxUses
        && _time.GetElapsedTime(key.CreatedAt) < _options.MaxAge;

    /// <summary>Refuses an envelope that names another purpose, or a format 1 envelope this purpose must not open.</summary>
    private static void CheckPurpose(EnvelopePurpose named, EnvelopePurpose wanted, ReadOnlySpan<byte> context)
    {
        if (named == EnvelopePurpose.Unlabelled)
        {
            if (!EnvelopePurposes.OpensUnlabelled(wanted, context))
            {
                throw EnvelopeFormat.Invalid("it is a format 1 envelope whose context is that of a stored secret record or of the Data Protection key ring, which encrypt/decrypt never opens");
            }
        }
        else if (named != wanted)
        {
            throw EnvelopeFormat.Invalid($"it was made for {EnvelopePurposes.Describe(named)}, not for {EnvelopePurposes.Describe(wanted)}");
        }
    }

    /// <summary>Refuses a data key whose unwrapped label is not the purpose its envelope names.</summary>
    private static void CheckKeyPurpose(DataKey key, EnvelopePurpose named)
    {
        if (key.Purpose != named)
        {
            throw EnvelopeFormat.Invalid("its data key was wrapped for another purpose than the envelope names");
        }
    }

    private async ValueTask<EncryptResult> EncryptWithNewKeyAsync(EnvelopePurpose purpose, ReadOnlyMemory<byte> plaintext, ReadOnlyMemory<byte> context, CancellationToken cancellationToken)
    {
        var key = await GetFreshKeyAsync(purpose, cancellationToken).ConfigureAwait(false);
        try
        {
            return Encrypt(key, plaintext.Span, context.Span);
        }
        finally
        {
            key.Release();
        }
    }

    /// <summary>
    /// The purpose's current data key, or the one the wrap under way for it makes (a new wrap when none runs); the
    /// caller holds a reference on it and releases it. Every call that finds no current data key waits for the same
    /// wrap and takes its outcome, its failure too, so that a key provider that is down fails them all at once rather
    /// than one after another, each with a wrap of its own; a call that comes after a wrap failed starts the next one.
    /// </summary>
    private async ValueTask<DataKey> GetFreshKeyAsync(EnvelopePurpose purpose, CancellationToken cancellationToken)
    {
        cancellationToken.ThrowIfCancellationRequested();
        while (true)
        {
            SharedCall<DataKey> making;
            lock (_makingLock)
            {
                ThrowIfDisposed();
                var current = Volatile.Read(ref _current[(int)purpose]);
                if (current is not null && TryTake(current))
                {
                    return current;
                }

                if (_making[(int)purpose] is not { IsUnderWay: true } underWay)
                {
                    underWay = _making[(int)purpose] = new SharedCall<DataKey>(
                        _makingLock,
                        cancel => MakeKeyAsync(purpose, cancel),
                        ended => ForgetWrap(purpose, ended));
                }

                making = underWay;
                making.Join();
            }

            var made = await making.WaitAsync(cancellationToken).ConfigureAwait(false);

            // A data key made current is taken from there; one a rotation kept from being current seals only the
            // writes that waited for its wrap. A caller that finds it used up or let go meanwhile waits for another.
            if (TryTake(made))
            {
                return made;
            }
        }
    }

    /// <summary>Takes a wrap that has ended or was given up on out of <see cref="_making"/>, unless a newer one took its place (under <see cref="_makingLock"/>).</summary>
    private void ForgetWrap(EnvelopePurpose purpose, SharedCall<DataKey> ended)
    {
        if (_making[(int)purpose] == ended)
        {
            _making[(int)purpose] = null;
        }
    }

    /// <summary>Takes a reference on <paramref name="key"/> and counts a use of it, when it is still usable and fresh.</summary>
    private bool TryTake(DataKey key)
    {
        if (!key.TryAcquire())
        {
            return false;
        }

        if (IsFresh(key))
        {
            return true;
        }

        key.Release();
        return false;
    }

    /// <summary>
    /// Wraps a new data key for <paramref name="purpose"/> and makes it current, until <paramref name="cancellationToken"/>
    /// (every call waiting for it gave up); the key provider bounds its own calls (<c>Vault:Timeout</c>). The key is
    /// returned without a reference held for it (the cache holds one, and the encryptor another while it is current).
    /// </summary>
    private async Task<DataKey> MakeKeyAsync(EnvelopePurpose purpose, CancellationToken cancellationToken)
    {
        long keyChanges;
        lock (_retireLock)
        {
            keyChanges = _keyChanges;
        }

        var plaintextKey = GC.AllocateUninitializedArray<byte>(EnvelopeFormat.KeySize, pinned: true);
        byte[]? labelled = null;
        try
        {
            RandomNumberGenerator.Fill(plaintextKey);
            labelled = WrapPurpose.Label(EnvelopePurposes.WrapLabel(purpose), plaintextKey);
            WrappedKey wrapped;
            using (var span = _instrumentation.StartKeyProvider("wrap", _provider.Name))
            {
                wrapped = await TrousseauTelemetry.ObserveAsync(span, _provider.WrapAsync(labelled, cancellationToken)).ConfigureAwait(false);
            }

            var key = AddUnlessDisposed(new DataKey(purpose, plaintextKey, wrapped, _provider.Name, _time.GetTimestamp()), keepCurrent: null);
            MakeCurrent(purpose, key, keyChanges);
            Log.DataKeyCreated(_logger, _provider.Name, wrapped.KeyId, wrapped.KeyVersion);
            key.Release();
            return key;
        }
        finally
        {
            CryptographicOperations.ZeroMemory(plaintextKey);
            CryptographicOperations.ZeroMemory(labelled);
        }
    }

    /// <summary>
    /// Makes <paramref name="key"/> the purpose's current data key, unless the encryptor was told of another current
    /// key or had its keys retired since the wrap began (<paramref name="keyChanges"/>) and another key than the one it
    /// was told of wrapped it: such a key, under the version a rotation replaced, seals only the writes that waited for
    /// its wrap.
    /// </summary>
    private void MakeCurrent(EnvelopePurpose purpose, DataKey key, long keyChanges)
    {
        lock (_retireLock)
        {
            // Dispose retires the current keys under this lock: none is made current after it.
            if (Volatile.Read(ref _disposed) != 0 || (_keyChanges != keyChanges && key.KeyId != _knownKeyId))
            {
                return;
            }

            // The encryptor's own reference on its current key, given back when the key is retired or replaced.
            key.TryAcquire();
            Interlocked.Exchange(ref _current[(int)purpose], key)?.Release();
        }
    }

    /// <summary>
    /// Opens <paramref name="envelope"/>, for <paramref name="purpose"/>, with its data key unwrapped by the provider. When
    /// the provider refuses the key of a record Trousseau keeps (<see cref="EnvelopePurposes.IsKeptByTrousseau"/>), a
    /// local key ring is told, so that its health check reports a key of its own that it lacks.
    /// </summary>
    private async ValueTask<byte[]> DecryptWithUnwrapAsync(EnvelopePurpose purpose, ReadOnlyMemory<byte> envelope, EnvelopeLayout layout, ReadOnlyMemory<byte> context, CancellationToken cancellationToken)
    {
        var provider = envelope.Span[layout.Provider];
        if (!provider.SequenceEqual(System.Text.Encoding.ASCII.GetBytes(_provider.Name)))
        {
            // The provider id names the setup that wrote the envelope (local, vault, a KMS plugin's): no key material.
            var writer = Excerpt.Escaped(System.Text.Encoding.Latin1.GetString(provider), EnvelopeFormat.MaxProviderLength);
            throw EnvelopeFormat.Invalid($"it was written by another key provider than '{_provider.Name}' (by '{writer}')");
        }

        string keyId;
        try
        {
            keyId = StrictUtf8.GetString(envelope.Span[layout.KeyId]);
        }
        catch (System.Text.DecoderFallbackException ex)
        {
            throw EnvelopeFormat.Invalid("its key id is not valid UTF-8", ex);
        }

        var wrapped = new WrappedKey(keyId, layout.KeyVersion, envelope[layout.Wrapped].ToArray());
        DataKey key;
        try
        {
            key = await GetUnwrappedKeyAsync(layout.Purpose, wrapped, cancellationToken).ConfigureAwait(false);
        }
        catch (InvalidCiphertextException) when (EnvelopePurposes.IsKeptByTrousseau(purpose) && _provider is LocalKeyRingProvider ring)
        {
            ring.NoteLacking(wrapped);
            throw;
        }

        try
        {
            CheckKeyPurpose(key, layout.Purpose);
            return Decrypt(key, envelope.Span, layout, context.Span);
        }
        finally
        {
            key.Release();
        }
    }

    /// <summary>
    /// The data key of <paramref name="wrapped"/> from the cache, or the one the unwrap under way for it makes (a new
    /// unwrap when none runs); the caller holds a reference on it and releases it. Every call that needs the same
    /// uncached data key waits for the same unwrap and takes its outcome, its failure too, so that concurrent reads make
    /// one key-provider call rather than one each; a call that comes after an unwrap failed starts the next one.
    /// </summary>
    private async ValueTask<DataKey> GetUnwrappedKeyAsync(EnvelopePurpose purpose, WrappedKey wrapped, CancellationToken cancellationToken)
    {
        cancellationToken.ThrowIfCancellationRequested();
        var target = new UnwrapTarget(purpose, wrapped.KeyId, wrapped.KeyVersion, Convert.ToBase64String(wrapped.Ciphertext.Span));
        while (true)
        {
            SharedCall<DataKey> unwrapping;
            lock (_unwrappingLock)
            {
                if (_cache.TryLease(wrapped.Ciphertext.Span, out var cached))
                {
                    return cached;
                }

                if (!_unwrapping.TryGetValue(target, out var underWay) || !underWay.IsUnderWay)
                {
                    // Once ended, the unwrap leaves the table (the cache holds its key).
                    underWay = _unwrapping[target] = new SharedCall<DataKey>(
                        _unwrappingLock,
                        cancel => UnwrapKeyAsync(purpose, wrapped, cancel),
                        ended => ForgetUnwrap(target, ended),
                        letGo: static key => key.Release());
                }

                unwrapping = underWay;
                unwrapping.Join();
            }

            var unwrapped = await unwrapping.WaitAsync(cancellationToken).ConfigureAwait(false);

            // The unwrap holds a reference on its key until its last waiter has left, so cache pressure never zeroes the
            // key before each waiter has taken one; a key found let go all the same is unwrapped anew.
            var taken = unwrapped.TryAcquire();
            unwrapping.Leave();
            if (taken)
            {
                return unwrapped;
            }
        }
    }

    /// <summary>Takes an unwrap that has ended or was given up on out of <see cref="_unwrapping"/>, unless a newer one took its place (under <see cref="_unwrappingLock"/>).</summary>
    private void ForgetUnwrap(UnwrapTarget target, SharedCall<DataKey> ended)
    {
        if (_unwrapping.TryGetValue(target, out var current) && current == ended)
        {
            _unwrapping.Remove(target);
        }
    }

    /// <summary>
    /// Unwraps <paramref name="wrapped"/> for an envelope of <paramref name="purpose"/> and caches its data key, until
    /// <paramref name="cancellationToken"/> (every call waiting for it gave up). The key is returned with a reference
    /// held for the unwrap (its waiters' last to leave gives it back), besides the cache's own.
    /// </summary>
    private async Task<DataKey> UnwrapKeyAsync(EnvelopePurpose purpose, WrappedKey wrapped, CancellationToken cancellationToken)
    {
        byte[] unwrapped;
        using (var span = _instrumentation.StartKeyProvider("unwrap", _provider.Name))
        {
            unwrapped = await TrousseauTelemetry.ObserveAsync(span, _provider.UnwrapAsync(wrapped, cancellationToken)).ConfigureAwait(false);
        }

        var plaintextKey = Unlabel(purpose, unwrapped);
        try
        {
            return AddUnlessDisposed(new DataKey(purpose, plaintextKey, wrapped, _provider.Name, _time.GetTimestamp()), keepCurrent: purpose);
        }
        finally
        {
            CryptographicOperations.ZeroMemory(plaintextKey);
        }
    }

    /// <summary>
    /// Caches <paramref name="fresh"/>, a data key the provider has just wrapped or unwrapped, and returns the key to use
    /// with the reference the caller holds (see <see cref="DataKeyCache.AddLeased"/>); the cache keeps the current data
    /// key of <paramref name="keepCurrent"/>, or <paramref name="fresh"/> itself when null. A key provider that answers
    /// after the encryptor was disposed gets <see cref="ThrowIfDisposed"/>'s exception, and its key is zeroed rather
    /// than kept in the disposed cache.
    /// </summary>
    private DataKey AddUnlessDisposed(DataKey fresh, EnvelopePurpose? keepCurrent)
    {
        if (Volatile.Read(ref _disposed) != 0)
        {
            fresh.Release();
            throw Disposed();
        }

        var key = _cache.AddLeased(fresh, keep: keepCurrent is { } purpose ? Volatile.Read(ref _current[(int)purpose]) : fresh);

        // Disposed meanwhile: the cache may have been emptied before the key reached it.
        if (Interlocked.CompareExchange(ref _disposed, 0, 0) != 0)
        {
            _cache.Remove(key);
            key.Release();
            throw Disposed();
        }

        return key;
    }

    /// <summary>What an unwrap is shared by: the same wrapped key, under the same key id and version, for the same purpose.</summary>
    private readonly record struct UnwrapTarget(EnvelopePurpose Purpose, string KeyId, uint KeyVersion, string Wrapped);

    /// <summary>
    /// The data key in what the provider unwrapped for an envelope of <paramref name="purpose"/>: behind that purpose's
    /// label, or bare in a format 1 envelope; <paramref name="unwrapped"/> is zeroed.
    /// </summary>
    private static byte[] Unlabel(EnvelopePurpose purpose, byte[] unwrapped)
    {
        if (purpose != EnvelopePurpose.Unlabelled)
        {
            return WrapPurpose.Unlabel(EnvelopePurposes.WrapLabel(purpose), unwrapped)
                ?? throw EnvelopeFormat.Invalid("its data key was not wrapped for the purpose the envelope names");
        }

        if (unwrapped.AsSpan().StartsWith(WrapPurpose.LabelPrefix))
        {
            CryptographicOperations.ZeroMemory(unwrapped);
            throw EnvelopeFormat.Invalid("its data key was wrapped for a purpose, which a format 1 envelope does not name");
        }

        return unwrapped;
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
                throw EnvelopeFormat.Invalid("authentication failed (it was modified, or its context or name differs)", ex);
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
