using System.Net.Http.Json;
using System.Text.Json;
using BenchmarkDotNet.Attributes;
using Microsoft.Extensions.DependencyInjection;

namespace Trousseau.Benchmarks;

/// <summary>
/// Secret get and update through <see cref="ITrousseau"/> on etcd, beside the same etcd operations through its
/// JSON gateway with a value of the same size and no encryption: the gap is what Trousseau adds.
/// </summary>
[MemoryDiagnoser]
[MedianColumn]
public class EtcdBenchmarks : IDisposable
{
    private EtcdServer _etcd = null!;
    private ServiceProvider _services = null!;
    private ITrousseau _trousseau = null!;
    private HttpClient _raw = null!;
    private Dictionary<string, string> _data = null!;
    private string _rawKey = null!;
    private string _rawValue = null!;

    [GlobalSetup]
    public void Setup()
    {
        _etcd = new EtcdServer();
        _raw = _etcd.Http;

        var services = new ServiceCollection();
        services.AddTrousseau(_ => { })
            .UseLocalKeyRing(ring => ring.KeyFile = Path.Combine(_etcd.Directory, "ring.json"))
            .UseEtcdStore(etcd => etcd.Endpoints.Add(_etcd.ClientUrl));
        _services = services.BuildServiceProvider();
        _trousseau = _services.GetRequiredService<ITrousseau>();
        _data = new Dictionary<string, string>(StringComparer.Ordinal) { ["username"] = "app", ["password"] = new string('p', 32) };
        _trousseau.CreateSecretAsync("bench/login", SecretType.Login, _data).AsTask().GetAwaiter().GetResult();

        // The raw baseline stores a value as large as the encrypted record, under its own key.
        var stored = Range("/trousseau/bench/login").GetProperty("kvs")[0].GetProperty("value").GetString()!;
        _rawKey = Convert.ToBase64String("/raw/bench/login"u8.ToArray());
        _rawValue = Convert.ToBase64String(new byte[Convert.FromBase64String(stored).Length]);
        Post("v3/kv/put", new { key = _rawKey, value = _rawValue }).Dispose();
    }

    [Benchmark(Baseline = true, Description = "raw etcd get (same size)")]
    public async Task<JsonElement> RawGet()
    {
        using var response = await _raw.PostAsJsonAsync("v3/kv/range", new { key = _rawKey });
        return await response.Content.ReadFromJsonAsync<JsonElement>();
    }

    [Benchmark(Description = "ITrousseau get secret")]
    public ValueTask<Secret> TrousseauGet() => _trousseau.GetSecretAsync("bench/login");

    [Benchmark(Description = "raw etcd read + CAS put (same size)")]
    public async Task<JsonElement> RawUpdate()
    {
        using var read = await _raw.PostAsJsonAsync("v3/kv/range", new { key = _rawKey });
        var revision = (await read.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("kvs")[0].GetProperty("mod_revision").GetString();
        using var txn = await _raw.PostAsJsonAsync("v3/kv/txn", new
        {
            compare = new[] { new { key = _rawKey, result = "EQUAL", target = "MOD", mod_revision = revision } },
            success = new[] { new { request_put = new { key = _rawKey, value = _rawValue } } },
        });
        return await txn.Content.ReadFromJsonAsync<JsonElement>();
    }

    [Benchmark(Description = "ITrousseau update secret")]
    public ValueTask<SecretMetadata> TrousseauUpdate() => _trousseau.UpdateSecretAsync("bench/login", _data);

    [GlobalCleanup]
    public void Dispose()
    {
        _services?.Dispose();
        _etcd?.Dispose();
        GC.SuppressFinalize(this);
    }

    private JsonElement Range(string key)
    {
        using var response = Post("v3/kv/range", new { key = Convert.ToBase64String(System.Text.Encoding.UTF8.GetBytes(key)) });
        return response.Content.ReadFromJsonAsync<JsonElement>().GetAwaiter().GetResult();
    }

    private HttpResponseMessage Post(string path, object body) => _raw.PostAsJsonAsync(path, body).GetAwaiter().GetResult();
}
