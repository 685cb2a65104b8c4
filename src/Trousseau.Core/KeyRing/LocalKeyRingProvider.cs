using System.Security.Cryptography;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;

namespace Trousseau;

/// <summary>
/// The embedded default key provider: versioned AES-256 keys in a local file. Wrapping uses the newest version;
/// every older version stays available for unwrapping. Key ids look like <c>local-9f2c4e1a7b3d5e60-v2-5d1f0a2c</c>:
/// the ring's random id, the version and a fingerprint of the key, so an id names one key and is never reused, even
/// by a new ring or by a ring restored from an older copy.
/// </summary>
/// <remarks>
/// Processes may share the file: creation and rotation hold an advisory lock beside it (<c>&lt;file&gt;.lock</c>)
/// and start from what is on disk, so they add versions one after another and never fork one. A version another
/// process added is loaded when a wrapped key asks for it, and by <see cref="RefreshCurrentKeyAsync"/>. Every write
/// replaces the file whole: it is written beside, flushed, renamed over the old one, and the directory is flushed.
/// </remarks>
public sealed class LocalKeyRingProvider : IKeyProvider, IDisposable
{
    /// <summary>The provider id written into envelopes.</summary>
    public const string ProviderName = "local";

    private const int NonceSize = 12;
    private const int TagSize = LocalKeyRingKey.TagSize;

    private readonly string _path;
    private readonly TimeProvider _time;
    private readonly ILogger _logger;
    private readonly Lock _lock = new();
    private bool _disposed;
    private LocalKeyRing? _ring;

    // The file as this provider last read or wrote it, to notice that another process changed it.
    private FileLook? _seen;

    // The newest key of this ring that a record Trousseau keeps named and the ring lacks (it was restored from an older
    // copy), reported by the health check until the ring holds it again.
    private readonly Lock _lackingLock = new();
    private (string KeyId, uint Version)? _lacking;

    /// <summary>Creates the provider; the key file is read, or created, on first use.</summary>
    /// <param name="options">Where the key file is.</param>
    /// <param name="time">The clock used for key creation times.</param>
    /// <param name="logger">Receives creation and rotation events (never key material); none when the application has no logging.</param>
    public LocalKeyRingProvider(IOptions<LocalKeyRingOptions> options, TimeProvider time, ILogger<LocalKeyRingProvider>? logger = null)
    {
        ArgumentNullException.ThrowIfNull(options);
        _path = Path.GetFullPath(options.Value.KeyFile ?? throw new ArgumentException("LocalKeyRingOptions.KeyFile is required.", nameof(options)));
        _time = time;
        _logger = logger ?? NullLogger<LocalKeyRingProvider>.Instance;
    }

    /// <inheritdoc />
    public string Name => ProviderName;

    /// <inheritdoc />
    public ValueTask<KeyInfo> GetCurrentKeyAsync(CancellationToken cancellationToken = default)
    {
        cancellationToken.ThrowIfCancellationRequested();
        return new(Load().Current.Info);
    }

    /// <inheritdoc />
    /// <remarks>
    /// Reads the key file again when it changed since this provider last read or wrote it (another process sharing
    /// it rotated), or had been written less than 2 s before that (a rewrite within one tick of the file system's
    /// clock can leave the same time stamp), and takes in the versions added there: wraps use the newest from then on.
    /// </remarks>
    public ValueTask<KeyInfo> RefreshCurrentKeyAsync(CancellationToken cancellationToken = default)
    {
        cancellationToken.ThrowIfCancellationRequested();
        return new(Reload().Current.Info);
    }

    /// <inheritdoc />
    public ValueTask<WrappedKey> WrapAsync(ReadOnlyMemory<byte> plaintext, CancellationToken cancellationToken = default)
    {
        cancellationToken.ThrowIfCancellationRequested();
        var key = Load().Current;
        var output = new byte[NonceSize + plaintext.Length + TagSize];
        var nonce = output.AsSpan(0, NonceSize);
        RandomNumberGenerator.Fill(nonce);
        lock (key.Cipher)
        {
            key.Cipher.Encrypt(nonce, plaintext.Span, output.AsSpan(NonceSize, plaintext.Length), output.AsSpan(NonceSize + plaintext.Length), key.AssociatedData);
        }

        return new(new WrappedKey(key.Info.KeyId, key.Info.Version, output));
    }

