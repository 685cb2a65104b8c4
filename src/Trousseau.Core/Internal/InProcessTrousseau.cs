using System.Collections.Concurrent;
using System.Runtime.CompilerServices;
using System.Security.Cryptography;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Trousseau.Envelope;

namespace Trousseau.Internal;

/// <summary>
/// <see cref="ITrousseau"/> in this process: envelope encryption with the configured key provider, records kept in
/// the configured store. Encrypt and decrypt use the <see cref="EnvelopePurpose.Api"/> purpose and records the
/// <see cref="EnvelopePurpose.Store"/> one, so no context given to decrypt opens a record.
/// </summary>
/// <remarks>
/// A secret's revision is the store revision of the write that last changed its data (<see cref="RecordHeader.RevisionAt"/>).
/// A rewrap moves the record to a new store revision but keeps that one, so a write made at a revision read before
/// the rewrap compares it with the secret's revision, and compares-and-swaps on the store revision it read: when only
/// a rewrap moved the record in between, it reads again and goes on.
/// <para>
/// It remembers the header and store revision of the record it last saw of recently used secrets
/// (<see cref="RecordHeaderCache"/>), so an update of one of them is a single compare-and-swap at that store revision,
/// with no read first. When the record moved since (another instance, a rewrap, a delete), the store refuses the
/// write and the update reads the record and goes on as it would have without the guess.
/// </para>
/// <para>
/// A listing leaves out what the store holds under a key that is not a secret record: a key that is no secret name, or
/// a record whose clear header does not read (damaged, or written there by another program). Each is named in a
/// warning, once at each store revision of it however often listings pass it (secrets as configuration list at
/// every poll), and a read of it names it in its error, so that one such key holds back no listing of the others.
/// </para>
/// </remarks>
internal sealed class InProcessTrousseau(EnvelopeEncryptor encryptor, ISecretStore store, TimeProvider time, ILogger? logger = null) : ITrousseau
{
    private const int WriteAttempts = 5;
    private const int RememberedRecords = 4096;

    private readonly RecordHeaderCache _headers = new(RememberedRecords);

    // The store keys a listing left out, each with the store revision it was named at.
    private readonly ConcurrentDictionary<string, long> _leftOut = new(StringComparer.Ordinal);
    private readonly ILogger _logger = logger ?? NullLogger.Instance;

    public ValueTask<EncryptResult> EncryptAsync(ReadOnlyMemory<byte> plaintext, ReadOnlyMemory<byte> context = default, CancellationToken cancellationToken = default)
    {
        encryptor.ThrowIfDisposed();
        if (plaintext.Length > TrousseauLimits.MaxPlaintextBytes)
        {
            throw new InvalidInputException("plaintext", $"Plaintext is {plaintext.Length} bytes; the limit is {TrousseauLimits.MaxPlaintextBytes} bytes.");
        }

        ValidateContext(context);
        cancellationToken.ThrowIfCancellationRequested();
        return encryptor.EncryptAsync(EnvelopePurpose.Api, plaintext, context, cancellationToken);
    }

    public ValueTask<byte[]> DecryptAsync(ReadOnlyMemory<byte> ciphertext, ReadOnlyMemory<byte> context = default, CancellationToken cancellationToken = default)
    {
        encryptor.ThrowIfDisposed();
        ValidateContext(context);
        cancellationToken.ThrowIfCancellationRequested();
        return encryptor.DecryptAsync(EnvelopePurpose.Api, ciphertext, context, cancellationToken);
    }

    public async ValueTask<SecretMetadata> CreateSecretAsync(string name, SecretType type, IReadOnlyDictionary<string, string> data, CancellationToken cancellationToken = default)
    {
        encryptor.ThrowIfDisposed();
        SecretNames.Validate(name);
        SecretData.Validate(type, data);
        var now = Now();
        using var write = encryptor.StoreWrites.Begin(name);
        var record = await SealAsync(name, type, now, now, data, write, cancellationToken).ConfigureAwait(false);
        var revision = await store.CreateAsync(name, record, cancellationToken).ConfigureAwait(false);
        return Remember(new SecretMetadata(name, type, revision, now, now));
    }

