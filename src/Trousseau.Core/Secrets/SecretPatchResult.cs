namespace Trousseau;

/// <summary>
/// What <see cref="ITrousseau.PatchSecretAsync"/> did: the secret's metadata after the patch, and the keys it was asked
/// to remove that the secret did not hold. Never holds a value.
/// </summary>
/// <param name="Metadata">The secret's new metadata (its metadata as it was, when the patch changed no value).</param>
/// <param name="AbsentKeys">
/// The keys the patch removed (set to <see langword="null"/>) that the secret did not hold at the revision the patch
/// applied to, in the order the changes gave them; empty when every key removed was there. Removing an absent key
/// changes nothing, so this is how a caller tells a mistyped key.
/// </param>
public sealed record SecretPatchResult(SecretMetadata Metadata, IReadOnlyList<string> AbsentKeys);
