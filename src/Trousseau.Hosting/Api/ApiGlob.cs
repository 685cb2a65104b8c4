using System.Text;
using System.Text.RegularExpressions;

namespace Trousseau.Hosting.Api;

/// <summary>
/// A glob of <c>Api:Policies</c>, matched against the whole value, case-sensitively. Of a secret name
/// (<see cref="Secret"/>): <c>*</c> matches any characters but <c>/</c>, so it stays within one segment of the name;
/// <c>**</c> matches any characters, <c>/</c> included; <c>?</c> matches one character but <c>/</c>. Of an identity
/// (<see cref="Subject"/>): <c>*</c> matches any characters, <c>?</c> one character.
/// </summary>
internal sealed class ApiGlob
{
    private const string SecretCharacters = "abcdefghijklmnopqrstuvwxyz0123456789._/-*?";

    private readonly Regex _regex;

    private ApiGlob(string pattern, Regex regex)
    {
        Pattern = pattern;
        _regex = regex;
    }

    /// <summary>The glob as configured.</summary>
    public string Pattern { get; }

    public bool IsMatch(string value) => _regex.IsMatch(value);

    /// <summary>A glob of secret names; <paramref name="pattern"/> must be one <see cref="SecretProblem"/> accepts.</summary>
    public static ApiGlob Secret(string pattern) => new(pattern, Compile(pattern, anySequence: "[^/]*", crossingSequence: ".*", anyOne: "[^/]"));

    /// <summary>A glob of identities; <paramref name="pattern"/> must be one <see cref="SubjectProblem"/> accepts.</summary>
    public static ApiGlob Subject(string pattern) => new(pattern, Compile(pattern, anySequence: ".*", crossingSequence: ".*", anyOne: "."));

    /// <summary>What is wrong with a glob of secret names, or <see langword="null"/> when it is valid.</summary>
    public static string? SecretProblem(string? pattern) => pattern switch
    {
        null or "" => "it is empty",
        _ when pattern.Any(c => !SecretCharacters.Contains(c, StringComparison.Ordinal)) =>
            "it holds a character no secret name has; use a-z 0-9 . _ / - and the wildcards * ** ?",
        _ when pattern.Contains("***", StringComparison.Ordinal) => "it holds '***'; use * within a segment or ** across segments",
        _ => null,
    };

    /// <summary>What is wrong with a glob of identities, or <see langword="null"/> when it is valid.</summary>
    public static string? SubjectProblem(string? pattern) => pattern switch
    {
        null or "" => "it is empty",
        _ when string.IsNullOrWhiteSpace(pattern) => "it is only white space",
        _ when pattern.Any(char.IsControl) => "it holds a control character",
        _ => null,
    };

    private static Regex Compile(string pattern, string anySequence, string crossingSequence, string anyOne)
    {
        var regex = new StringBuilder("^");
        for (var i = 0; i < pattern.Length; i++)
        {
            switch (pattern[i])
            {
                case '*' when i + 1 < pattern.Length && pattern[i + 1] == '*':
                    regex.Append(crossingSequence);
                    i++;
                    break;
                case '*':
                    regex.Append(anySequence);
                    break;
                case '?':
                    regex.Append(anyOne);
                    break;
                default:
                    regex.Append(Regex.Escape(pattern[i].ToString()));
                    break;
            }
        }

        // Non-backtracking: matching time stays linear in the name, whatever the glob.
        return new Regex(regex.Append(@"\z").ToString(), RegexOptions.CultureInvariant | RegexOptions.NonBacktracking);
    }
}
