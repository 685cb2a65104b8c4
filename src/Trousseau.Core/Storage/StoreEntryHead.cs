namespace Trousseau;

/// <summary>
/// One record as <see cref="ISecretStore.ListAsync"/> returns it: its key, its revision and the first bytes of its
/// value, at most <see cref="MaxLength"/>. That is room for a secret record's clear header (type and timestamps), so a
/// listing learns what it shows without reading any record whole.
/// </summary>
/// <param name="Key">The record's key.</param>
/// <param name="Head">The first <see cref="MaxLength"/> bytes of the record's value, or all of it when it is shorter.</param>
/// <param name="Revision">The revision of the record's last write.</param>
public sealed record StoreEntryHead(string Key, ReadOnlyMemory<byte> Head, long Revision)
{
    /// <summary>How many leading bytes of each value a listing returns: 64.</summary>
    public const int MaxLength = 64;
}
