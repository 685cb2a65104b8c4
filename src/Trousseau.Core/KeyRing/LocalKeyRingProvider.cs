using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using System.Text.Json.Serialization;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace Trousseau;

/// <summary>
/// The embedded default key provider: versioned AES-256 keys in a local file. Wrapping uses the newest version;
/// every older version stays available for unwrapping. Key ids look like <c>local-9f2c4e1a7b3d5e60-v2</c>: the
/// ring's random id and the version, so an id names one key version and is never reused, even by a new ring.
/// </summary>
public sealed partial class LocalKeyRingProvider : IKeyProvider, IDisposable
{
    /// <summary>The provider id written into envelopes.</summary>
    public const string ProviderName = "local";

    private const int FormatVersion = 1;
    private const int NonceSize = 12;
    private const int TagSize = 16;
    private const int KeySize = 32;

    private readonly string _path;
    private readonly TimeProvider _time;
    private readonly ILogger _logger;
    private readonly Lock _lock = new();
    private Ring? _ring;

    /// <summary>Creates the provider; the key file is read, or created, on first use.</summary>
    /// <param name="options">Where the key file is.</param>
    /// <param name="time">The clock used for key creation times.</param>
    /// <param name="logger">Receives creation and rotation events (never key material).</param>
    public LocalKeyRingProvider(IOptions<LocalKeyRingOptions> options, TimeProvider time, ILogger<LocalKeyRingProvider> logger)
    {
        ArgumentNullException.ThrowIfNull(options);
        _path = Path.GetFullPath(options.Value.KeyFile ?? throw new ArgumentException("LocalKeyRingOptions.KeyFile is required.", nameof(options)));
        _time = time;
        _logger = logger;
    }

    /// <inheritdoc />
    public string Name => ProviderName;

    /// <inheritdoc />
    public ValueTask<KeyInfo> GetCurrentKeyAsync(CancellationToken cancellationToken = default) =>
        new(Load().Current.Info);

