namespace Trousseau.Vault.Internal;

/// <summary>
/// Where the Vault settings live in configuration (<c>Trousseau:Vault</c> unless the application chose another
/// section), so that an error names the key a user would set.
/// </summary>
internal sealed record VaultSettingsPath(string Value);