    public async ValueTask<Secret> GetSecretAsync(string name, CancellationToken cancellationToken = default)
    {
        encryptor.ThrowIfDisposed();
        SecretNames.Validate(name);
        var (entry, header) = await ReadAsync(name, cancellationToken).ConfigureAwait(false);
        var data = await OpenAsync(name, entry, header, cancellationToken).ConfigureAwait(false);
        return new Secret(new SecretMetadata(name, header.Type, header.RevisionAt(entry.Revision), header.CreatedAt, header.UpdatedAt), data);
    }

    public async ValueTask<SecretMetadata> UpdateSecretAsync(
        string name,
        IReadOnlyDictionary<string, string> data,
        SecretType? type = null,
        long? expectedRevision = null,
        CancellationToken cancellationToken = default)
    {
        encryptor.ThrowIfDisposed();
        SecretNames.Validate(name);
        if (type is { } newType)
        {
            SecretData.Validate(newType, data);
        }

        // A remembered record never answers by itself: when the expected revision is not the remembered one, the data
        // breaks the remembered type's rules, or the store refuses the write, the update reads the record and answers
        // from what is there.
        if (_headers.TryGet(name, out var known)
            && (expectedRevision is null || expectedRevision == known.Revision)
            && (type is not null || Fits(known.Type, data)))
        {
            try
            {
                return await WriteDataAsync(name, type ?? known.Type, known.CreatedAt, data, known.StoreRevision, cancellationToken).ConfigureAwait(false);
            }
            catch (Exception e) when (e is SecretConflictException or SecretNotFoundException)
            {
                // The record moved or went since this process saw it. The reads below have all their attempts.
            }
        }

        for (var attempt = 1; ; attempt++)
        {
            var (entry, current) = await ReadAsync(name, cancellationToken).ConfigureAwait(false);
            if (expectedRevision is { } expected && expected != current.RevisionAt(entry.Revision))
            {
                throw new SecretConflictException(name, SecretConflictReason.RevisionMismatch);
            }

            var effectiveType = type ?? current.Type;
            SecretData.Validate(effectiveType, data);
            try
            {
                return await WriteDataAsync(name, effectiveType, current.CreatedAt, data, entry.Revision, cancellationToken).ConfigureAwait(false);
            }
            catch (SecretConflictException) when (expectedRevision is null || attempt < WriteAttempts)
            {
                // Written between our read and our write: read again. A write of the data changed the revision, so
                // an expected revision now fails the check above; a rewrap kept it, so the update goes on. Without an
                // expected revision the update applies to any, so it tries until it lands: each refusal means another
                // write landed, so the writers all get through.
            }
        }
    }

    public async ValueTask<SecretPatchResult> PatchSecretAsync(
        string name,
        IReadOnlyDictionary<string, string?> changes,
        long? expectedRevision = null,
        CancellationToken cancellationToken = default)
    {
        encryptor.ThrowIfDisposed();
        SecretNames.Validate(name);
        if (changes is null || changes.Count == 0)
        {
            throw new InvalidInputException("data", "A patch needs at least one data key: a string value sets it, null removes it.");
        }

        foreach (var key in changes.Keys)
        {
            SecretData.ValidateKey(key);
        }

        var patch = changes.ToList();

        // The keys removed that the data the patch applies to does not hold; found again on each attempt, so that they
        // are those of the revision the patch was made at.
        var absent = new List<string>();
        var metadata = await ChangeDataAsync(
            name,
            expectedRevision,
            (_, data) =>
            {
                absent.Clear();
                var changed = false;
                foreach (var (key, value) in patch)
                {
                    if (value is null)
                    {
                        if (data.Remove(key))
                        {
                            changed = true;
                        }
                        else
                        {
                            absent.Add(key);
                        }
                    }
                    else
                    {
                        changed |= !data.TryGetValue(key, out var old) || !string.Equals(old, value, StringComparison.Ordinal);
                        data[key] = value;
                    }
                }

                return changed ? data : null;
            },
            cancellationToken).ConfigureAwait(false);
        return new SecretPatchResult(metadata, absent);
    }