    /// <inheritdoc />
    public ValueTask<WrappedKey> WrapAsync(ReadOnlyMemory<byte> plaintext, CancellationToken cancellationToken = default)
    {
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
        var ring = Load();
        var key = ring.Find(wrapped.KeyVersion);
        if (key is null || key.Info.KeyId != wrapped.KeyId)
        {
            throw new InvalidCiphertextException($"The key id '{Printable(wrapped.KeyId)}' (version {wrapped.KeyVersion}) is not in this key ring.");
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
    public ValueTask<KeyInfo> RotateAsync(CancellationToken cancellationToken = default)
    {
        lock (_lock)
        {
            var ring = Load();
            var material = RandomNumberGenerator.GetBytes(KeySize);
            try
            {
                var entry = new KeyFileEntry(ring.Current.Info.Version + 1, _time.GetUtcNow(), Convert.ToBase64String(material));
                var rotated = ring.With(RingKey.FromEntry(ring.Id, entry));
                Save(rotated.ToFile(), overwrite: true);
                _ring = rotated;
                Log.KeyRingRotated(_logger, _path, rotated.Current.Info.KeyId, rotated.Current.Info.Version);
                return new(rotated.Current.Info);
            }
            finally
            {
                CryptographicOperations.ZeroMemory(material);
            }
        }
    }

    /// <inheritdoc />
    public ValueTask<DependencyHealth> CheckHealthAsync(CancellationToken cancellationToken = default)
    {
        try
        {
            return new(DependencyHealth.Healthy($"local key ring, current key {Load().Current.Info.KeyId}"));
        }
        catch (DependencyUnavailableException ex)
        {
            return new(DependencyHealth.Unhealthy(ex.Message));
        }
    }

    /// <summary>Zeroes the keys held in memory.</summary>
    public void Dispose()
    {
        lock (_lock)
        {
            _ring?.Dispose();
            _ring = null;
        }
    }

    private Ring Load()
    {
        var ring = Volatile.Read(ref _ring);
        if (ring is not null)
        {
            return ring;
        }

        lock (_lock)
        {
            return _ring ??= ReadOrCreate();
        }
    }

    private Ring ReadOrCreate()
    {
        try
        {
            if (!File.Exists(_path))
            {
                var material = RandomNumberGenerator.GetBytes(KeySize);
                var file = new KeyFile(FormatVersion, Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(8)), [new KeyFileEntry(1, _time.GetUtcNow(), Convert.ToBase64String(material))]);
                CryptographicOperations.ZeroMemory(material);
                if (Save(file, overwrite: false))
                {
                    var created = Ring.FromFile(file);
                    Log.KeyRingCreated(_logger, _path, created.Current.Info.KeyId);
                    return created;
                }
            }

            if (OwnerOnlyFile.OpenModeOrNull(_path) is { } mode)
            {
                Log.KeyRingTooOpen(_logger, _path, Convert.ToString((int)mode, 8));
            }

            var bytes = File.ReadAllBytes(_path);
            try
            {
                var parsed = JsonSerializer.Deserialize(bytes, KeyFileJson.Default.KeyFile)
                    ?? throw new InvalidDataException("the file is empty");
                return Ring.FromFile(parsed);
            }
            finally
            {
                CryptographicOperations.ZeroMemory(bytes);
            }
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException or JsonException or InvalidDataException or FormatException)
        {
            throw new DependencyUnavailableException(
                $"key-provider:{ProviderName}",
                $"The local key ring '{_path}' cannot be used: {(ex is JsonException ? "it is not valid key ring JSON" : ex.Message)}",
                ex is JsonException ? null : ex);
        }
    }

    private bool Save(KeyFile file, bool overwrite)
    {
        var bytes = JsonSerializer.SerializeToUtf8Bytes(file, KeyFileJson.Default.KeyFile);
        try
        {
            return OwnerOnlyFile.WriteAtomically(_path, bytes, overwrite);
        }
        finally
        {
            CryptographicOperations.ZeroMemory(bytes);
        }
    }

    private static string Printable(string keyId) =>
        keyId.Length <= 64 && keyId.All(c => c is >= ' ' and <= '~') ? keyId : "(unprintable)";

    /// <summary>One key version, ready to use.</summary>
    private sealed class RingKey(KeyInfo info, DateTimeOffset created, byte[] material) : IDisposable
    {
        public KeyInfo Info { get; } = info;

        public DateTimeOffset Created { get; } = created;

        public AesGcm Cipher { get; } = new(material, TagSize);

        public byte[] AssociatedData { get; } = Encoding.UTF8.GetBytes($"trousseau/local-wrap/v1:{info.KeyId}");

        public byte[] Material { get; } = material;

        public static RingKey FromEntry(string ringId, KeyFileEntry entry)
        {
            var material = Convert.FromBase64String(entry.Key ?? string.Empty);
            if (material.Length != KeySize)
            {
                CryptographicOperations.ZeroMemory(material);
                throw new InvalidDataException($"key version {entry.Version} is not {KeySize} bytes");
            }

            return new RingKey(new KeyInfo($"{ProviderName}-{ringId}-v{entry.Version}", entry.Version), entry.Created, material);
        }

        public void Dispose()
        {
            Cipher.Dispose();
            CryptographicOperations.ZeroMemory(Material);
        }
    }

    /// <summary>An immutable snapshot of the key ring.</summary>
    private sealed class Ring(string ringId, RingKey[] keys) : IDisposable
    {
        public string Id => ringId;

        public RingKey Current => keys[^1];

        /// <summary>A new snapshot with one more key; this one's keys are shared, not copied.</summary>
        public Ring With(RingKey key) => new(ringId, [.. keys, key]);

        public RingKey? Find(uint version) => version >= 1 && version <= keys.Length ? keys[version - 1] : null;

        public KeyFile ToFile() =>
            new(FormatVersion, ringId, [.. keys.Select(k => new KeyFileEntry(k.Info.Version, k.Created, Convert.ToBase64String(k.Material)))]);

        public static Ring FromFile(KeyFile file)
        {
            if (file.Format != FormatVersion)
            {
                throw new InvalidDataException($"key ring format {file.Format} is not supported");
            }

            if (file.RingId is not { Length: 16 } || !file.RingId.All(char.IsAsciiHexDigitLower))
            {
                throw new InvalidDataException("ringId must be 16 lower-case hex digits");
            }

            if (file.Keys is not { Count: > 0 })
            {
                throw new InvalidDataException("it holds no key");
            }

            var keys = new RingKey[file.Keys.Count];
            for (var i = 0; i < keys.Length; i++)
            {
                var entry = file.Keys[i];
                if (entry.Version != i + 1)
                {
                    throw new InvalidDataException($"key versions must count 1, 2, 3...; found {entry.Version} at position {i + 1}");
                }

                keys[i] = RingKey.FromEntry(file.RingId, entry);
            }

            return new Ring(file.RingId, keys);
        }

        public void Dispose()
        {
            foreach (var key in keys)
            {
                key.Dispose();
            }
        }
    }

    internal sealed record KeyFile(
        [property: JsonPropertyName("format")] int Format,
        [property: JsonPropertyName("ringId")] string RingId,
        [property: JsonPropertyName("keys")] List<KeyFileEntry> Keys);

    internal sealed record KeyFileEntry(
        [property: JsonPropertyName("version")] uint Version,
        [property: JsonPropertyName("created")] DateTimeOffset Created,
        [property: JsonPropertyName("key")] string Key);

    [JsonSerializable(typeof(KeyFile))]
    [JsonSourceGenerationOptions(WriteIndented = true)]
    internal sealed partial class KeyFileJson : JsonSerializerContext;
}
