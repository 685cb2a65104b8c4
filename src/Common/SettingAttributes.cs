using System.Collections;
using System.ComponentModel.DataAnnotations;
using System.Globalization;

namespace Trousseau;

// Linked into each Trousseau library whose options carry DataAnnotations, for the [OptionsValidator] source
// generator. A failure message names the configuration key (in ErrorMessage), the value given and what is valid.

/// <summary>
/// A setting that must be given: not blank (a string), not empty (a list). <see cref="ValidationAttribute.ErrorMessage"/>
/// is a format whose <c>{0}</c> is the value given: <c>not set</c>, <c>empty</c> (a list), or the string in quotes.
/// </summary>
[AttributeUsage(AttributeTargets.Property)]
internal sealed class RequiredSettingAttribute : RequiredAttribute
{
    protected override ValidationResult? IsValid(object? value, ValidationContext validationContext) =>
        IsValid(value) && value is not ICollection { Count: 0 }
            ? ValidationResult.Success
            : new ValidationResult(string.Format(CultureInfo.InvariantCulture, ErrorMessageString, value switch
            {
                null => "not set",
                ICollection => "empty",
                _ => $"'{value}'",
            }));
}

/// <summary>
/// A whole number or a time span between two bounds, the upper one included. <see cref="ValidationAttribute.ErrorMessage"/>
/// is a format whose <c>{0}</c> is the value given (a time span as <c>[-][d.]hh:mm:ss[.fffffff]</c>).
/// </summary>
[AttributeUsage(AttributeTargets.Property)]
internal sealed class SettingRangeAttribute : ValidationAttribute
{
    /// <summary><see cref="TimeSpan.MaxValue"/> in the <c>c</c> format, for a time span with no upper bound.</summary>
    public const string MaxTimeSpan = "10675199.02:48:05.4775807";

    private readonly IComparable _minimum;
    private readonly IComparable _maximum;

    /// <summary>A whole number from <paramref name="minimum"/> to <paramref name="maximum"/>.</summary>
    public SettingRangeAttribute(long minimum, long maximum)
    {
        _minimum = minimum;
        _maximum = maximum;
    }

    /// <summary>A time span from <paramref name="minimum"/> to <paramref name="maximum"/>, both in the invariant <c>c</c> format.</summary>
    public SettingRangeAttribute(string minimum, string maximum)
    {
        _minimum = TimeSpan.ParseExact(minimum, "c", CultureInfo.InvariantCulture);
        _maximum = TimeSpan.ParseExact(maximum, "c", CultureInfo.InvariantCulture);
    }

    /// <summary>Whether the minimum itself is refused.</summary>
    public bool MinimumIsExclusive { get; set; }

    protected override ValidationResult? IsValid(object? value, ValidationContext validationContext)
    {
        IComparable? given = value switch
        {
            int number => (long)number,
            long number => number,
            TimeSpan span => span,
            _ => null,
        };

        if (given is null)
        {
            throw new InvalidOperationException($"{validationContext.DisplayName} is not a whole number or a time span, which {nameof(SettingRangeAttribute)} checks.");
        }

        var low = given.CompareTo(_minimum);
        return (MinimumIsExclusive ? low > 0 : low >= 0) && given.CompareTo(_maximum) <= 0
            ? ValidationResult.Success
            : new ValidationResult(string.Format(CultureInfo.InvariantCulture, ErrorMessageString, given is TimeSpan time ? time.ToString("c", CultureInfo.InvariantCulture) : given));
    }
}
