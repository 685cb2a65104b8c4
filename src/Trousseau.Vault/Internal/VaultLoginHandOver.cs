namespace Trousseau.Vault.Internal;

/// <summary>
/// The Vault login <see cref="VaultConfigOverlay"/> made to read its path, registered for the key provider's
/// <see cref="VaultTokenSource"/> to start with, so that trousseaud logs in to Vault once.
/// </summary>
internal sealed class VaultLoginHandOver(VaultTokenSource.Lease lease)
{
    public VaultTokenSource.Lease Lease { get; } = lease;
}
