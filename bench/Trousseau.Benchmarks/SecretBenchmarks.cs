using BenchmarkDotNet.Attributes;
using Microsoft.Extensions.DependencyInjection;

namespace Trousseau.Benchmarks;

/// <summary>
/// A secret read and a secret write through <see cref="ITrousseau"/> on the embedded default (local key ring and
/// SQLite), beside the same calls on the in-memory store: the gap is the store's share.
/// </summary>
[MemoryDiagnoser]
public class SecretBenchmarks : IDisposable
{
    private string _directory = null!;
    private ServiceProvider _services = null!;
    private ITrousseau _trousseau = null!;
    private Dictionary<string, string> _data = null!;

    /// <summary>The store under test.</summary>
    [Params("sqlite", "memory")]
    public string Store { get; set; } = "sqlite";

    [GlobalSetup]
    public void Setup()
    {
        _directory = Directory.CreateTempSubdirectory("trousseau-bench-").FullName;
        var services = new ServiceCollection();
        services.AddTrousseau(options => options.Store = Store)
            .UseLocalKeyRing(ring => ring.KeyFile = Path.Combine(_directory, "ring.json"))
            .UseSqliteStore(sqlite => sqlite.Path = Path.Combine(_directory, "secrets.db"))
            .UseInMemoryStore();
        _services = services.BuildServiceProvider();
        _trousseau = _services.GetRequiredService<ITrousseau>();
        _data = new Dictionary<string, string>(StringComparer.Ordinal) { ["username"] = "app", ["password"] = new string('p', 32) };
        _trousseau.CreateSecretAsync("bench/login", SecretType.Login, _data).AsTask().GetAwaiter().GetResult();
    }

    [Benchmark(Description = "get secret")]
    public ValueTask<Secret> Get() => _trousseau.GetSecretAsync("bench/login");

    [Benchmark(Description = "update secret")]
    public ValueTask<SecretMetadata> Update() => _trousseau.UpdateSecretAsync("bench/login", _data);

    [GlobalCleanup]
    public void Dispose()
    {
        _services?.Dispose();
        if (_directory is not null && Directory.Exists(_directory))
        {
            Directory.Delete(_directory, recursive: true);
        }

        GC.SuppressFinalize(this);
    }
}