    /// <inheritdoc />
    public ValueTask<byte[]> UnwrapAsync(WrappedKey wrapped, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(wrapped);
        cancellationToken.ThrowIfCancellationRequested();
        var key = Load().Find(wrapped.KeyVersion);
        if (key is null || key.Info.KeyId != wrapped.KeyId)
        {
            // Another process sharing the file may have added the version since this one read it.
            key = Reload().Find(wrapped.KeyVersion);
        }

        if (key is null || key.Info.KeyId != wrapped.KeyId)
        {
            throw new InvalidCiphertextException(NotInRing(wrapped, Load()));
        }

        var data = wrapped.Ciphertext.Span;
        if (data.Length < NonceSize + TagSize)
        {
            throw new InvalidCiphertextException("The wrapped key is too short.");
        }

        var plaintext = new byte[data.Length - NonceSize - TagSize];
        try
        {
            lock (key.Cipher)
            {
                key.Cipher.Decrypt(data[..NonceSize], data[NonceSize..^TagSize], data[^TagSize..], plaintext, key.AssociatedData);
            }
        }
        catch (AuthenticationTagMismatchException ex)
        {
            throw new InvalidCiphertextException("The wrapped key failed authentication under its key ring key.", ex);
        }

        return new(plaintext);
    }

    /// <inheritdoc />
    /// <remarks>
    /// Under the lock beside the file, the ring on disk is read first and the new version follows the newest one
    /// there or in memory. A file that disappeared while in use is written again from memory, with every version.
    /// </remarks>
    public ValueTask<KeyInfo> RotateAsync(CancellationToken cancellationToken = default)
    {
        cancellationToken.ThrowIfCancellationRequested();
        lock (_lock)
        {
            var current = Load();
            try
            {
                using (LocalKeyRingFile.Lock(_path))
                {
                    DeleteTemporaries();
                    var latest = current;
                    var seen = FileLook.Take(_path);
                    if (seen.Stamp.Found)
                    {
                        latest = current.Merge(LocalKeyRingFile.Read(_path));
                        _seen = seen;
                    }
                    else
                    {
                        Log.KeyRingWrittenFromMemory(_logger, _path);
                    }

                    Volatile.Write(ref _ring, latest);
                    var rotated = latest.With(LocalKeyRingKey.Issue(latest.Id, latest.Current.Info.Version + 1, _time.GetUtcNow()));
                    try
                    {
                        LocalKeyRingFile.Write(_path, rotated);
                    }
                    catch
                    {
                        rotated.Current.Dispose();
                        throw;
                    }

                    Volatile.Write(ref _ring, rotated);
                    _seen = FileLook.Take(_path);
                    Log.KeyRingRotated(_logger, _path, rotated.Current.Info.KeyId, rotated.Current.Info.Version);
                    return new(rotated.Current.Info);
                }
            }
            catch (Exception ex) when (LocalKeyRingFile.IsFileProblem(ex))
            {
                throw LocalKeyRingFile.Unusable(_path, ex);
            }
        }
    }

    /// <inheritdoc />
    public ValueTask<DependencyHealth> CheckHealthAsync(CancellationToken cancellationToken = default)
    {
        cancellationToken.ThrowIfCancellationRequested();
        try
        {
            var ring = Load();
            var current = ring.Current.Info.KeyId;
            if (Lacking(ring) is { } lacking)
            {
                return new(DependencyHealth.Degraded(
                    $"local key ring, current key {current}: data was wrapped under key '{lacking.KeyId}' (version {lacking.Version}), which this key ring lacks, "
                    + $"so what that key wrapped cannot be decrypted: {RestoredFromOlderCopy(lacking.Version, ring)}"));
            }

            var directory = Path.GetDirectoryName(_path)!;
            return new(WritableLocation.WhyNoFileCanBeCreatedIn(directory) is { } why
                ? DependencyHealth.Degraded($"local key ring, current key {current}: its directory {directory} {why}, so this process may not create files there: a key rotation would fail, and so would a restart; make the directory writable again.")
                : DependencyHealth.Healthy($"local key ring, current key {current}"));
        }
        catch (DependencyUnavailableException ex)
        {
            return new(DependencyHealth.Unhealthy(ex.Message));
        }
    }

