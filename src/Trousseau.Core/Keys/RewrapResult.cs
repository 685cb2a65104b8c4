namespace Trousseau;

/// <summary>
/// What a rewrap did with each stored secret it found: every secret listed is counted once, in one of the three
/// counts.
/// </summary>
/// <param name="Rewrapped">Secrets sealed anew under the current key by this rewrap.</param>
/// <param name="Skipped">
/// Secrets left as they were because they needed no move: already under the current key (written or rewrapped there
/// by someone else too), or deleted while the rewrap ran.
/// </param>
/// <param name="Failed">
/// Secrets left under an older key, each logged by name with the reason: they could not be decrypted (damaged, or
/// sealed under a key version the key provider does not have, such as one a key ring restored from an older copy
/// lacks), or they were written again under an older key before each attempt to move them (by an instance that had
/// not yet seen the rotation; a later rewrap moves them).
/// </param>
public readonly record struct RewrapResult(long Rewrapped, long Skipped, long Failed)
{
    /// <summary>
    /// The key the secrets were moved to: the current key when the rewrap began, or a newer one when the key rotated
    /// while it ran. <see langword="null"/> when the answer does not say (a remote trousseaud of a release whose
    /// <c>POST /v1/keys/rewrap</c> answer has no <c>keyId</c>).
    /// </summary>
    public string? KeyId { get; init; }
}
