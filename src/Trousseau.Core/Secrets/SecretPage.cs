namespace Trousseau;

/// <summary>One page of <see cref="ITrousseau.ListSecretsPageAsync"/>: metadata only, never values.</summary>
/// <param name="Items">The secrets' metadata, in name order.</param>
/// <param name="ContinuationToken">
/// Opaque; give it back, with the same prefix, for the next page. <see langword="null"/> after the last page.
/// </param>
public sealed record SecretPage(IReadOnlyList<SecretMetadata> Items, string? ContinuationToken);
