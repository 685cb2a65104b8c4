using System.Runtime.CompilerServices;
using System.Text;
using System.Threading.Channels;
using Etcdserverpb;
using Google.Protobuf;
using Grpc.Core;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Mvccpb;
using Polly;
using Polly.Retry;
using Trousseau.Etcd.Internal;

namespace Trousseau.Etcd;

/// <summary>
/// Encrypted secret records in etcd v3, through its gRPC API, under <c>Etcd:Prefix</c>. Creates, updates and
/// deletes are transactions that compare the key's create or mod revision, so concurrent writers (other
/// trousseaud instances included) never overwrite each other; a record's revision is etcd's <c>mod_revision</c>.
/// Values are envelopes only: etcd never sees a plaintext.
/// </summary>
/// <remarks>
/// Each record <c>&lt;prefix&gt;&lt;key&gt;</c> has a head entry, <c>&lt;prefix&gt;</c>, the byte 0xFF, then the key,
/// holding the record's first <see cref="StoreEntryHead.MaxLength"/> bytes, written in the same transaction as the
/// record. A listing reads keys without values, then the head entries of those keys, so it never transfers a
/// record. UTF-8 keys never hold the byte 0xFF, so head entries and records never collide. A head entry older than
/// its record (the record was written by a build without head entries) is not trusted: the listing reads that
/// record once and writes its head entry. A write whose answer was lost (the connection dropped after it was sent) is
/// read back: when etcd holds what was written, the write succeeded at that revision.
/// </remarks>
public sealed class EtcdSecretStore : IWatchableSecretStore
{
    /// <summary>The store's name in configuration (<c>Trousseau:Store=etcd</c>).</summary>
    public const string StoreName = "etcd";

    /// <summary>
    /// How many changes a watch holds for a reader that falls behind; beyond them it stops reading etcd's stream until
    /// the reader catches up, and etcd keeps the rest (or, once it has compacted them, the reader gets a reset).
    /// </summary>
    private const int WatchBuffer = 1024;

    private readonly EtcdConnection _etcd;
    private readonly string _prefix;
    private readonly ByteString _prefixBytes;
    private readonly ILogger _logger;
    private readonly TimeProvider _time;
    private readonly Lock _watchesLock = new();
    private readonly List<EtcdWatchFailures> _watches = [];

    internal EtcdSecretStore(EtcdConnection etcd, IOptions<EtcdStoreOptions> options, ILogger logger, TimeProvider time)
    {
        _etcd = etcd;
        _prefix = options.Value.Prefix;
        _prefixBytes = ByteString.CopyFromUtf8(_prefix);
        _logger = logger;
        _time = time;
    }

    /// <inheritdoc />
    public string Name => StoreName;

    /// <inheritdoc />
    public async ValueTask<StoreEntry?> GetAsync(string key, CancellationToken cancellationToken = default)
    {
        var response = await _etcd.RangeAsync(new RangeRequest { Key = Encode(key) }, cancellationToken).ConfigureAwait(false);
        return response.Kvs is [var kv, ..] ? new StoreEntry(ToKey(kv.Key), kv.Value.Memory, kv.ModRevision) : null;
    }

    /// <inheritdoc />
    public async ValueTask<long> CreateAsync(string key, ReadOnlyMemory<byte> value, CancellationToken cancellationToken = default)
    {
        var encoded = Encode(key);
        var txn = new TxnRequest
        {
            Compare = { new Compare { Key = encoded, Result = Compare.Types.CompareResult.Equal, Target = Compare.Types.CompareTarget.Create, CreateRevision = 0 } },
            Success = { Put(encoded, value.Span), PutHead(key, value.Span) },
        };
        var response = await _etcd.TxnAsync(txn, ct => LandedAsync(key, value, ct), cancellationToken).ConfigureAwait(false);
        return response.Succeeded ? response.Header.Revision : throw new SecretConflictException(key, SecretConflictReason.AlreadyExists);
    }