    /// <summary>Zeroes the keys held in memory. Every later call throws <see cref="ObjectDisposedException"/>, and reads or writes no file.</summary>
    public void Dispose()
    {
        lock (_lock)
        {
            _disposed = true;
            _ring?.Dispose();
            _ring = null;
        }
    }

    private LocalKeyRing Load()
    {
        var ring = Volatile.Read(ref _ring);
        if (ring is not null)
        {
            return ring;
        }

        lock (_lock)
        {
            if (_disposed)
            {
                throw Disposed(_path);
            }

            return _ring ??= Open();
        }
    }

    private static ObjectDisposedException Disposed(string path) => new(
        $"The local key ring provider of '{path}' has been disposed (its keys zeroed): the service provider (host) that made it has stopped.",
        innerException: null);

    /// <summary>Reads the ring, or creates it when there is no file; first deletes what a killed write left.</summary>
    private LocalKeyRing Open()
    {
        try
        {
            if (OwnerOnlyFile.FindTemporaries(_path).Count > 0)
            {
                using (LocalKeyRingFile.Lock(_path))
                {
                    DeleteTemporaries();
                }
            }

            if (!File.Exists(_path))
            {
                using (LocalKeyRingFile.Lock(_path))
                {
                    if (!File.Exists(_path))
                    {
                        return Create();
                    }
                }
            }

            var seen = FileLook.Take(_path);
            var ring = LocalKeyRingFile.Read(_path);
            _seen = seen;
            return ring;
        }
        catch (Exception ex) when (LocalKeyRingFile.IsFileProblem(ex))
        {
            throw LocalKeyRingFile.Unusable(_path, ex);
        }
    }

    private LocalKeyRing Create()
    {
        var ringId = Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(8));
        var ring = new LocalKeyRing(ringId, [LocalKeyRingKey.Issue(ringId, 1, _time.GetUtcNow())]);
        try
        {
            LocalKeyRingFile.Write(_path, ring);
        }
        catch
        {
            ring.Dispose();
            throw;
        }

