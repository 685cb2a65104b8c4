namespace Trousseau;

/// <summary>One page of <see cref="ITrousseau.ListSecretsPageAsync"/>: metadata only, never values.</summary>
/// <param name="Items">The secrets' metadata, in name order.</param>
/// <param name="ContinuationToken">
/// Opaque; give it back, with the same prefix, for the next page. <see langword="null"/> after the last page.
/// </param>
public sealed record SecretPage(IReadOnlyList<SecretMetadata> Items, string? ContinuationToken)
{
    /// <summary>
    /// The continuation token of a page that ends at <paramref name="lastName"/>: the next page starts just after it.
    /// For a host that shows a page only in part (a listing filtered by policy), so that the token it hands out names
    /// only a secret it showed.
    /// </summary>
    /// <param name="lastName">The name of the last secret shown.</param>
    /// <returns>The token, for <see cref="ITrousseau.ListSecretsPageAsync"/> with the same prefix.</returns>
    public static string ContinueAfter(string lastName) => Internal.ContinuationToken.Create(lastName);
}
