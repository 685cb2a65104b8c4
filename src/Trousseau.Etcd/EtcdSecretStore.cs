using System.Globalization;
using System.Runtime.CompilerServices;
using System.Text;
using System.Threading.Channels;
using Microsoft.Extensions.Options;
using Trousseau.Etcd.Internal;

namespace Trousseau.Etcd;

/// <summary>
/// Encrypted secret records in etcd v3, through its JSON gateway, under <c>Etcd:Prefix</c>. Creates, updates and
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
/// record once and writes its head entry.
/// </remarks>
public sealed class EtcdSecretStore : IWatchableSecretStore
{
    /// <summary>The store's name in configuration (<c>Trousseau:Store=etcd</c>).</summary>
    public const string StoreName = "etcd";

    private readonly EtcdGateway _gateway;
    private readonly string _prefix;

    internal EtcdSecretStore(EtcdGateway gateway, IOptions<EtcdStoreOptions> options)
    {
        _gateway = gateway;
        _prefix = options.Value.Prefix;
    }

    /// <inheritdoc />
    public string Name => StoreName;

    /// <inheritdoc />
    public async ValueTask<StoreEntry?> GetAsync(string key, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(key);
        var response = await RangeAsync(new RangeRequest(Encode(key)), cancellationToken).ConfigureAwait(false);
        return response.Kvs is [var kv, ..] ? ToEntry(kv) : null;
    }

    /// <inheritdoc />
    public async ValueTask<long> CreateAsync(string key, ReadOnlyMemory<byte> value, CancellationToken cancellationToken = default)
    {
        var encoded = Encode(key);
        var txn = await TxnAsync(
            new TxnRequest(
                [new Compare(encoded, "EQUAL", "CREATE", CreateRevision: "0")],
                [new RequestOp(RequestPut: new PutRequest(encoded, Convert.ToBase64String(value.Span))), PutHead(key, value.Span)],
                []),
            cancellationToken).ConfigureAwait(false);
        return txn.Succeeded ? Revision(txn.Header) : throw new SecretConflictException(key, SecretConflictReason.AlreadyExists);
    }

    /// <inheritdoc />
    public async ValueTask<long> UpdateAsync(string key, ReadOnlyMemory<byte> value, long expectedRevision, CancellationToken cancellationToken = default)
    {
        var encoded = Encode(key);
        var txn = await TxnAsync(
            new TxnRequest(
                [new Compare(encoded, "EQUAL", "MOD", ModRevision: expectedRevision.ToString(CultureInfo.InvariantCulture))],
                [new RequestOp(RequestPut: new PutRequest(encoded, Convert.ToBase64String(value.Span))), PutHead(key, value.Span)],
                [new RequestOp(RequestRange: new RangeRequest(encoded))]),
            cancellationToken).ConfigureAwait(false);
        return txn.Succeeded ? Revision(txn.Header) : throw Refused(key, txn);
    }

