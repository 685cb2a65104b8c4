using System.Diagnostics.CodeAnalysis;

namespace Trousseau;

/// <summary>
/// The rule for secret names: 1 to 253 characters of <c>a-z 0-9 . _ / -</c>, starting and ending with a letter
/// or digit, with no empty, <c>.</c> or <c>..</c> segment between slashes, as the pattern <see cref="Pattern"/>
/// says. A name is a path that no URL normalisation changes: <c>tmp/../prod/db</c> is refused rather than stored
/// beside <c>prod/db</c>, which a URL holding it would reach.
/// </summary>
public static class SecretNames
{
    /// <summary>The rule as a regular expression.</summary>
    public const string Pattern = @"^(?!.*//)(?!.*/\.\.?/)[a-z0-9]([a-z0-9._/-]{0,251}[a-z0-9])?$";

    /// <summary>Whether <paramref name="name"/> is a valid secret name.</summary>
    /// <param name="name">The candidate name.</param>
    /// <returns><see langword="true"/> when it follows <see cref="Pattern"/>.</returns>
    public static bool IsValid(string? name) => IsEarlierReleaseName(name) && !HasEmptyOrDotSegment(name);

    /// <summary>
    /// Whether <paramref name="name"/> follows the rule of releases before empty, <c>.</c> and <c>..</c> segments were
    /// refused (<c>team//db</c>, <c>x/./y</c>): a store they wrote may hold such a name, and listings show it.
    /// </summary>
    internal static bool IsEarlierReleaseName([NotNullWhen(true)] string? name)
    {
        if (name is null || name.Length is 0 or > TrousseauLimits.MaxNameLength
            || !IsLetterOrDigit(name[0]) || !IsLetterOrDigit(name[^1]))
        {
            return false;
        }

        foreach (var c in name)
        {
            if (!IsNameCharacter(c))
            {
                return false;
            }
        }

        return true;
    }

    /// <summary>Whether <paramref name="prefix"/> can start a secret name (empty included).</summary>
    /// <param name="prefix">The candidate prefix.</param>
    /// <returns><see langword="true"/> when some valid name starts with it.</returns>
    public static bool IsValidPrefix(string? prefix)
    {
        if (prefix is null || prefix.Length > TrousseauLimits.MaxNameLength
            || (prefix.Length > 0 && !IsLetterOrDigit(prefix[0])) || !prefix.All(IsNameCharacter))
        {
            return false;
        }

        // The segments a slash has closed must be valid; the last one may still grow into a valid segment.
        var closed = prefix.LastIndexOf('/');
        return closed < 0 || !HasEmptyOrDotSegment(prefix.AsSpan(0, closed));
    }

    /// <summary>Throws <see cref="InvalidInputException"/> unless <paramref name="name"/> is valid.</summary>
    /// <param name="name">The candidate name.</param>
    public static void Validate(string? name)
    {
        if (!IsValid(name))
        {
            throw new InvalidInputException(
                "name",
                $"Invalid secret name{(name is { Length: <= 300 } ? $" '{name}'" : string.Empty)}: use 1 to {TrousseauLimits.MaxNameLength} characters of a-z, 0-9, '.', '_', '/', '-', starting and ending with a letter or digit, with no empty, '.' or '..' segment between slashes.");
        }
    }

    // The segments a URL path resolves away (RFC 3986, section 5.2.4) or that a server may merge.
    private static bool HasEmptyOrDotSegment(ReadOnlySpan<char> path)
    {
        foreach (var range in path.Split('/'))
        {
            if (path[range] is "" or "." or "..")
            {
                return true;
            }
        }

        return false;
    }

    private static bool IsLetterOrDigit(char c) => c is (>= 'a' and <= 'z') or (>= '0' and <= '9');

    private static bool IsNameCharacter(char c) => IsLetterOrDigit(c) || c is '.' or '_' or '/' or '-';
}
