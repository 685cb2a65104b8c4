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

    private static string File(string name)
    {
        var home = Environment.GetEnvironmentVariable("TROUSSEAU_HOME");
        return Path.GetFullPath(Path.Combine(string.IsNullOrEmpty(home) ? ".trousseau" : home, name));
    }
}