    /// <inheritdoc />
    public async ValueTask DeleteAsync(string key, long? expectedRevision = null, CancellationToken cancellationToken = default)
    {
        var encoded = Encode(key);
        var compare = expectedRevision is { } revision
            ? new Compare(encoded, "EQUAL", "MOD", ModRevision: revision.ToString(CultureInfo.InvariantCulture))
            : new Compare(encoded, "GREATER", "CREATE", CreateRevision: "0");
        var txn = await TxnAsync(
            new TxnRequest(
                [compare],
                [new RequestOp(RequestDeleteRange: new DeleteRangeRequest(encoded)), new RequestOp(RequestDeleteRange: new DeleteRangeRequest(Convert.ToBase64String(HeadKey(key))))],
                [new RequestOp(RequestRange: new RangeRequest(encoded))]),
            cancellationToken).ConfigureAwait(false);
        if (!txn.Succeeded)
        {
            throw Refused(key, txn);
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
        var keys = await RangeAsync(
            new RangeRequest(Convert.ToBase64String(from), Convert.ToBase64String(RangeEnd(prefix, start)), limit, KeysOnly: true),
            cancellationToken).ConfigureAwait(false);
        if (keys.Kvs is not [var first, ..] kvs)
        {
            return new StorePage([], HasMore: false);
        }

        // The head entries of exactly these keys, at the same revision: one consistent view of the page.
        var heads = await RangeAsync(
            new RangeRequest(Convert.ToBase64String(HeadKey(ToKey(first.Key))), Convert.ToBase64String([.. HeadKey(ToKey(kvs[^1].Key)), 0]), Revision: keys.Header?.Revision),
            cancellationToken).ConfigureAwait(false);
        var headsByKey = new Dictionary<string, KeyValue>(StringComparer.Ordinal);
        foreach (var head in heads.Kvs ?? [])
        {
            headsByKey[FromHeadKey(head.Key)] = head;
        }

        var entries = new List<StoreEntryHead>(kvs.Count);
        foreach (var kv in kvs)
        {
            var key = ToKey(kv.Key);
            var revision = ParseRevision(kv.ModRevision);
            if (headsByKey.TryGetValue(key, out var head) && ParseRevision(head.ModRevision) >= revision)
            {
                entries.Add(new StoreEntryHead(key, head.Value is null ? ReadOnlyMemory<byte>.Empty : Convert.FromBase64String(head.Value), revision));
            }
            else if (await WriteHeadAsync(key, cancellationToken).ConfigureAwait(false) is { } written)
            {
                entries.Add(written);
            }
        }

        return new StorePage(entries, keys.More);
    }

    /// <inheritdoc />
    public async IAsyncEnumerable<StoreChange> WatchAsync(string prefix, [EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(prefix);
        using var stop = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        var channel = Channel.CreateUnbounded<StoreChange>(new UnboundedChannelOptions { SingleReader = true, SingleWriter = true });
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
    /// revision seen, and after a compaction it reports a reset and starts again from the current revision.
    /// </summary>
    private async Task PumpWatchAsync(string prefix, ChannelWriter<StoreChange> changes, CancellationToken cancellationToken)
    {
        var start = Encoding.UTF8.GetBytes(_prefix + prefix);
        var key = Convert.ToBase64String(start);
        var end = Convert.ToBase64String(RangeEnd(prefix, start));
        long? next = null;
        var backoff = TimeSpan.FromMilliseconds(250);
        while (!cancellationToken.IsCancellationRequested)
        {
            try
            {
                next ??= await CurrentRevisionAsync(cancellationToken).ConfigureAwait(false) + 1;
                using var response = await _gateway.OpenStreamAsync(
                    "watch", new WatchRequest(new WatchCreateRequest(key, end, next.Value.ToString(CultureInfo.InvariantCulture))), EtcdJson.Default.WatchRequest, cancellationToken).ConfigureAwait(false);
                using var reader = new StreamReader(await response.Content.ReadAsStreamAsync(cancellationToken).ConfigureAwait(false));
                backoff = TimeSpan.FromMilliseconds(250);
                while (await reader.ReadLineAsync(cancellationToken).ConfigureAwait(false) is { } line)
                {
                    if (System.Text.Json.JsonSerializer.Deserialize(line, EtcdJson.Default.WatchResponse)?.Result is not { } result)
                    {
                        break;
                    }

                    if (result.Canceled || result.CompactRevision is not null)
                    {
                        next = null;
                        await changes.WriteAsync(new StoreChange(null, StoreChangeKind.Reset, ParseRevisionOrZero(result.CompactRevision)), cancellationToken).ConfigureAwait(false);
                        break;
                    }

                    foreach (var change in result.Events ?? [])
                    {
                        if (change.Kv is { } kv)
                        {
                            var revision = ParseRevision(kv.ModRevision);
                            next = revision + 1;
                            await changes.WriteAsync(new StoreChange(ToKey(kv.Key), change.Type == "DELETE" ? StoreChangeKind.Delete : StoreChangeKind.Put, revision), cancellationToken).ConfigureAwait(false);
                        }
                    }
                }
            }
            catch (Exception e) when (e is TrousseauException or HttpRequestException or IOException or System.Text.Json.JsonException)
            {
                // etcd went away: wait, then resume after the last revision seen.
                await Task.Delay(backoff, cancellationToken).ConfigureAwait(false);
                backoff = TimeSpan.FromTicks(Math.Min(backoff.Ticks * 2, TimeSpan.FromSeconds(5).Ticks));
            }
        }
    }

    private static long ParseRevisionOrZero(string? value) =>
        long.TryParse(value, NumberStyles.None, CultureInfo.InvariantCulture, out var revision) ? revision : 0;

    /// <inheritdoc />
    public async ValueTask<DependencyHealth> CheckHealthAsync(CancellationToken cancellationToken = default)
    {
        try
        {
            var response = await RangeAsync(new RangeRequest(Encode("health-probe"), Limit: 1), cancellationToken).ConfigureAwait(false);
            return DependencyHealth.Healthy($"etcd store under '{_prefix}', revision {response.Header?.Revision}");
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

        var head = entry.Value[..Math.Min(entry.Value.Length, StoreEntryHead.MaxLength)].ToArray();
        await TxnAsync(
            new TxnRequest(
                [new Compare(Encode(key), "EQUAL", "MOD", ModRevision: entry.Revision.ToString(CultureInfo.InvariantCulture))],
                [PutHead(key, head)],
                []),
            cancellationToken).ConfigureAwait(false);
        return new StoreEntryHead(key, head, entry.Revision);
    }

    private async Task<long> CurrentRevisionAsync(CancellationToken cancellationToken) =>
        Revision((await RangeAsync(new RangeRequest(Encode("watch-probe"), Limit: 1), cancellationToken).ConfigureAwait(false)).Header);

    private string ToKey(string encoded) => Encoding.UTF8.GetString(Convert.FromBase64String(encoded))[_prefix.Length..];

    private Task<RangeResponse> RangeAsync(RangeRequest request, CancellationToken cancellationToken) =>
        _gateway.PostAsync("kv/range", request, EtcdJson.Default.RangeRequest, EtcdJson.Default.RangeResponse, cancellationToken);

    private Task<TxnResponse> TxnAsync(TxnRequest request, CancellationToken cancellationToken) =>
        _gateway.PostAsync("kv/txn", request, EtcdJson.Default.TxnRequest, EtcdJson.Default.TxnResponse, cancellationToken);

    private string Encode(string key)
    {
        ArgumentNullException.ThrowIfNull(key);
        return Convert.ToBase64String(Encoding.UTF8.GetBytes(_prefix + key));
    }

    /// <summary>Where the head entry of <paramref name="key"/> lives: the prefix, the byte 0xFF, then the key.</summary>
    private byte[] HeadKey(string key) => [.. Encoding.UTF8.GetBytes(_prefix), 0xFF, .. Encoding.UTF8.GetBytes(key)];

    private string FromHeadKey(string encoded) => Encoding.UTF8.GetString(Convert.FromBase64String(encoded).AsSpan(Encoding.UTF8.GetByteCount(_prefix) + 1));

    private RequestOp PutHead(string key, ReadOnlySpan<byte> value) =>
        new(RequestPut: new PutRequest(Convert.ToBase64String(HeadKey(key)), Convert.ToBase64String(value[..Math.Min(value.Length, StoreEntryHead.MaxLength)])));

    /// <summary>
    /// The end of the range of records under <paramref name="prefix"/>, which starts at <paramref name="start"/>;
    /// under the empty prefix, it stops before the head entries.
    /// </summary>
    private byte[] RangeEnd(string prefix, byte[] start) =>
        prefix.Length == 0 ? [.. Encoding.UTF8.GetBytes(_prefix), 0xFF] : PrefixEnd(start);

    private StoreEntry ToEntry(KeyValue kv)
    {
        return new StoreEntry(ToKey(kv.Key), kv.Value is null ? ReadOnlyMemory<byte>.Empty : Convert.FromBase64String(kv.Value), ParseRevision(kv.ModRevision));
    }

    private static Exception Refused(string key, TxnResponse txn) =>
        txn.Responses is [{ ResponseRange.Kvs: [_, ..] }, ..]
            ? new SecretConflictException(key, SecretConflictReason.RevisionMismatch)
            : new SecretNotFoundException(key);

    private static long Revision(ResponseHeader? header) => ParseRevision(header?.Revision);

    private static long ParseRevision(string? value) =>
        long.TryParse(value, NumberStyles.None, CultureInfo.InvariantCulture, out var revision) && revision > 0
            ? revision
            : throw new DependencyUnavailableException(EtcdGateway.Dependency, "etcd answered without a revision.");

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
