using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;

namespace Trousseau.Tests.Integration.Vault;

/// <summary>
/// The key ids the Vault Transit provider issued up to commit 9ed040a, which records and KMS ciphertexts written
/// then still carry: <c>vault-</c>, the first 16 hex digits of SHA-256 over
/// <c>address|namespace|mount|key name|creation time of version 1</c> (the options as configured), <c>-v</c> and
/// the version.
/// </summary>
internal static class PreviousVaultKeyIds
{
    public static string For(Uri address, string? space, string mount, string keyName, JsonElement key, uint version)
    {
        var firstVersion = key.GetProperty("keys").GetProperty("1").ToString();
        var identity = Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes($"{address}|{space}|{mount}|{keyName}|{firstVersion}")))[..16];
        return string.Create(CultureInfo.InvariantCulture, $"vault-{identity}-v{version}");
    }
}

/// <summary>
/// The Vault Transit provider as that release was: every key it reports and every value it wraps carries the
/// previous key id (<see cref="PreviousVaultKeyIds"/>), so that what it stores is byte for byte what that release
/// stored. Unwrapping is the real provider's.
/// </summary>
internal sealed class PreviousReleaseVaultKeyProvider(IKeyProvider current, Func<uint, string> previousKeyId) : IKeyProvider
{
    public string Name => current.Name;

    public async ValueTask<KeyInfo> GetCurrentKeyAsync(CancellationToken cancellationToken = default)
    {
        var key = await current.GetCurrentKeyAsync(cancellationToken);
        return key with { KeyId = previousKeyId(key.Version) };
    }

    public async ValueTask<KeyInfo> RefreshCurrentKeyAsync(CancellationToken cancellationToken = default)
    {
        var key = await current.RefreshCurrentKeyAsync(cancellationToken);
        return key with { KeyId = previousKeyId(key.Version) };
    }

    public async ValueTask<WrappedKey> WrapAsync(ReadOnlyMemory<byte> plaintext, CancellationToken cancellationToken = default)
    {
        var wrapped = await current.WrapAsync(plaintext, cancellationToken);
        return wrapped with { KeyId = previousKeyId(wrapped.KeyVersion) };
    }

    public ValueTask<byte[]> UnwrapAsync(WrappedKey wrapped, CancellationToken cancellationToken = default) => current.UnwrapAsync(wrapped, cancellationToken);

    public ValueTask<KeyInfo> RotateAsync(CancellationToken cancellationToken = default) => current.RotateAsync(cancellationToken);

    public ValueTask<DependencyHealth> CheckHealthAsync(CancellationToken cancellationToken = default) => current.CheckHealthAsync(cancellationToken);
}
