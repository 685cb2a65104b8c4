using System.Globalization;
using Trousseau.Tests.Integration.Infrastructure;

namespace Trousseau.Tests.Integration.Soak;

/// <summary>
/// The soak's settings, from the environment: <c>TROUSSEAU_SOAK_SECONDS</c> (how long the load runs, 60 by default;
/// the last round of faults is always finished), <c>TROUSSEAU_SOAK_SEED</c> (the order of the faults, random by
/// default and printed) and <c>TROUSSEAU_SOAK_OUTPUT</c> (where the summary and trousseaud's logs go, relative to the
/// repository; by default <c>soak/</c> beside the test assembly).
/// </summary>
internal sealed record SoakSettings(TimeSpan Duration, int Seed, string Output)
{
    public static SoakSettings FromEnvironment()
    {
        var seconds = Number("TROUSSEAU_SOAK_SECONDS") ?? 60;
        var seed = Number("TROUSSEAU_SOAK_SEED") ?? Random.Shared.Next();
        var output = Environment.GetEnvironmentVariable("TROUSSEAU_SOAK_OUTPUT") is { Length: > 0 } path
            ? Path.GetFullPath(path, RepositoryPaths.Root)
            : Path.Combine(AppContext.BaseDirectory, "soak");
        Directory.CreateDirectory(output);
        foreach (var old in Directory.EnumerateFiles(output, "trousseaud-*.log").Append(Path.Combine(output, SummaryFile)))
        {
            File.Delete(old);
        }

        return new SoakSettings(TimeSpan.FromSeconds(seconds), seed, output);
    }

    public const string SummaryFile = "soak-summary.md";

    private static int? Number(string variable) =>
        Environment.GetEnvironmentVariable(variable) switch
        {
            null or "" => null,
            var text when int.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out var value) && value > 0 => value,
            var text => throw new InvalidOperationException($"{variable} must be a positive whole number, not '{text}'."),
        };
}