        _seen = FileLook.Take(_path);
        Log.KeyRingCreated(_logger, _path, ring.Current.Info.KeyId);
        return ring;
    }

    /// <summary>Takes in the versions another process added to the file since this provider last read or wrote it.</summary>
    private LocalKeyRing Reload()
    {
        lock (_lock)
        {
            var ring = Load();
            var seen = FileLook.Take(_path);
            if (!seen.Stamp.Found || _seen?.IsCurrent(seen.Stamp) == true)
            {
                return ring;
            }

            _seen = seen;
            try
            {
                var merged = ring.Merge(LocalKeyRingFile.Read(_path));
                if (merged != ring)
                {
                    Volatile.Write(ref _ring, merged);
                    Log.KeyRingReloaded(_logger, _path, merged.Current.Info.KeyId, merged.Current.Info.Version);
                }

                return merged;
            }
            catch (Exception ex) when (LocalKeyRingFile.IsFileProblem(ex))
            {
                // Keep serving the versions held in memory; the next rotation reports what is wrong with the file.
                return ring;
            }
        }
    }

    /// <summary>Deletes the temporary copies a killed write left beside the file; call it holding the file's lock.</summary>
    private void DeleteTemporaries()
    {
        if (OwnerOnlyFile.DeleteTemporaries(_path) is > 0 and var deleted)
        {
            Log.KeyRingTemporariesDeleted(_logger, _path, deleted);
        }
    }

    /// <summary>
    /// Keeps <paramref name="wrapped"/>'s key for the health check when it is one of this ring's own (its ring id) that
    /// the ring lacks, at a version no lower than one kept before; another provider's or ring's key id, or one of this
    /// ring's at a version paired wrongly with its ciphertext, says nothing about the ring. Called only for what
    /// Trousseau read from where it keeps its own records, never for a ciphertext a caller sent (<c>/v1/decrypt</c>,
    /// the KMS socket), whose key id anyone may write: a caller's input must not change what the health check says.
    /// </summary>
    internal void NoteLacking(WrappedKey wrapped)
    {
        var ring = Load();
        if (!LocalKeyRingKey.IsKeyIdShaped(wrapped.KeyId)
            || !wrapped.KeyId.StartsWith($"{ProviderName}-{ring.Id}-v", StringComparison.Ordinal)
            || ring.Keys.Any(k => k.Info.KeyId == wrapped.KeyId))
        {
            return;
        }

        lock (_lackingLock)
        {
            if (_lacking is not { } kept || kept.Version <= wrapped.KeyVersion)
            {
                _lacking = (wrapped.KeyId, wrapped.KeyVersion);
            }
        }
    }

    /// <summary>
    /// The key kept by <see cref="NoteLacking"/>, unless the ring holds it now (a copy that has it was put back, and
    /// read again when a ciphertext asked for it or at the worker's check).
    /// </summary>
    private (string KeyId, uint Version)? Lacking(LocalKeyRing ring)
    {
        lock (_lackingLock)
        {
            if (_lacking is { } lacking && ring.Find(lacking.Version)?.Info.KeyId == lacking.KeyId)
            {
                _lacking = null;
            }

            return _lacking;
        }
    }

    /// <summary>
    /// Why a wrapped key names no key of this ring, and, since a key ring restored from an older copy (or another
    /// installation's) is the usual cause for what was written here, which copy to put back. The key id's ring id
    /// tells this ring's own keys (from a later copy) from another ring's; a key id no key ring issues (another
    /// provider's, a KMS caller's garbage) gets no such advice, and only a bounded, escaped excerpt of it is repeated.
    /// </summary>
    private static string NotInRing(WrappedKey wrapped, LocalKeyRing ring)
    {
        if (!LocalKeyRingKey.IsKeyIdShaped(wrapped.KeyId))
        {
            return $"The key id '{Excerpt.Escaped(wrapped.KeyId, 64)}' is not a local key ring's ({ProviderName}-<ring id>-v<version>-<fingerprint>): the ciphertext "
                + "was wrapped by another key provider or KMS plugin, or its key id was changed; decrypt it with the one that wrapped it.";
        }

        if (ring.Keys.FirstOrDefault(k => k.Info.KeyId == wrapped.KeyId) is { } named)
        {
            // The key id is this ring's, at another version than the wrap's: a caller (KMS v2 sends the key id beside
            // the ciphertext) paired them wrongly; the ring itself is fine.
            var wrappedUnder = ring.Find(wrapped.KeyVersion) is { } key ? $", whose key id is '{key.Info.KeyId}'" : "";
            return $"The key id '{Printable(wrapped.KeyId)}' is version {named.Info.Version} of this key ring, but the ciphertext was wrapped under version "
                + $"{wrapped.KeyVersion}{wrappedUnder}: the key id does not belong to this ciphertext (a KMS caller sends the key id Encrypt returned with it).";
        }

        var ownRing = wrapped.KeyId.StartsWith($"{ProviderName}-{ring.Id}-v", StringComparison.Ordinal);
        var reason = ownRing
            ? RestoredFromOlderCopy(wrapped.KeyVersion, ring)
            : "this is another key ring (restored from another installation, or made anew); put back the key ring it was written with.";
        return $"The key id '{Printable(wrapped.KeyId)}' (version {wrapped.KeyVersion}) is not in this key ring, whose newest version is {ring.Current.Info.Version}: if it was written here, {reason}";
    }

    /// <summary>
    /// Why this ring lacks its own key of <paramref name="version"/>, and which copy to put back: the ring was restored
    /// from a copy older than that version, or older than that key and has made another key of that version since.
    /// </summary>
    private static string RestoredFromOlderCopy(uint version, LocalKeyRing ring) => version > ring.Current.Info.Version
        ? $"the key ring was restored from a copy older than that version; put back a copy of the key ring taken after version {version} was made."
        : $"the key ring was restored from a copy older than that key and has made another version {version} since; put back a copy of the key ring taken after that key was made.";

    /// <summary>A key id fit for an error message: itself when short and printable ASCII.</summary>
    internal static string Printable(string keyId) =>
        Excerpt.IsPrintable(keyId, 64) ? keyId : "(unprintable)";
}
