using System.Buffers;
using System.Globalization;
using System.Security.Cryptography;
using System.Text;

namespace Trousseau;

/// <summary>
/// An immutable snapshot of a local key ring: its random id and every key version, oldest first. A newer snapshot
/// shares the keys of the one it extends, so only the provider's last snapshot is ever disposed.
/// </summary>
internal sealed class LocalKeyRing(string ringId, LocalKeyRingKey[] keys) : IDisposable
{
    public string Id => ringId;

    public IReadOnlyList<LocalKeyRingKey> Keys => keys;

    public LocalKeyRingKey Current => keys[^1];

    /// <summary>A new snapshot with one more key; this one's keys are shared, not copied.</summary>
    public LocalKeyRing With(LocalKeyRingKey key) => new(ringId, [.. keys, key]);

    public LocalKeyRingKey? Find(uint version) => version >= 1 && version <= keys.Length ? keys[version - 1] : null;

    /// <summary>
    /// The ring that holds every version of this one and of <paramref name="onDisk"/>, which must be the same ring:
    /// this snapshot when it is as long, else this one extended by the versions only the file has. Keys of
    /// <paramref name="onDisk"/> that are not taken are disposed.
    /// </summary>
    /// <exception cref="InvalidDataException">The file holds another ring, or another key under a version this one has.</exception>
    public LocalKeyRing Merge(LocalKeyRing onDisk)
    {
        var common = Math.Min(keys.Length, onDisk.Keys.Count);
        try
        {
            if (onDisk.Id != ringId)
            {
                throw new InvalidDataException(
                    $"it now holds key ring {onDisk.Id}, not ring {ringId} that this process loaded; restart to use the new file, or put the old one back");
            }

            for (var i = 0; i < common; i++)
            {
                if (!keys[i].IsSameKey(onDisk.Keys[i]))
                {
                    throw new InvalidDataException(
                        $"its key version {i + 1} is not the one this process holds ({keys[i].Info.KeyId}); restart to use the new file, or put the old one back");
                }
            }
        }
        catch (InvalidDataException)
        {
            onDisk.Dispose();
            throw;
        }

        for (var i = 0; i < common; i++)
        {
            onDisk.Keys[i].Dispose();
        }

        return onDisk.Keys.Count > keys.Length ? new LocalKeyRing(ringId, [.. keys, .. onDisk.Keys.Skip(common)]) : this;
    }

    public void Dispose()
    {
        foreach (var key in keys)
        {
            key.Dispose();
        }
    }
}

/// <summary>
/// One key version, ready to use. Its check value, an HMAC of the key id under the key, ties the two together: a
/// changed bit in either no longer matches.
/// </summary>
internal sealed class LocalKeyRingKey : IDisposable
{
    public const int KeySize = 32;
    public const int TagSize = 16;
    private const int CheckSize = 16;
    private const int FingerprintSize = 4;
    private static readonly SearchValues<char> LowerHexDigits = SearchValues.Create("0123456789abcdef");

    private LocalKeyRingKey(KeyInfo info, DateTimeOffset created, byte[] material, byte[] check)
    {
        Info = info;
        Created = created;
        Material = material;
        Check = check;
        Cipher = new AesGcm(material, TagSize);
        AssociatedData = Encoding.UTF8.GetBytes($"trousseau/local-wrap/v1:{info.KeyId}");
    }

    public KeyInfo Info { get; }

    public DateTimeOffset Created { get; }

    public AesGcm Cipher { get; }

    public byte[] AssociatedData { get; }

    public byte[] Material { get; }

    public byte[] Check { get; }

    /// <summary>
    /// A new random key for <paramref name="version"/>. Its id ends in a fingerprint of the key
    /// (<c>local-RING-vN-FINGERPRINT</c>), so a version issued again after the ring lost it gets another id.
    /// </summary>
    public static LocalKeyRingKey Issue(string ringId, uint version, DateTimeOffset created)
    {
        var material = RandomNumberGenerator.GetBytes(KeySize);
        var fingerprint = HMACSHA256.HashData(material, "trousseau/local-key-id/v1"u8)[..FingerprintSize];
        var keyId = $"{LegacyKeyId(ringId, version)}-{Convert.ToHexStringLower(fingerprint)}";
        return new LocalKeyRingKey(new KeyInfo(keyId, version), created, material, CheckValue(material, keyId));
    }