    public ValueTask<SecretMetadata> RegenerateSecretAsync(
        string name,
        SecretRegenerationOptions? options = null,
        long? expectedRevision = null,
        CancellationToken cancellationToken = default)
    {
        encryptor.ThrowIfDisposed();
        SecretNames.Validate(name);
        options ??= new SecretRegenerationOptions();
        SecretGenerator.Validate(options);
        return ChangeDataAsync(name, expectedRevision, (type, data) => SecretGenerator.Regenerate(name, type, data, options), cancellationToken);
    }

    public async ValueTask DeleteSecretAsync(string name, long? expectedRevision = null, CancellationToken cancellationToken = default)
    {
        encryptor.ThrowIfDisposed();
        SecretNames.Validate(name);
        try
        {
            await DeleteRecordAsync(name, expectedRevision, cancellationToken).ConfigureAwait(false);
        }
        finally
        {
            _headers.Forget(name);
        }
    }

    /// <summary>Deletes a secret's record, after checking the secret's revision when <paramref name="expectedRevision"/> is given.</summary>
    private async ValueTask DeleteRecordAsync(string name, long? expectedRevision, CancellationToken cancellationToken)
    {
        if (expectedRevision is not { } expected)
        {
            await store.DeleteAsync(name, cancellationToken: cancellationToken).ConfigureAwait(false);
            return;
        }

        for (var attempt = 1; ; attempt++)
        {
            var (entry, header) = await ReadAsync(name, cancellationToken).ConfigureAwait(false);
            if (expected != header.RevisionAt(entry.Revision))
            {
                throw new SecretConflictException(name, SecretConflictReason.RevisionMismatch);
            }

            try
            {
                await store.DeleteAsync(name, entry.Revision, cancellationToken).ConfigureAwait(false);
                return;
            }
            catch (SecretConflictException) when (attempt < WriteAttempts)
            {
                // Written between our read and our delete: check the revision again, as an update does.
            }
        }
    }

