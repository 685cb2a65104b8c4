using Microsoft.Extensions.DependencyInjection;

namespace Trousseau.Hosting.DataProtection;

/// <summary>
/// How key ring elements are encrypted: in process, under Data Protection's own purpose
/// (<see cref="DataProtectionKeyEncryptor"/>); with a remote <see cref="ITrousseau"/>, which has no such purpose,
/// through its encrypt and decrypt with the key ring's context.
/// </summary>
internal static class KeyRingEncryption
{
    // Data Protection's encryptor and decryptor interfaces are synchronous; with a warm data-key cache these complete at once.
    public static EncryptResult Encrypt(IServiceProvider services, byte[] plaintext) =>
        services.GetRequiredService<KeyRingOutage>().Run(() => services.GetService<DataProtectionKeyEncryptor>() is { } encryptor
            ? encryptor.EncryptAsync(plaintext).AsTask().GetAwaiter().GetResult()
            : RemoteTrousseau(services).EncryptAsync(plaintext, DataProtectionKeyEncryptor.Context).AsTask().GetAwaiter().GetResult());

    public static byte[] Decrypt(IServiceProvider services, byte[] ciphertext) =>
        services.GetRequiredService<KeyRingOutage>().Run(() => services.GetService<DataProtectionKeyEncryptor>() is { } encryptor
            ? encryptor.DecryptAsync(ciphertext).AsTask().GetAwaiter().GetResult()
            : RemoteTrousseau(services).DecryptAsync(ciphertext, DataProtectionKeyEncryptor.Context).AsTask().GetAwaiter().GetResult());

    private static ITrousseau RemoteTrousseau(IServiceProvider services) =>
        services.GetService<ITrousseau>() ?? throw new InvalidOperationException(KeyRingEncryptionValidator.MissingTrousseau);
}