    /// <inheritdoc />
    public async ValueTask<long> UpdateAsync(string key, ReadOnlyMemory<byte> value, long expectedRevision, CancellationToken cancellationToken = default)
    {
        var encoded = Encode(key);
        var txn = new TxnRequest
        {
            Compare = { ModRevisionIs(encoded, expectedRevision) },
            Success = { Put(encoded, value.Span), PutHead(key, value.Span) },
            Failure = { new RequestOp { RequestRange = new RangeRequest { Key = encoded, KeysOnly = true } } },
        };
        var response = await _etcd.TxnAsync(txn, ct => LandedAsync(key, value, ct), cancellationToken).ConfigureAwait(false);
        return response.Succeeded ? response.Header.Revision : throw Refused(key, response);
    }

    /// <inheritdoc />
    public async ValueTask DeleteAsync(string key, long? expectedRevision = null, CancellationToken cancellationToken = default)
    {
        var encoded = Encode(key);
        var txn = new TxnRequest
        {
            Compare =
            {
                expectedRevision is { } revision
                    ? ModRevisionIs(encoded, revision)
                    : new Compare { Key = encoded, Result = Compare.Types.CompareResult.Greater, Target = Compare.Types.CompareTarget.Create, CreateRevision = 0 },
            },
            Success =
            {
                new RequestOp { RequestDeleteRange = new DeleteRangeRequest { Key = encoded } },
                new RequestOp { RequestDeleteRange = new DeleteRangeRequest { Key = HeadKey(key) } },
            },
            Failure = { new RequestOp { RequestRange = new RangeRequest { Key = encoded, KeysOnly = true } } },
        };
        var response = await _etcd.TxnAsync(txn, ct => GoneAsync(encoded, ct), cancellationToken).ConfigureAwait(false);
        if (!response.Succeeded)
        {
            throw Refused(key, response);
        }
    }

    /// <inheritdoc />
    public async ValueTask<StorePage> ListAsync(string prefix, string? startAfter, int limit, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(prefix);
        ArgumentOutOfRangeException.ThrowIfLessThan(limit, 1);
        var start = Encoding.UTF8.GetBytes(_prefix + prefix);
        var from = start;
        if (startAfter is not null)
        {
            byte[] after = [.. Encoding.UTF8.GetBytes(_prefix + startAfter), 0];
            if (after.AsSpan().SequenceCompareTo(start) > 0)
            {
                from = after;
            }
        }

        // No sort order: etcd returns keys in ascending order anyway, and asking for one makes it read the whole rest
        // of the range before it applies the limit.
        var keys = await _etcd.RangeAsync(
            new RangeRequest { Key = ByteString.CopyFrom(from), RangeEnd = ByteString.CopyFrom(RangeEnd(prefix, start)), Limit = limit, KeysOnly = true },
            cancellationToken).ConfigureAwait(false);
        if (keys.Kvs is not [var first, ..] kvs)
        {
            return new StorePage([], HasMore: false);
        }

        // The head entries of exactly these keys, at the same revision: one consistent view of the page. When etcd no
        // longer holds that revision (compacted since the keys were read, or etcd went back), the head entries as they
        // are now: one is then trusted only when it was written with the very record read, at its revision.
        var headsRange = new RangeRequest { Key = HeadKey(ToKey(first.Key)), RangeEnd = ByteString.CopyFrom([.. HeadKey(ToKey(kvs[^1].Key)).Span, 0]), Revision = keys.Header.Revision };
        RangeResponse heads;
        try
        {
            heads = await _etcd.RangeAsync(headsRange, cancellationToken).ConfigureAwait(false);
        }
        catch (DependencyUnavailableException e) when (EtcdConnection.IsRevisionGone(e))
        {
            headsRange.Revision = 0;
            heads = await _etcd.RangeAsync(headsRange, cancellationToken).ConfigureAwait(false);
        }

        var pinned = headsRange.Revision != 0;
        var headsByKey = new Dictionary<string, KeyValue>(StringComparer.Ordinal);
        foreach (var head in heads.Kvs)
        {
            headsByKey[FromHeadKey(head.Key)] = head;
        }

        var entries = new List<StoreEntryHead>(kvs.Count);
        foreach (var kv in kvs)
        {
            var key = ToKey(kv.Key);
            if (headsByKey.TryGetValue(key, out var head) && (pinned ? head.ModRevision >= kv.ModRevision : head.ModRevision == kv.ModRevision))
            {
                entries.Add(new StoreEntryHead(key, head.Value.Memory, kv.ModRevision));
            }
            else if (await WriteHeadAsync(key, cancellationToken).ConfigureAwait(false) is { } written)
            {
                entries.Add(written);
            }
        }

        return new StorePage(entries, keys.More);
    }

