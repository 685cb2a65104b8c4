using System.Text.Json;
using System.Text.RegularExpressions;
using Microsoft.Extensions.Options;

namespace Trousseau.Server;

/// <summary>Turns the exceptions that bad configuration raises at startup into one line that names the key.</summary>
internal static partial class StartupErrors
{
    /// <summary>The one-line description of a configuration error, or <see langword="null"/> when it is something else.</summary>
    public static string? DescribeConfigurationError(Exception exception) => exception switch
    {
        InvalidConfigurationException e => e.Message,
        Trousseau.Vault.VaultConfigPathException e => e.Message,
        OptionsValidationException e => string.Join(" ", e.Failures.Distinct()),

        // One failure can be reported twice: by the options it is in, and by a check of other options that reads them.
        AggregateException e when e.InnerExceptions.Select(DescribeConfigurationError).ToList() is var parts && parts.All(p => p is not null)
            => string.Join(" ", parts.Distinct()),
        InvalidOperationException e when ConversionFailure().Match(e.Message) is { Success: true } m
            => DescribeConversionFailure(m.Groups["key"].Value, m.Groups["value"].Value, m.Groups["type"].Value),
        FileNotFoundException e when e.Message.Contains("configuration file", StringComparison.Ordinal) => e.Message,
        InvalidDataException e => DescribeUnreadableFile(e),
        _ => null,
    };

    /// <summary>
    /// A settings file that does not load: .NET says only that it could not parse the JSON, so this adds where, with
    /// lines and bytes counted from 1 as an editor counts them, and why.
    /// </summary>
    private static string DescribeUnreadableFile(InvalidDataException exception)
    {
        if (exception.InnerException?.InnerException is JsonException { LineNumber: { } line, BytePositionInLine: { } position } json)
        {
            return $"{exception.Message} It is not valid JSON at line {line + 1}, byte {position + 1}: {JsonLocation().Replace(json.Message, string.Empty)}";
        }

        return $"{exception.Message} {exception.InnerException?.Message}".TrimEnd();
    }

    private static string DescribeConversionFailure(string key, string value, string type)
    {
        var expected = type switch
        {
            "TimeSpan" => "a time span such as 00:00:30",
            "Boolean" => "true or false",
            "Int32" or "Int64" => "a whole number",
            "Uri" => "a URL",
            _ => $"a {type}",
        };

        return $"{key} is '{value}', which is not {expected}.";
    }

    // System.Text.Json ends its messages with " Path: $.a | LineNumber: 3 | BytePositionInLine: 4.", counted from 0.
    [GeneratedRegex(@"\s*(Path: \S* \| )?LineNumber: \d+ \| BytePositionInLine: \d+\.$")]
    private static partial Regex JsonLocation();

    // The binder's message is "Failed to convert configuration value '<value>' at '<key>' to type '<type>'.".
    [GeneratedRegex(@"^Failed to convert configuration value '(?<value>.*)' at '(?<key>[^']+)' to type '(?:System\.)?(?<type>[^']+)'")]
    private static partial Regex ConversionFailure();
}
