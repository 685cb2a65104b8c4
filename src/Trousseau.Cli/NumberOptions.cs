using System.CommandLine.Parsing;
using System.Globalization;

namespace Trousseau.Cli;

/// <summary>
/// Parsers for clectl's numeric options: a value out of range, or not a number, is a usage error naming the option,
/// the value and what is valid (never the .NET type the parser expected).
/// </summary>
internal static class NumberOptions
{
    /// <summary><c>--length</c> of a generated value: 1 to <see cref="SecretGenerationOptions.MaxLength"/> characters.</summary>
    public static int? Length(ArgumentResult result) =>
        (int?)WholeNumber(result, 1, SecretGenerationOptions.MaxLength, $"a whole number from 1 to {SecretGenerationOptions.MaxLength} (for example --length 40)");

    /// <summary><c>--if-revision</c>: a revision as <c>clectl secret get</c> shows it, which is never below 1.</summary>
    public static long? Revision(ArgumentResult result) =>
        WholeNumber(result, 1, long.MaxValue, "a revision, a whole number from 1 (as clectl secret get -o json shows it)");

    /// <summary>Seconds above 0, at most <paramref name="maximum"/>.</summary>
    public static double Seconds(ArgumentResult result, double maximum, double fallback, string example)
    {
        var option = OptionName(result);
        var value = result.Tokens[0].Value;
        if (double.TryParse(value, NumberStyles.Float, CultureInfo.InvariantCulture, out var seconds) && seconds > 0 && seconds <= maximum)
        {
            return seconds;
        }

        result.AddError($"{option} '{value}' is not valid; give seconds above 0, at most {maximum:0} ({example}).");
        return fallback;
    }

    private static long? WholeNumber(ArgumentResult result, long minimum, long maximum, string valid)
    {
        var value = result.Tokens[0].Value;
        if (long.TryParse(value, NumberStyles.None, CultureInfo.InvariantCulture, out var number) && number >= minimum && number <= maximum)
        {
            return number;
        }

        result.AddError($"{OptionName(result)} '{value}' is not valid; give {valid}.");
        return null;
    }

    private static string OptionName(ArgumentResult result) => result.Parent is OptionResult option ? option.Option.Name : result.Argument.Name;
}
