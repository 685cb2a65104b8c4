using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Trousseau.Envelope;

namespace Trousseau.Internal;

/// <summary><see cref="IKeyAdministration"/> in this process, over the configured key provider and store.</summary>
internal sealed class InProcessKeyAdministration(
    IKeyProvider provider,
    ISecretStore store,
    EnvelopeEncryptor encryptor,
    ILogger<InProcessKeyAdministration>? logger = null) : IKeyAdministration
{
    private readonly ILogger _logger = logger ?? NullLogger<InProcessKeyAdministration>.Instance;
    private readonly Lock _rewrapGate = new();
    private SharedRewrap? _rewrap;

    private const int RewrapAttempts = 5;
    private const int BatchSize = 500;
    private const int BatchParallelism = 8;

    public async ValueTask<KeyStatus> GetKeyStatusAsync(CancellationToken cancellationToken = default)
    {
        encryptor.ThrowIfDisposed();

        // A rotation made elsewhere (another instance, Vault's CLI) shows here first: the data keys that the older key
        // wrapped stop sealing new writes now, not when they reach DataKeys:MaxAge.
        var key = await provider.RefreshCurrentKeyAsync(cancellationToken).ConfigureAwait(false);
        encryptor.RetireUnlessWrappedBy(key.KeyId);
        return new KeyStatus(provider.Name, key.KeyId, key.Version);
    }

    public async ValueTask<KeyStatus> RotateKeyAsync(CancellationToken cancellationToken = default)
    {
        encryptor.ThrowIfDisposed();
        var key = await provider.RotateAsync(cancellationToken).ConfigureAwait(false);
        encryptor.RetireUnlessWrappedBy(key.KeyId);
        Log.KeyRotated(_logger, provider.Name, key.KeyId);
        return new KeyStatus(provider.Name, key.KeyId, key.Version);
    }

    /// <remarks>
    /// A rewrap asked while one runs toward the same key joins it: each caller gets the counts of the whole run, and
    /// its cancellation ends only its own wait; the run is cancelled once no caller waits for it. One asked after the
    /// key rotated again runs toward the newer key, beside the running one.
    /// </remarks>
    public async ValueTask<RewrapResult> RewrapSecretsAsync(CancellationToken cancellationToken = default)
    {
        encryptor.ThrowIfDisposed();

        // The key may have rotated outside this process (Vault's CLI, another instance): asked of the provider's
        // source, not its memory, and new data keys first.
        var current = await provider.RefreshCurrentKeyAsync(cancellationToken).ConfigureAwait(false);
        encryptor.RetireUnlessWrappedBy(current.KeyId);
        SharedRewrap run;
        lock (_rewrapGate)
        {
            if (_rewrap is not { Call.IsUnderWay: true } || _rewrap.KeyId != current.KeyId)
            {
                // None runs, or one toward an older key, which finds the newer key as it seals and goes on beside this one.
                // One that no caller waits for any more is cancelled: what it moved stays moved, and a rewrap asked later
                // resumes.
                var progress = new RewrapRun(current.KeyId);
                _rewrap = new SharedRewrap(current.KeyId, progress, new SharedCall<RewrapResult>(
                    _rewrapGate,
                    cancel => RunAsync(progress, cancel),
                    ForgetRewrap));
            }

            run = _rewrap;
            run.Call.Join();
        }

        try
        {
            return await run.Call.WaitAsync(cancellationToken).ConfigureAwait(false);
        }
        catch (OperationCanceledException e) when (cancellationToken.IsCancellationRequested)
        {
            throw new RewrapCancelledException(run.Progress.Counts(), e, cancellationToken);
        }
    }

    /// <summary>Lets a later rewrap start once <paramref name="ended"/> has ended or was given up on, unless a newer one runs (under <see cref="_rewrapGate"/>).</summary>
    private void ForgetRewrap(SharedCall<RewrapResult> ended)
    {
        if (_rewrap?.Call == ended)
        {
            _rewrap = null;
        }
    }

    private async Task<RewrapResult> RunAsync(RewrapRun run, CancellationToken cancellationToken)
    {
        // A write begun before now may still be sealing under the older key, and reach the store after the listing
        // has passed its name: the rewrap waits for those writes once it has listed, and moves what they left behind.
        var earlierWrites = encryptor.StoreWrites.Close();
        try
        {
            string? startAfter = null;
            StorePage page;
            do
            {
                page = await store.ListAsync("", startAfter, BatchSize, cancellationToken).ConfigureAwait(false);
                await RewrapBatchAsync(page.Entries, run, cancellationToken).ConfigureAwait(false);
                if (page.Entries.Count > 0)
                {
                    startAfter = page.Entries[^1].Key;
                }

                // A pass that has moved nothing yet is only checking (the worker's pass at start, mostly): it stays quiet.
                if (page.HasMore && run.Rewrapped > 0)
                {
                    Log.RewrapProgress(_logger, run.Rewrapped + run.Skipped + run.Failed, run.Rewrapped, run.CurrentKeyId);
                }
            }
            while (page.HasMore && page.Entries.Count > 0);

            await earlierWrites.WaitAsync(cancellationToken).ConfigureAwait(false);
            await RewrapLateAsync(run, cancellationToken).ConfigureAwait(false);
        }
        catch (DependencyUnavailableException e)
        {
            // What was moved stays moved, and a rewrap run again resumes: the answer says how far this one got.
            throw new DependencyUnavailableException(e.Dependency, Interrupted(e.Message, run), e.RetryAfter, e);
        }

        var result = run.Counts();
        Log.Rewrapped(_logger, result.Rewrapped, run.CurrentKeyId, result.Skipped, result.Failed);
        return result;
    }

    /// <summary>The error of a rewrap that a dependency cut off: its cause, and the counts so far.</summary>
    private static string Interrupted(string cause, RewrapRun run) => string.Create(
        CultureInfo.InvariantCulture,
        $"{cause} The rewrap stopped there, after moving {Secrets(run.Rewrapped)} to the current key ({run.Skipped} needed no move, {run.Failed} could not be moved); run it again to move the rest.");

    private static string Secrets(long count) => count == 1
        ? "1 secret"
        : string.Create(CultureInfo.InvariantCulture, $"{count} secrets");

    /// <summary>
    /// Rewraps the records of one page of the listing, a few at a time, since each is a store read and a write, and
    /// counts each one. The listing gives keys only: each record is read whole just before it is rewrapped.
    /// </summary>
    private async Task RewrapBatchAsync(IReadOnlyList<StoreEntryHead> batch, RewrapRun run, CancellationToken cancellationToken)
    {
        var parallel = new ParallelOptions { MaxDegreeOfParallelism = BatchParallelism, CancellationToken = cancellationToken };
        await Parallel.ForEachAsync(batch, parallel, async (listed, token) =>
        {
            var outcome = await RewrapNamedAsync(listed.Key, run, token).ConfigureAwait(false);
            Count(outcome, listed.Key, run);
        }).ConfigureAwait(false);
    }

    /// <summary>
    /// Rewraps the records that writes of this process left under another key than the current one, read once the
    /// writes begun before the rewrap have ended: a record the listing had already moved is under the current key and
    /// not counted again.
    /// </summary>
    private async Task RewrapLateAsync(RewrapRun run, CancellationToken cancellationToken)
    {
        var late = encryptor.StoreWrites.LateRecords();
        if (late.Length == 0)
        {
            return;
        }

        var parallel = new ParallelOptions { MaxDegreeOfParallelism = BatchParallelism, CancellationToken = cancellationToken };
        await Parallel.ForEachAsync(late, parallel, async (record, token) =>
        {
            var outcome = await RewrapNamedAsync(record.Key, run, token).ConfigureAwait(false);
            if (outcome is RewrapOutcome.Moved or RewrapOutcome.NoMove)
            {
                encryptor.StoreWrites.Settled(record);
            }

            if (outcome != RewrapOutcome.NoMove)
            {
                Count(outcome, record.Key, run);
            }
        }).ConfigureAwait(false);
    }

    /// <summary>Reads the record of <paramref name="name"/> and moves it under the current key, unless it needs no move.</summary>
    private async ValueTask<RewrapOutcome> RewrapNamedAsync(string name, RewrapRun run, CancellationToken cancellationToken)
    {
        try
        {
            return await store.GetAsync(name, cancellationToken).ConfigureAwait(false) is { } entry
                ? await RewrapAsync(entry, run, cancellationToken).ConfigureAwait(false)
                : RewrapOutcome.NoMove;
        }
        catch (InvalidCiphertextException)
        {
            // A damaged or foreign record must not hold back every other secret; it stays as it is.
            return RewrapOutcome.Undecryptable;
        }
    }

    /// <summary>Counts what became of one record, and names those left under an older key in the log.</summary>
    private void Count(RewrapOutcome outcome, string name, RewrapRun run)
    {
        switch (outcome)
        {
            case RewrapOutcome.Moved:
                Interlocked.Increment(ref run.Rewrapped);
                break;
            case RewrapOutcome.NoMove:
                Interlocked.Increment(ref run.Skipped);
                break;
            case RewrapOutcome.Outpaced:
                Interlocked.Increment(ref run.Failed);
                Log.RewrapOutpaced(_logger, name, RewrapAttempts);
                break;
            case RewrapOutcome.Unsealed:
                Interlocked.Increment(ref run.Failed);
                Log.RewrapUnsealed(_logger, name, run.CurrentKeyId, RewrapAttempts);
                break;
            default:
                Interlocked.Increment(ref run.Failed);
                Log.RewrapSkipped(_logger, name);
                break;
        }
    }

    /// <summary>
    /// Moves one record under the current key by compare-and-swap, reading it again when it was written in between;
    /// gives up (<see cref="RewrapOutcome.Outpaced"/>) when it was written again under an older key at every attempt.
    /// </summary>
    private async ValueTask<RewrapOutcome> RewrapAsync(StoreEntry entry, RewrapRun run, CancellationToken cancellationToken)
    {
        for (var attempt = 1; ; attempt++)
        {
            var header = SecretRecord.ReadHeader(entry.Key, entry.Value.Span);
            var envelope = entry.Value[header.Length..];
            if (IsCurrent(envelope.Span, run.CurrentKeyId))
            {
                return RewrapOutcome.NoMove;
            }

            if (attempt > RewrapAttempts)
            {
                return RewrapOutcome.Outpaced;
            }

            // The record gets a new store revision, but its data does not change: the header keeps the secret's revision.
            var keptHeader = SecretRecord.BuildHeader(header.Type, header.CreatedAt, header.UpdatedAt, header.RevisionAt(entry.Revision));
            var plaintext = await encryptor.DecryptAsync(EnvelopePurpose.Store, envelope, SecretRecord.AssociatedData(entry.Key, entry.Value.Span[..header.Length]), cancellationToken)
                .ConfigureAwait(false);
            EncryptResult? sealedData;
            try
            {
                sealedData = await SealUnderCurrentKeyAsync(plaintext, SecretRecord.AssociatedData(entry.Key, keptHeader), run, cancellationToken).ConfigureAwait(false);
            }
            finally
            {
                CryptographicOperations.ZeroMemory(plaintext);
            }

            if (sealedData is null)
            {
                return RewrapOutcome.Unsealed;
            }

            // A rotation made since the rewrap began may have put the record under the key it now moves records to.
            if (IsCurrent(envelope.Span, run.CurrentKeyId))
            {
                return RewrapOutcome.NoMove;
            }

            byte[] record = [.. keptHeader, .. sealedData.Ciphertext];
            try
            {
                await store.UpdateAsync(entry.Key, record, entry.Revision, cancellationToken).ConfigureAwait(false);
                return RewrapOutcome.Moved;
            }
            catch (SecretConflictException)
            {
                // Written since we read it: look again, the writer may already have used the current key. A writer
                // still on an older key (an instance that has not yet seen the rotation) can win every time; the
                // record is then left to the next rewrap rather than the whole rewrap failing as a conflict.
            }
            catch (SecretNotFoundException)
            {
                return RewrapOutcome.NoMove;
            }

            var latest = await store.GetAsync(entry.Key, cancellationToken).ConfigureAwait(false);
            if (latest is null)
            {
                return RewrapOutcome.NoMove;
            }

            entry = latest;
        }
    }

    /// <summary>
    /// Seals a record's data for the store under the current key. The encryptor's data key may have been wrapped under
    /// an older key (made by a write that was under way as the rotation was seen): such a key is retired and the data
    /// sealed again under a new one. A key provider that wraps under another key may have rotated again since the
    /// rewrap began: asked once, its newest key becomes the one the rewrap moves records to. Null when the key provider
    /// wrapped under another key at every attempt.
    /// </summary>
    private async ValueTask<EncryptResult?> SealUnderCurrentKeyAsync(byte[] plaintext, byte[] context, RewrapRun run, CancellationToken cancellationToken)
    {
        var asked = false;
        for (var attempt = 1; attempt <= RewrapAttempts; attempt++)
        {
            var sealedData = await encryptor.EncryptAsync(EnvelopePurpose.Store, plaintext, context, cancellationToken).ConfigureAwait(false);
            if (sealedData.KeyId == run.CurrentKeyId)
            {
                return sealedData;
            }

            if (!asked)
            {
                asked = true;
                var latest = await provider.RefreshCurrentKeyAsync(cancellationToken).ConfigureAwait(false);
                run.CurrentKeyId = latest.KeyId;
                if (sealedData.KeyId == latest.KeyId)
                {
                    encryptor.RetireUnlessWrappedBy(latest.KeyId);
                    return sealedData;
                }
            }

            encryptor.RetireUnlessWrappedBy(run.CurrentKeyId);
        }

        return null;
    }

    /// <summary>
    /// Whether a record's envelope is under the current key and names the store's purpose: a format 1 envelope, whose
    /// data key every purpose shared, is rewrapped even under the current key.
    /// </summary>
    private static bool IsCurrent(ReadOnlySpan<byte> envelope, string currentKeyId)
    {
        var layout = EnvelopeFormat.Parse(envelope);
        return layout.Purpose == EnvelopePurpose.Store && Encoding.UTF8.GetString(envelope[layout.KeyId]) == currentKeyId;
    }

    /// <summary>
    /// A rewrap under way: the key it moves records to, which a rotation made meanwhile replaces, and its counts, added to
    /// by the records rewrapped in parallel.
    /// </summary>
    private sealed class RewrapRun(string currentKeyId)
    {
        public long Rewrapped;
        public long Skipped;
        public long Failed;
        private string _currentKeyId = currentKeyId;

        public string CurrentKeyId
        {
            get => Volatile.Read(ref _currentKeyId);
            set => Volatile.Write(ref _currentKeyId, value);
        }

        /// <summary>The counts so far, read while records may still be counted.</summary>
        public RewrapResult Counts() =>
            new(Interlocked.Read(ref Rewrapped), Interlocked.Read(ref Skipped), Interlocked.Read(ref Failed)) { KeyId = CurrentKeyId };
    }

    /// <summary>
    /// The rewrap under way in this process toward <paramref name="KeyId"/>: its counts (<paramref name="Progress"/>),
    /// which a caller that stops waiting reports, and the call its callers share.
    /// </summary>
    private sealed record SharedRewrap(string KeyId, RewrapRun Progress, SharedCall<RewrapResult> Call);

    /// <summary>What became of one record a rewrap looked at.</summary>
    private enum RewrapOutcome
    {
        /// <summary>Sealed anew under the current key.</summary>
        Moved,

        /// <summary>Already under the current key, or deleted.</summary>
        NoMove,

        /// <summary>Written again under an older key at each attempt: left as it is.</summary>
        Outpaced,

        /// <summary>Sealed by the key provider under another key than the current one at each attempt: left as it is.</summary>
        Unsealed,

        /// <summary>Cannot be decrypted (damaged, or from another key provider): left as it is.</summary>
        Undecryptable,
    }
}
