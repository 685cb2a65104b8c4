namespace Trousseau;

/// <summary>One page of <see cref="ISecretStore.ListAsync"/>.</summary>
/// <param name="Entries">The records, in ordinal key order.</param>
/// <param name="HasMore">
/// Whether keys after the last entry may still match: list again, starting after that key, for the next page.
/// </param>
public sealed record StorePage(IReadOnlyList<StoreEntryHead> Entries, bool HasMore);
