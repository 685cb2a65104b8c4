using System.Diagnostics.Metrics;
using System.Security.Cryptography;
using BenchmarkDotNet.Attributes;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using Trousseau.Envelope;

namespace Trousseau.Benchmarks;

/// <summary>
/// Envelope encryption with a warm data-key cache beside bare AES-256-GCM on the same sizes: the difference is
/// the cost of the header, the associated data and the cache look-up.
/// </summary>
[MemoryDiagnoser]
public class EnvelopeBenchmarks : IDisposable
{
    private readonly byte[] _key = RandomNumberGenerator.GetBytes(32);
    private readonly byte[] _nonce = new byte[12];
    private readonly byte[] _tag = new byte[16];
    private readonly byte[] _sealedNonce = new byte[12];
    private readonly byte[] _sealedTag = new byte[16];
    private readonly byte[] _context = "bench/secret"u8.ToArray();
    private string _directory = null!;
    private ServiceProvider _metrics = null!;
    private LocalKeyRingProvider _ring = null!;
    private EnvelopeEncryptor _encryptor = null!;
    private AesGcm _aes = null!;
    private byte[] _plaintext = null!;
    private byte[] _ciphertext = null!;
    private byte[] _envelope = null!;

    /// <summary>Plaintext size in bytes.</summary>
    [Params(1024, 64 * 1024)]
    public int Size { get; set; }

    [GlobalSetup]
    public void Setup()
    {
        _directory = Directory.CreateTempSubdirectory("trousseau-bench-").FullName;
        _ring = new LocalKeyRingProvider(
            Options.Create(new LocalKeyRingOptions { KeyFile = Path.Combine(_directory, "ring.json") }),
            TimeProvider.System,
            NullLogger<LocalKeyRingProvider>.Instance);
        _metrics = new ServiceCollection().AddMetrics().BuildServiceProvider();
        _encryptor = new EnvelopeEncryptor(
            _ring, Options.Create(new TrousseauOptions()), TimeProvider.System, new TrousseauInstrumentation(_metrics.GetRequiredService<IMeterFactory>()), NullLogger<EnvelopeEncryptor>.Instance);
        _aes = new AesGcm(_key, 16);
        _plaintext = RandomNumberGenerator.GetBytes(Size);
        _ciphertext = new byte[Size];
        _aes.Encrypt(_sealedNonce, _plaintext, _ciphertext, _sealedTag, _context);
        _envelope = _encryptor.EncryptAsync(EnvelopePurpose.Api, _plaintext, _context, default).AsTask().GetAwaiter().GetResult().Ciphertext;
    }

    [Benchmark(Baseline = true, Description = "raw AES-GCM encrypt")]
    public byte[] RawEncrypt()
    {
        var output = new byte[_plaintext.Length];
        RandomNumberGenerator.Fill(_nonce);
        _aes.Encrypt(_nonce, _plaintext, output, _tag, _context);
        return output;
    }

    [Benchmark(Description = "envelope encrypt")]
    public ValueTask<EncryptResult> EnvelopeEncrypt() => _encryptor.EncryptAsync(EnvelopePurpose.Api, _plaintext, _context, default);

    [Benchmark(Description = "raw AES-GCM decrypt")]
    public byte[] RawDecrypt()
    {
        var output = new byte[_plaintext.Length];
        _aes.Decrypt(_sealedNonce, _ciphertext, _sealedTag, output, _context);
        return output;
    }

    [Benchmark(Description = "envelope decrypt")]
    public ValueTask<byte[]> EnvelopeDecrypt() => _encryptor.DecryptAsync(EnvelopePurpose.Api, _envelope, _context, default);

    [GlobalCleanup]
    public void Dispose()
    {
        _encryptor?.Dispose();
        _ring?.Dispose();
        _metrics?.Dispose();
        _aes?.Dispose();
        if (_directory is not null && Directory.Exists(_directory))
        {
            Directory.Delete(_directory, recursive: true);
        }

        GC.SuppressFinalize(this);
    }
}
