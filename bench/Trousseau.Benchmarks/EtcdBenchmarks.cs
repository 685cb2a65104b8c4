using BenchmarkDotNet.Attributes;
using dotnet_etcd;
using Etcdserverpb;
using Google.Protobuf;
using Microsoft.Extensions.DependencyInjection;

namespace Trousseau.Benchmarks;

/// <summary>
/// Secret get and update through <see cref="ITrousseau"/> on etcd, beside the same etcd operations made directly with
/// the same gRPC client (dotnet-etcd), on values of the same sizes and with no encryption: the gap is what Trousseau
/// adds. An update is one compare-and-swap transaction that writes the record and its head entry, as the store's is.
/// </summary>
[MemoryDiagnoser]
[MedianColumn]
public class EtcdBenchmarks : IDisposable
{
    private EtcdServer _etcd = null!;
    private ServiceProvider _services = null!;
    private ITrousseau _trousseau = null!;
    private EtcdClient _raw = null!;
    private Dictionary<string, string> _data = null!;
    private ByteString _rawKey = null!;
    private ByteString _rawHeadKey = null!;
    private ByteString _rawValue = null!;
    private ByteString _rawHead = null!;
    private long _rawRevision;

    [GlobalSetup]
    public void Setup()
    {
        _etcd = new EtcdServer();
        _raw = new EtcdClient(_etcd.ClientUrl.GetLeftPart(UriPartial.Authority));

        var services = new ServiceCollection();
        services.AddTrousseau(_ => { })
            .UseLocalKeyRing(ring => ring.KeyFile = Path.Combine(_etcd.Directory, "ring.json"))
            .UseEtcdStore(etcd => etcd.Endpoints.Add(_etcd.ClientUrl));
        _services = services.BuildServiceProvider();
        _trousseau = _services.GetRequiredService<ITrousseau>();
        _data = new Dictionary<string, string>(StringComparer.Ordinal) { ["username"] = "app", ["password"] = new string('p', 32) };
        _trousseau.CreateSecretAsync("bench/login", SecretType.Login, _data).AsTask().GetAwaiter().GetResult();

        // The raw baseline writes values as large as the encrypted record and its head entry, under keys of its own.
        var stored = _raw.Get(new RangeRequest { Key = ByteString.CopyFromUtf8("/trousseau/"), RangeEnd = ByteString.CopyFrom([0xFF]) }).Kvs;
        var record = stored.Single(kv => kv.Key.ToStringUtf8() == "/trousseau/bench/login");
        var head = stored.Single(kv => kv != record && kv.Key.Span.EndsWith("bench/login"u8));
        (_rawKey, _rawHeadKey) = (ByteString.CopyFromUtf8("/raw/bench/login"), ByteString.CopyFromUtf8("/raw/head/bench/login"));
        (_rawValue, _rawHead) = (ByteString.CopyFrom(new byte[record.Value.Length]), ByteString.CopyFrom(new byte[head.Value.Length]));
        _rawRevision = _raw.Put(new PutRequest { Key = _rawKey, Value = _rawValue }).Header.Revision;
    }

    [Benchmark(Baseline = true, Description = "raw etcd get (same size)")]
    public async Task<RangeResponse> RawGet() => await _raw.GetAsync(new RangeRequest { Key = _rawKey });

    [Benchmark(Description = "ITrousseau get secret")]
    public ValueTask<Secret> TrousseauGet() => _trousseau.GetSecretAsync("bench/login");

    [Benchmark(Description = "raw etcd CAS put of record and head (same sizes)")]
    public async Task<TxnResponse> RawUpdate()
    {
        var txn = await _raw.TransactionAsync(new TxnRequest
        {
            Compare = { new Compare { Key = _rawKey, Result = Compare.Types.CompareResult.Equal, Target = Compare.Types.CompareTarget.Mod, ModRevision = _rawRevision } },
            Success =
            {
                new RequestOp { RequestPut = new PutRequest { Key = _rawKey, Value = _rawValue } },
                new RequestOp { RequestPut = new PutRequest { Key = _rawHeadKey, Value = _rawHead } },
            },
        });
        _rawRevision = txn.Succeeded ? txn.Header.Revision : throw new InvalidOperationException("The raw compare-and-swap was refused.");
        return txn;
    }

    [Benchmark(Description = "ITrousseau update secret")]
    public ValueTask<SecretMetadata> TrousseauUpdate() => _trousseau.UpdateSecretAsync("bench/login", _data);

    [GlobalCleanup]
    public void Dispose()
    {
        _services?.Dispose();
        _raw?.Dispose();
        _etcd?.Dispose();
        GC.SuppressFinalize(this);
    }
}
