using BenchmarkDotNet.Attributes;
using BenchmarkDotNet.Engines;
using Microsoft.Extensions.DependencyInjection;

namespace Trousseau.Benchmarks;

/// <summary>
/// A rewrap after a rotation, as the worker and <c>POST /v1/keys/rewrap</c> run it: every one of
/// <see cref="Secrets"/> login secrets on etcd moves to the new key. Each iteration rotates the key ring first.
/// </summary>
[SimpleJob(RunStrategy.Monitoring, launchCount: 1, warmupCount: 1, iterationCount: 5)]
public class RewrapBenchmarks : IDisposable
{
    private EtcdServer _etcd = null!;
    private ServiceProvider _services = null!;
    private IKeyAdministration _keys = null!;

    /// <summary>How many secrets the store holds.</summary>
    [Params(2000)]
    public int Secrets { get; set; }

    [GlobalSetup]
    public void Setup()
    {
        _etcd = new EtcdServer();
        var services = new ServiceCollection();
        services.AddTrousseau(_ => { })
            .UseLocalKeyRing(ring => ring.KeyFile = Path.Combine(_etcd.Directory, "ring.json"))
            .UseEtcdStore(etcd => etcd.Endpoints.Add(_etcd.ClientUrl));
        _services = services.BuildServiceProvider();
        _keys = _services.GetRequiredService<IKeyAdministration>();
        var trousseau = _services.GetRequiredService<ITrousseau>();
        var data = new Dictionary<string, string>(StringComparer.Ordinal) { ["username"] = "app", ["password"] = new string('p', 32) };
        Parallel.For(0, Secrets, new ParallelOptions { MaxDegreeOfParallelism = 8 }, i =>
            trousseau.CreateSecretAsync($"rewrap/{i:D5}", SecretType.Login, data).AsTask().GetAwaiter().GetResult());
    }

    [IterationSetup]
    public void Rotate() => _keys.RotateKeyAsync().AsTask().GetAwaiter().GetResult();

    [Benchmark(Description = "rewrap every secret after a rotation")]
    public async Task<long> Rewrap()
    {
        var moved = (await _keys.RewrapSecretsAsync()).Rewrapped;
        return moved == Secrets ? moved : throw new InvalidOperationException($"rewrapped {moved} of {Secrets}");
    }

    [GlobalCleanup]
    public void Dispose()
    {
        _services?.Dispose();
        _etcd?.Dispose();
        GC.SuppressFinalize(this);
    }
}
