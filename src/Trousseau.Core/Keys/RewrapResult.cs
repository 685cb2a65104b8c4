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
/// Secrets left under an older key because they could not be decrypted (damaged, or sealed under a key version the
/// key provider does not have, such as one a key ring restored from an older copy lacks); each is logged by name.
/// </param>
public readonly record struct RewrapResult(long Rewrapped, long Skipped, long Failed);
