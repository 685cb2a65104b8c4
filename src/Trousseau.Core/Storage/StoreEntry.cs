namespace Trousseau;

/// <summary>One stored record.</summary>
/// <param name="Key">The record's key.</param>
/// <param name="Value">The record's bytes (an encrypted secret record, never plaintext).</param>
/// <param name="Revision">The revision of this write.</param>
public sealed record StoreEntry(string Key, ReadOnlyMemory<byte> Value, long Revision);
