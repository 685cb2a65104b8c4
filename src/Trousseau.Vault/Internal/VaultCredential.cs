namespace Trousseau.Vault.Internal;

/// <summary>
/// What a credential Trousseau sends to Vault (a token in the <c>X-Vault-Token</c> header, a JWT, role id or secret id
/// in a login's body) may hold: whitespace around it is dropped (the line break a file or a Kubernetes Secret ends
/// with), and a control character left inside it (a line break between two lines) makes it no credential: in a header
/// it would end the header early and garble the request, and Vault refuses it in a login anyway.
/// </summary>
internal static class VaultCredential
{
    /// <summary>
    /// The credential <paramref name="value"/> gives, without the whitespace around it; <see langword="null"/> when it
    /// gives none (null, empty or whitespace only), so that a file given beside it is read instead.
    /// </summary>
    public static string? Given(string? value) => string.IsNullOrWhiteSpace(value) ? null : value.Trim();

    /// <summary>Whether <paramref name="value"/>, without the whitespace around it, holds a control character.</summary>
    public static bool HasControlCharacter(string? value) => Given(value)?.Any(char.IsControl) == true;
}
