namespace Trousseau;

/// <summary>The configuration path Trousseau's options were bound from, so that validation messages name full keys.</summary>
/// <param name="Value">For example <c>Trousseau</c>.</param>
/// <param name="IsBound">Whether an <c>AddTrousseau</c> call gave that section (otherwise it is the default name only).</param>
internal sealed record TrousseauSectionPath(string Value, bool IsBound);