    /// <summary>
    /// A key read from the file, which owns <paramref name="material"/> from now on. With <paramref name="check"/>
    /// <see langword="null"/> (a file of format 1, whose ids have no fingerprint) the check value is computed.
    /// </summary>
    /// <exception cref="InvalidDataException">The key, its id or its check value is wrong.</exception>
    public static LocalKeyRingKey Load(string ringId, uint version, string? keyId, DateTimeOffset created, byte[] material, byte[]? check)
    {
        var legacyId = LegacyKeyId(ringId, version);
        keyId ??= legacyId;
        string? problem = null;
        if (material.Length != KeySize)
        {
            problem = $"key version {version} is not {KeySize} bytes";
        }
        else if (keyId != legacyId && !IsFingerprinted(keyId, legacyId))
        {
            problem = $"key version {version} has the key id '{keyId}', which is not one of ring {ringId} for that version";
        }
        else if (check is not null && !CryptographicOperations.FixedTimeEquals(check, CheckValue(material, keyId)))
        {
            problem = $"key version {version} ({keyId}) does not match its check value: the file is damaged; restore it from a backup";
        }

        if (problem is not null)
        {
            CryptographicOperations.ZeroMemory(material);
            throw new InvalidDataException(problem);
        }

        return new LocalKeyRingKey(new KeyInfo(keyId, version), created, material, check ?? CheckValue(material, keyId));
    }

    /// <summary>
    /// Whether <paramref name="keyId"/> is shaped as a key ring names its keys, <c>local-RING-vN</c> or
    /// <c>local-RING-vN-FINGERPRINT</c> (RING 16 lowercase hex digits, N a version from 1): an id of this ring or of
    /// another one, as against another provider's or none at all.
    /// </summary>
    public static bool IsKeyIdShaped(string keyId)
    {
        const string Prefix = LocalKeyRingProvider.ProviderName + "-";
        const int RingIdLength = 16;
        if (!keyId.StartsWith(Prefix, StringComparison.Ordinal) || keyId.Length < Prefix.Length + RingIdLength + 3)
        {
            return false;
        }

        var rest = keyId.AsSpan(Prefix.Length);
        if (!IsLowerHex(rest[..RingIdLength]) || !rest[RingIdLength..].StartsWith("-v", StringComparison.Ordinal))
        {
            return false;
        }

        rest = rest[(RingIdLength + 2)..];
        var dash = rest.IndexOf('-');
        var version = dash < 0 ? rest : rest[..dash];
        return version is [>= '1' and <= '9', ..]
            && uint.TryParse(version, NumberStyles.None, CultureInfo.InvariantCulture, out _)
            && (dash < 0 || (rest.Length - dash - 1 == 2 * FingerprintSize && IsLowerHex(rest[(dash + 1)..])));
    }

    /// <summary>Whether <paramref name="other"/> is this same key (same id, same key bytes).</summary>
    public bool IsSameKey(LocalKeyRingKey other) =>
        Info == other.Info && CryptographicOperations.FixedTimeEquals(Check, other.Check);

    public void Dispose()
    {
        Cipher.Dispose();
        CryptographicOperations.ZeroMemory(Material);
    }

    /// <summary>The id of a key version without fingerprint, as the first file format named every version.</summary>
    private static string LegacyKeyId(string ringId, uint version) =>
        string.Create(CultureInfo.InvariantCulture, $"{LocalKeyRingProvider.ProviderName}-{ringId}-v{version}");

    private static bool IsLowerHex(ReadOnlySpan<char> text) => !text.ContainsAnyExcept(LowerHexDigits);

    private static bool IsFingerprinted(string keyId, string legacyId) =>
        keyId.Length == legacyId.Length + 1 + (2 * FingerprintSize)
        && keyId.StartsWith(legacyId, StringComparison.Ordinal)
        && keyId[legacyId.Length] == '-'
        && keyId[(legacyId.Length + 1)..].All(char.IsAsciiHexDigitLower);

    private static byte[] CheckValue(byte[] material, string keyId) =>
        HMACSHA256.HashData(material, Encoding.UTF8.GetBytes($"trousseau/local-key-check/v1\0{keyId}"))[..CheckSize];
}
