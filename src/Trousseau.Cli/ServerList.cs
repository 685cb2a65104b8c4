namespace Trousseau.Cli;

/// <summary>
/// The servers of <c>--server</c>, <c>$TROUSSEAU_SERVER</c> or a context: one http(s) URL, or several separated by
/// commas (spaces around a comma are ignored), tried in that order; none may hold a user name or password.
/// </summary>
internal static class ServerList
{
    private const string Valid = "give one http(s) URL, or several separated by commas (https://a.example:8787,https://b.example:8787)";

    /// <summary>The URLs of <paramref name="value"/>, each ending in '/'.</summary>
    /// <param name="value">The list as given.</param>
    /// <param name="source">Where it was given (<c>--server</c>, <c>$TROUSSEAU_SERVER</c>, a context), for messages.</param>
    /// <exception cref="CliUsageException">
    /// An entry is empty or not an http(s) URL (the message names it), or holds a user name or password (the message
    /// gives its number, never the entry).
    /// </exception>
    public static IReadOnlyList<Uri> Parse(string value, string source)
    {
        var entries = value.Split(',', StringSplitOptions.TrimEntries);
        var servers = new List<Uri>(entries.Length);
        for (var i = 0; i < entries.Length; i++)
        {
            if (entries[i].Length == 0)
            {
                throw new CliUsageException($"{source} '{value}' has an empty entry (number {i + 1} of {entries.Length}); {Valid}.");
            }

            if (Uri.TryCreate(entries[i], UriKind.Absolute, out var uri) && uri.UserInfo.Length > 0)
            {
                // Neither the entry nor the list is repeated: the user info may hold a password.
                throw new CliUsageException(
                    $"{source} has a user name or password in entry {i + 1} of {entries.Length} (http://USER:PASSWORD@host); clectl takes no credentials in a URL: "
                    + "remove them, and give the API token with --token-file or $TROUSSEAU_TOKEN.");
            }

            servers.Add(TryParseUrl(entries[i]) ?? throw new CliUsageException($"'{entries[i]}' (in {source} '{value}') is not an http(s) URL; {Valid}."));
        }

        return servers;
    }

    /// <summary>The URLs of <paramref name="value"/>, or none when it is not a valid list.</summary>
    public static IReadOnlyList<Uri> ParseOrEmpty(string value)
    {
        var servers = value.Split(',', StringSplitOptions.TrimEntries).Select(TryParseUrl).ToList();
        return servers.Contains(null) ? [] : servers.OfType<Uri>().ToList();
    }

    /// <summary>The list as clectl stores and shows it: the entries, trimmed, joined by commas.</summary>
    /// <exception cref="CliUsageException">An entry is empty or not an http(s) URL (see <see cref="Parse"/>).</exception>
    public static string Canonical(string value, string source)
    {
        Parse(value, source);
        return string.Join(',', value.Split(',', StringSplitOptions.TrimEntries));
    }

    private static Uri? TryParseUrl(string entry) =>
        Uri.TryCreate(entry, UriKind.Absolute, out var uri) && (uri.Scheme == Uri.UriSchemeHttp || uri.Scheme == Uri.UriSchemeHttps)
            ? Normalize(uri)
            : null;

    private static Uri Normalize(Uri uri) => uri.AbsoluteUri.EndsWith('/') ? uri : new Uri(uri.AbsoluteUri + "/");
}