    /// <inheritdoc />
    /// <remarks>
    /// A reader that falls behind holds back the watch: at most 1,024 changes wait in memory, and etcd keeps the rest
    /// until the reader takes them (or reports a reset once it has compacted them).
    /// </remarks>
    public async IAsyncEnumerable<StoreChange> WatchAsync(string prefix, [EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(prefix);
        using var stop = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        var channel = Channel.CreateBounded<StoreChange>(new BoundedChannelOptions(WatchBuffer) { FullMode = BoundedChannelFullMode.Wait, SingleReader = true, SingleWriter = true });
        var pump = PumpWatchAsync(prefix, channel.Writer, stop.Token);
        try
        {
            await foreach (var change in channel.Reader.ReadAllAsync(cancellationToken).ConfigureAwait(false))
            {
                yield return change;
            }
        }
        finally
        {
            await stop.CancelAsync().ConfigureAwait(false);
            await pump.ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
        }
    }

    /// <summary>
    /// Keeps one etcd watch stream open and forwards its events; after a connection loss it resumes after the last
    /// revision seen (also when etcd cancels the watch). Each failure that makes it open its stream again goes to
    /// <see cref="EtcdWatchFailures"/>, which logs it and feeds the store's health. After a compaction of the history
    /// it missed, when etcd is found behind that revision (its data lost or restored from an older snapshot), or when another etcd cluster
    /// answers, it reports a reset and goes on right after a revision read before the reset was reported, so that
    /// nothing written after the reader's reload is missed, and nothing of another history is passed on as a change.
    /// Every answer's header feeds the store's health (<see cref="EtcdHistory"/>). A failure it does not retry ends the
    /// watch: the reader sees it.
    /// </summary>
    private async Task PumpWatchAsync(string prefix, ChannelWriter<StoreChange> changes, CancellationToken cancellationToken)
    {
        var start = Encoding.UTF8.GetBytes(_prefix + prefix);
        var key = ByteString.CopyFrom(start);
        var end = ByteString.CopyFrom(RangeEnd(prefix, start));
        long? next = null;
        ulong cluster = 0;
        Exception? failure = null;
        var failures = new EtcdWatchFailures(_prefix + prefix, _logger, _time);
        var retry = WatchRetry(failures);
        lock (_watchesLock)
        {
            _watches.Add(failures);
        }

        try
        {
            while (!cancellationToken.IsCancellationRequested)
            {
                await retry.ExecuteAsync(FollowAsync, cancellationToken).ConfigureAwait(false);
            }
        }
        catch (Exception e) when (!cancellationToken.IsCancellationRequested)
        {
            failure = e;
        }
        finally
        {
            lock (_watchesLock)
            {
                _watches.Remove(failures);
            }

            changes.TryComplete(failure);
        }

        // Where the watch goes on after a reset: right after the revision of a linearizable read answered after etcd
        // was found to have lost the history (here, by the cluster that answered it). The reader reads everything again
        // once it sees the reset, so a write made meanwhile is not skipped. Returns the revision the reset names.
        long RestartAfter(ResponseHeader now)
        {
            next = now.Revision + 1;
            cluster = now.ClusterId;
            return now.Revision;
        }

        // One watch stream, from the revision after the last one seen. It returns when it should be opened again at
        // once: after a reset, or when it broke after it had worked. Any other end is a failure, retried later.
        async ValueTask FollowAsync(CancellationToken token)
        {
            if (next is null)
            {
                RestartAfter(await CurrentAsync(token).ConfigureAwait(false));
            }

            using var call = _etcd.Watch(token);
            await call.RequestStream.WriteAsync(
                new WatchRequest { CreateRequest = new WatchCreateRequest { Key = key, RangeEnd = end, StartRevision = next!.Value } }, token).ConfigureAwait(false);
            var worked = false;
            try
            {
                while (await call.ResponseStream.MoveNext(token).ConfigureAwait(false))
                {
                    var response = call.ResponseStream.Current;
                    _etcd.History.ObserveWatch(response.Header);
                    if (response.CompactRevision != 0)
                    {
                        // A compaction's answer carries no revision of its own.
                        RestartAfter(await CurrentAsync(token).ConfigureAwait(false));
                        await changes.WriteAsync(new StoreChange(null, StoreChangeKind.Reset, response.CompactRevision), token).ConfigureAwait(false);
                        return;
                    }

                    if (response.Canceled)
                    {
                        // Not for lost history (permissions, for example): watch again later from the same revision.
                        // etcd cancels a watch opened with an expired token as "permission denied", and no status
                        // tells the channel to drop that token: sign in again, or every new attempt would present it.
                        _etcd.SignInAgain();
                        throw new DependencyUnavailableException(EtcdConnection.Dependency, $"etcd cancelled the watch at {_etcd.Members} ({response.CancelReason}).");
                    }

                    if (await HistoryLostAsync(response.Header, token).ConfigureAwait(false) is { } reset)
                    {
                        await changes.WriteAsync(new StoreChange(null, StoreChangeKind.Reset, reset), token).ConfigureAwait(false);
                        return;
                    }

                    if (!worked)
                    {
                        failures.Worked(_etcd.Members);
                    }

                    worked = true;
                    foreach (var change in response.Events)
                    {
                        next = change.Kv.ModRevision + 1;
                        var kind = change.Type == Event.Types.EventType.Delete ? StoreChangeKind.Delete : StoreChangeKind.Put;
                        await changes.WriteAsync(new StoreChange(ToKey(change.Kv.Key), kind, change.Kv.ModRevision), token).ConfigureAwait(false);
                    }
                }
            }
            catch (Exception e) when (worked && IsTransient(e) && !token.IsCancellationRequested)
            {
                failures.Failed(Reason(e));
                return;
            }

            if (!worked)
            {
                throw new DependencyUnavailableException(EtcdConnection.Dependency, $"etcd ended the watch stream at {_etcd.Members} before it answered.");
            }
        }

        // Whether the history this watch follows is gone, and if so the revision its reset names. Another cluster
        // answering: its revisions are another history, which the watch would pass on as changes. A member behind a
        // revision the watch has seen: it may only lag, or etcd came back without its data or from an older snapshot,
        // where waiting for the revision to come round would miss every change until then; a linearizable read tells
        // which (and its answer feeds the store's health). An answer without a cluster id or a revision says nothing.
        async ValueTask<long?> HistoryLostAsync(ResponseHeader? header, CancellationToken token)
        {
            if (header is null)
            {
                return null;
            }

            cluster = cluster == 0 ? header.ClusterId : cluster;
            var seen = next!.Value - 1;
            var otherCluster = header.ClusterId != 0 && header.ClusterId != cluster;
            if (!otherCluster && (header.Revision <= 0 || header.Revision >= seen))
            {
                return null;
            }

            var now = await CurrentAsync(token).ConfigureAwait(false);
            return !otherCluster && now.ClusterId == cluster && now.Revision >= seen ? null : RestartAfter(now);
        }
    }

    /// <inheritdoc />
    /// <remarks>
    /// Degraded (still serving calls) once etcd answered as another cluster than the one first answered with, or went
    /// back to a revision below one it had answered with: secrets written before are then missing unless it was
    /// restored from a snapshot that holds them. It stays so until the process restarts, or, for another cluster,
    /// until the first one answers again. Degraded too while a watch of this store has been failing for longer than a
    /// minute: changes under its prefix are then not followed.
    /// </remarks>
    public async ValueTask<DependencyHealth> CheckHealthAsync(CancellationToken cancellationToken = default)
    {
        try
        {
            var response = await _etcd.RangeAsync(new RangeRequest { Key = Encode("health-probe"), Limit = 1 }, cancellationToken).ConfigureAwait(false);
            var healthy = $"etcd store under '{_prefix}', revision {response.Header.Revision}";
            if (_etcd.History.Change is { } change)
            {
                return DependencyHealth.Degraded($"{healthy}, but {change}");
            }

            return WatchTrouble() is { } trouble ? DependencyHealth.Degraded($"{healthy}, but {trouble}") : DependencyHealth.Healthy(healthy);
        }
        catch (DependencyUnavailableException e)
        {
            return DependencyHealth.Unhealthy(e.Message);
        }
    }

    /// <summary>
    /// Reads a record whose head entry is missing or older than the record, and writes its head entry if the record
    /// is still the one read; returns what the listing shows, or <see langword="null"/> when the record is gone.
    /// </summary>
    private async Task<StoreEntryHead?> WriteHeadAsync(string key, CancellationToken cancellationToken)
    {
        if (await GetAsync(key, cancellationToken).ConfigureAwait(false) is not { } entry)
        {
            return null;
        }

        var head = entry.Value[..Math.Min(entry.Value.Length, StoreEntryHead.MaxLength)];
        var txn = new TxnRequest { Compare = { ModRevisionIs(Encode(key), entry.Revision) }, Success = { PutHead(key, head.Span) } };
        await _etcd.TxnAsync(txn, _ => Task.FromResult<long?>(null), cancellationToken).ConfigureAwait(false);
        return new StoreEntryHead(key, head, entry.Revision);
    }

    /// <summary>After a write whose answer was lost: the revision at which etcd holds exactly <paramref name="value"/> under the key, if it does.</summary>
    private async Task<long?> LandedAsync(string key, ReadOnlyMemory<byte> value, CancellationToken cancellationToken) =>
        await GetAsync(key, cancellationToken).ConfigureAwait(false) is { } entry && entry.Value.Span.SequenceEqual(value.Span) ? entry.Revision : null;

    /// <summary>After a delete whose answer was lost: the current revision if the key is gone.</summary>
    private async Task<long?> GoneAsync(ByteString encoded, CancellationToken cancellationToken)
    {
        var response = await _etcd.RangeAsync(new RangeRequest { Key = encoded, KeysOnly = true }, cancellationToken).ConfigureAwait(false);
        return response.Kvs.Count == 0 ? response.Header.Revision : null;
    }

    /// <summary>Whether the watch outlives <paramref name="e"/>: etcd unavailable, a broken stream, a lost connection.</summary>
    private static bool IsTransient(Exception e) => e is TrousseauException or RpcException or IOException;

    /// <summary>
    /// How a watch waits before it opens its stream again after a failure (each one told to <paramref name="failures"/>):
    /// exponential backoff with jitter from 250 ms to 5 s, for as long as the watch is read.
    /// </summary>
    private ResiliencePipeline WatchRetry(EtcdWatchFailures failures) => new ResiliencePipelineBuilder()
        .AddRetry(new RetryStrategyOptions
        {
            ShouldHandle = args => ValueTask.FromResult(args.Outcome.Exception is { } e && IsTransient(e) && !args.Context.CancellationToken.IsCancellationRequested),
            OnRetry = args =>
            {
                failures.Failed(Reason(args.Outcome.Exception!));
                return default;
            },
            BackoffType = DelayBackoffType.Exponential,
            UseJitter = true,
            Delay = TimeSpan.FromMilliseconds(250),
            MaxDelay = TimeSpan.FromSeconds(5),
            MaxRetryAttempts = int.MaxValue,
        })
        .Build();

    /// <summary>A failure of the watch in one sentence naming the member, as <see cref="EtcdConnection"/> words a failed call.</summary>
    private string Reason(Exception e) => e switch
    {
        RpcException rpc => _etcd.WatchFailure(rpc).Message,
        TrousseauException known => known.Message,
        _ => $"the connection to {_etcd.Members} broke under the watch ({e.Message.TrimEnd('.')}).",
    };

    /// <summary>What the store's health says of the first of its running watches that has been failing for longer than a minute.</summary>
    private string? WatchTrouble()
    {
        lock (_watchesLock)
        {
            return _watches.Select(w => w.Trouble).FirstOrDefault(t => t is not null);
        }
    }

    /// <summary>The header of a linearizable read: the cluster that answers and its revision now.</summary>
    private async Task<ResponseHeader> CurrentAsync(CancellationToken cancellationToken) =>
        (await _etcd.RangeAsync(new RangeRequest { Key = Encode("watch-probe"), Limit = 1 }, cancellationToken).ConfigureAwait(false)).Header;

    private string ToKey(ByteString encoded) => Encoding.UTF8.GetString(encoded.Span[_prefixBytes.Length..]);

    private ByteString Encode(string key)
    {
        ArgumentNullException.ThrowIfNull(key);
        return ByteString.CopyFromUtf8(_prefix + key);
    }

    /// <summary>Where the head entry of <paramref name="key"/> lives: the prefix, the byte 0xFF, then the key.</summary>
    private ByteString HeadKey(string key) => ByteString.CopyFrom([.. _prefixBytes.Span, 0xFF, .. Encoding.UTF8.GetBytes(key)]);

    private string FromHeadKey(ByteString encoded) => Encoding.UTF8.GetString(encoded.Span[(_prefixBytes.Length + 1)..]);

    private static RequestOp Put(ByteString key, ReadOnlySpan<byte> value) =>
        new() { RequestPut = new PutRequest { Key = key, Value = ByteString.CopyFrom(value) } };

    private RequestOp PutHead(string key, ReadOnlySpan<byte> value) => Put(HeadKey(key), value[..Math.Min(value.Length, StoreEntryHead.MaxLength)]);

    private static Compare ModRevisionIs(ByteString key, long revision) =>
        new() { Key = key, Result = Compare.Types.CompareResult.Equal, Target = Compare.Types.CompareTarget.Mod, ModRevision = revision };

    /// <summary>
    /// The end of the range of records under <paramref name="prefix"/>, which starts at <paramref name="start"/>;
    /// under the empty prefix, it stops before the head entries.
    /// </summary>
    private byte[] RangeEnd(string prefix, byte[] start) =>
        prefix.Length == 0 ? [.. _prefixBytes.Span, 0xFF] : PrefixEnd(start);

    private static Exception Refused(string key, TxnResponse txn) =>
        txn.Responses is [{ ResponseRange.Kvs.Count: > 0 }, ..]
            ? new SecretConflictException(key, SecretConflictReason.RevisionMismatch)
            : new SecretNotFoundException(key);

    /// <summary>The smallest key greater than every key starting with <paramref name="prefix"/> (etcd's prefix range end).</summary>
    private static byte[] PrefixEnd(byte[] prefix)
    {
        var end = prefix.ToArray();
        for (var i = end.Length - 1; i >= 0; i--)
        {
            if (end[i] < 0xFF)
            {
                end[i]++;
                return end[..(i + 1)];
            }
        }

        return [0];
    }
}
