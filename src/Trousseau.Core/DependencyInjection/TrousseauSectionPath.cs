namespace Trousseau;

/// <summary>The configuration path Trousseau's options were bound from, so that validation messages name full keys.</summary>
/// <param name="Value">For example <c>Trousseau</c>.</param>
internal sealed record TrousseauSectionPath(string Value);
