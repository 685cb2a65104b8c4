namespace Trousseau;

/// <summary>
/// The pages of one listing as the remote client and clectl take them: trousseaud gives a continuation token only with a
/// page that holds secrets, and each leads on from the last of them, so a page without secrets but with a token, or a
/// token given before, would have the listing ask for pages without end, and the listing stops there.
/// </summary>
internal sealed class ListingPages
{
    private readonly HashSet<string> _given = new(StringComparer.Ordinal);

    /// <summary>
    /// What <paramref name="page"/> gave that trousseaud never gives, and that would keep the listing going for ever
    /// ("no secrets but a continue token", "a continue token it gave before"); <see langword="null"/> when it is a page
    /// to take.
    /// </summary>
    public string? WhyEndless(SecretPage page) => page.ContinuationToken switch
    {
        null => null,
        _ when page.Items.Count == 0 => "no secrets but a continue token",
        var token when !_given.Add(token) => "a continue token it gave before",
        _ => null,
    };
}
