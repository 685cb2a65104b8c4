namespace Trousseau;

/// <summary>
/// How <see cref="ITrousseau.RegenerateSecretAsync"/> makes a new value for one key of an existing secret. The value is
/// drawn from a cryptographic random number generator, uniformly over <see cref="Alphabet"/>, as for
/// <see cref="SecretGenerationOptions"/>.
/// </summary>
public sealed class SecretRegenerationOptions
{
    /// <summary>
    /// The data key that receives the new value; it must be one of the secret's keys. Default: <c>password</c> for a
    /// login secret (the only key it may be), the only key of an opaque secret that has one; an opaque secret with
    /// several keys needs it.
    /// </summary>
    public string? Key { get; set; }

    /// <summary>
    /// Number of characters, 1 to <see cref="SecretGenerationOptions.MaxLength"/>. Default
    /// <see cref="SecretGenerationOptions.DefaultLength"/>, whatever the length of the value it replaces.
    /// </summary>
    public int Length { get; set; } = SecretGenerationOptions.DefaultLength;

    /// <summary>The characters to draw from, as <see cref="SecretGenerationOptions.Alphabet"/> has them.</summary>
    public string Alphabet { get; set; } = SecretGenerationOptions.DefaultAlphabet;
}
