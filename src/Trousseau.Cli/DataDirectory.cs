namespace Trousseau.Cli;

/// <summary>
/// trousseaud's data directory as clectl finds it without being told: <c>$TROUSSEAU_HOME</c>, else
/// <c>./.trousseau</c>, the rule trousseaud follows when started without <c>--data-dir</c>.
/// </summary>
internal static class DataDirectory
{
    /// <summary>The rule, as help texts and messages say it.</summary>
    public const string Rule = "$TROUSSEAU_HOME, else ./.trousseau";

    public static string TokenFile => File("api.token");

    public static string KmsSocket => File("kms.sock");

    /// <summary>Whether the directory comes from <c>$TROUSSEAU_HOME</c> rather than the working directory.</summary>
    public static bool FromEnvironment => !string.IsNullOrEmpty(Environment.GetEnvironmentVariable("TROUSSEAU_HOME"));

    /// <summary>
    /// The file <paramref name="name"/> in the data directory; a <see cref="CliUsageException"/> when
    /// <c>$TROUSSEAU_HOME</c> is blank (spaces only) or has spaces at its start or end, which trousseaud refuses too,
    /// rather than a directory named by blanks.
    /// </summary>
    private static string File(string name)
    {
        var home = Environment.GetEnvironmentVariable("TROUSSEAU_HOME");
        if (!string.IsNullOrEmpty(home) && string.IsNullOrWhiteSpace(home))
        {
            throw new CliUsageException($"$TROUSSEAU_HOME is '{home}', which names no directory: set it to trousseaud's data directory, or unset it for ./.trousseau.");
        }

        if (home is not null && home.Trim() != home)
        {
            throw new CliUsageException($"$TROUSSEAU_HOME is '{home}', with spaces at its start or end, which clectl would take as part of a name: remove them.");
        }

        return Path.GetFullPath(Path.Combine(string.IsNullOrEmpty(home) ? ".trousseau" : home, name));
    }
}