    public async IAsyncEnumerable<SecretMetadata> ListSecretsAsync(string prefix = "", [EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        encryptor.ThrowIfDisposed();
        ValidatePrefix(prefix);
        string? startAfter = null;
        StorePage page;
        do
        {
            page = await store.ListAsync(prefix, startAfter, TrousseauLimits.DefaultListPageSize, cancellationToken).ConfigureAwait(false);
            foreach (var entry in page.Entries)
            {
                if (Listed(entry) is { } metadata)
                {
                    yield return metadata;
                }

                startAfter = entry.Key;
            }
        }
        while (page.HasMore && page.Entries.Count > 0);
    }

    public async ValueTask<SecretPage> ListSecretsPageAsync(
        string prefix = "",
        string? continuationToken = null,
        int limit = TrousseauLimits.DefaultListPageSize,
        CancellationToken cancellationToken = default)
    {
        encryptor.ThrowIfDisposed();
        ValidatePrefix(prefix);
        if (limit is < 1 or > TrousseauLimits.MaxListPageSize)
        {
            throw new InvalidInputException("limit", $"The page size (limit) must be from 1 to {TrousseauLimits.MaxListPageSize}, not {limit}.");
        }

        // The token names the last secret listed, never a key left out: a page of keys left out only is read past.
        var startAfter = string.IsNullOrEmpty(continuationToken) ? null : ContinuationToken.Read(continuationToken, prefix);
        while (true)
        {
            var page = await store.ListAsync(prefix, startAfter, limit, cancellationToken).ConfigureAwait(false);
            var items = new List<SecretMetadata>(page.Entries.Count);
            foreach (var entry in page.Entries)
            {
                if (Listed(entry) is { } metadata)
                {
                    items.Add(metadata);
                }
            }

            if (items.Count > 0 || !page.HasMore || page.Entries.Count == 0)
            {
                return new SecretPage(items, page.HasMore && items.Count > 0 ? ContinuationToken.Create(items[^1].Name) : null);
            }

            startAfter = page.Entries[^1].Key;
        }
    }

    public ValueTask<SecretMetadata> GenerateSecretAsync(string name, SecretGenerationOptions? options = null, CancellationToken cancellationToken = default)
    {
        encryptor.ThrowIfDisposed();
        SecretNames.Validate(name);
        var (type, data) = SecretGenerator.Generate(options);
        return CreateSecretAsync(name, type, data, cancellationToken);
    }

    /// <summary>
    /// Reads a secret's data, changes it and writes it back by compare-and-swap on the record read, under the type it
    /// has; when another write came in between, reads again and changes the new data (unless
    /// <paramref name="expectedRevision"/> pins the revision, which then no longer matches).
    /// </summary>
    private async ValueTask<SecretMetadata> ChangeDataAsync(
        string name,
        long? expectedRevision,
        Func<SecretType, Dictionary<string, string>, IReadOnlyDictionary<string, string>?> change,
        CancellationToken cancellationToken)
    {
        for (var attempt = 1; ; attempt++)
        {
            var (entry, current) = await ReadAsync(name, cancellationToken).ConfigureAwait(false);
            if (expectedRevision is { } expected && expected != current.RevisionAt(entry.Revision))
            {
                throw new SecretConflictException(name, SecretConflictReason.RevisionMismatch);
            }

            // A change that leaves every value as it is (a patch setting the values already there, or removing keys
            // the secret does not hold) writes nothing: the secret keeps its revision, as Kubernetes keeps an object's
            // resourceVersion through a patch that changes nothing.
            if (change(current.Type, await OpenAsync(name, entry, current, cancellationToken).ConfigureAwait(false)) is not { } data)
            {
                return new SecretMetadata(name, current.Type, current.RevisionAt(entry.Revision), current.CreatedAt, current.UpdatedAt);
            }

            SecretData.Validate(current.Type, data);
            try
            {
                return await WriteDataAsync(name, current.Type, current.CreatedAt, data, entry.Revision, cancellationToken).ConfigureAwait(false);
            }
            catch (SecretConflictException) when (expectedRevision is null || attempt < WriteAttempts)
            {
                // Written between our read and our write: read again and apply the change to what is there now. Without
                // an expected revision, until it lands, as an update does.
            }
        }
    }

    /// <summary>Reads a secret's record and its header, and remembers them; throws <see cref="SecretNotFoundException"/> when there is none.</summary>
    private async ValueTask<(StoreEntry Entry, RecordHeader Header)> ReadAsync(string name, CancellationToken cancellationToken)
    {
        if (await store.GetAsync(name, cancellationToken).ConfigureAwait(false) is not { } entry)
        {
            _headers.Forget(name);
            throw new SecretNotFoundException(name);
        }

        var header = SecretRecord.ReadHeader(name, entry.Value.Span);
        _headers.Remember(name, new CachedHeader(header.Type, header.CreatedAt, header.RevisionAt(entry.Revision), entry.Revision));
        return (entry, header);
    }

    /// <summary>
    /// Seals new data under a secret's type and creation time and writes it by compare-and-swap on
    /// <paramref name="storeRevision"/>; remembers the record written, or forgets the secret when the write fails.
    /// </summary>
    private async ValueTask<SecretMetadata> WriteDataAsync(
        string name,
        SecretType type,
        DateTimeOffset createdAt,
        IReadOnlyDictionary<string, string> data,
        long storeRevision,
        CancellationToken cancellationToken)
    {
        var now = Now();
        using var write = encryptor.StoreWrites.Begin(name);
        var record = await SealAsync(name, type, createdAt, now, data, write, cancellationToken).ConfigureAwait(false);
        long revision;
        try
        {
            revision = await store.UpdateAsync(name, record, storeRevision, cancellationToken).ConfigureAwait(false);
        }
        catch
        {
            _headers.Forget(name);
            throw;
        }

        return Remember(new SecretMetadata(name, type, revision, createdAt, now));
    }

    /// <summary>Remembers the record a write of the data just made, whose revision is its store revision.</summary>
    private SecretMetadata Remember(SecretMetadata written)
    {
        _headers.Remember(written.Name, new CachedHeader(written.Type, written.CreatedAt, written.Revision, written.Revision));
        return written;
    }

    /// <summary>Whether <paramref name="data"/> keeps the rules of <paramref name="type"/>.</summary>
    private static bool Fits(SecretType type, IReadOnlyDictionary<string, string> data)
    {
        try
        {
            SecretData.Validate(type, data);
            return true;
        }
        catch (InvalidInputException)
        {
            return false;
        }
    }

    private async ValueTask<Dictionary<string, string>> OpenAsync(string name, StoreEntry entry, RecordHeader header, CancellationToken cancellationToken)
    {
        var aad = SecretRecord.AssociatedData(name, entry.Value.Span[..header.Length]);
        byte[] plaintext;
        try
        {
            plaintext = await encryptor.DecryptAsync(EnvelopePurpose.Store, entry.Value[header.Length..], aad, cancellationToken).ConfigureAwait(false);
        }
        catch (InvalidCiphertextException ex)
        {
            // The envelope says why, not which record: a record edited in the store (a value moved from another secret)
            // is reported by the name it was read under.
            var reason = ex.Message.StartsWith(EnvelopeFormat.RefusalPrefix, StringComparison.Ordinal) ? ex.Message[EnvelopeFormat.RefusalPrefix.Length..] : ex.Message;
            throw new InvalidCiphertextException($"The stored record of secret '{name}' cannot be decrypted: {reason}", ex);
        }

        return SecretRecord.DecodeData(name, plaintext);
    }

    private async ValueTask<byte[]> SealAsync(
        string name,
        SecretType type,
        DateTimeOffset createdAt,
        DateTimeOffset updatedAt,
        IReadOnlyDictionary<string, string> data,
        StoreWriteTracker.Write write,
        CancellationToken cancellationToken)
    {
        var header = SecretRecord.BuildHeader(type, createdAt, updatedAt);
        var plaintext = SecretRecord.EncodeData(data);
        try
        {
            var sealedData = await encryptor.EncryptAsync(EnvelopePurpose.Store, plaintext, SecretRecord.AssociatedData(name, header), cancellationToken).ConfigureAwait(false);
            write.Sealed(sealedData.KeyId);
            return [.. header, .. sealedData.Ciphertext];
        }
        finally
        {
            CryptographicOperations.ZeroMemory(plaintext);
        }
    }

    private static void ValidatePrefix(string prefix)
    {
        if (!SecretNames.IsValidPrefix(prefix))
        {
            throw new InvalidInputException("prefix", "Invalid prefix: use characters of a-z, 0-9, '.', '_', '/', '-', starting with a letter or digit.");
        }
    }

    /// <summary>
    /// The metadata of a listed record, or <see langword="null"/> (with a warning naming it, see
    /// <see cref="FirstLeftOut"/>) when its key is no secret name or its header does not read.
    /// </summary>
    private SecretMetadata? Listed(StoreEntryHead entry)
    {
        // A name an earlier release stored (team//db) is listed, so that it can be found and copied to a valid name.
        if (!SecretNames.IsEarlierReleaseName(entry.Key))
        {
            if (FirstLeftOut(entry))
            {
                Log.ListingLeftOutForeignKey(_logger, entry.Key);
            }

            return null;
        }

        try
        {
            var header = SecretRecord.ReadHeader(entry.Key, entry.Head.Span);
            return new SecretMetadata(entry.Key, header.Type, header.RevisionAt(entry.Revision), header.CreatedAt, header.UpdatedAt);
        }
        catch (InvalidCiphertextException ex)
        {
            if (FirstLeftOut(entry))
            {
                Log.ListingLeftOutDamagedRecord(_logger, entry.Key, ex.Message);
            }

            return null;
        }
    }

    /// <summary>
    /// Whether no listing has left out <paramref name="entry"/> at its store revision yet, and notes that one now has;
    /// so each key left out is named once, and again once it changes. The keys noted are bounded: past that many, the
    /// notes start again.
    /// </summary>
    private bool FirstLeftOut(StoreEntryHead entry)
    {
        if (_leftOut.TryGetValue(entry.Key, out var revision) && revision == entry.Revision)
        {
            return false;
        }

        if (_leftOut.Count >= RememberedRecords)
        {
            _leftOut.Clear();
        }

        _leftOut[entry.Key] = entry.Revision;
        return true;
    }

    private DateTimeOffset Now() => DateTimeOffset.FromUnixTimeMilliseconds(time.GetUtcNow().ToUnixTimeMilliseconds());

    private static void ValidateContext(ReadOnlyMemory<byte> context)
    {
        if (context.Length > TrousseauLimits.MaxContextBytes)
        {
            throw new InvalidInputException("context", $"Context is {context.Length} bytes; the limit is {TrousseauLimits.MaxContextBytes} bytes.");
        }
    }
}
