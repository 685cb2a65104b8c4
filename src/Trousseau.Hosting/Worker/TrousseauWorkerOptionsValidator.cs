using Microsoft.Extensions.Options;

namespace Trousseau.Hosting.Worker;

/// <summary>
/// Checks <see cref="TrousseauWorkerOptions"/> at start. A failure names the setting, the value given and the
/// valid range.
/// </summary>
/// <param name="sectionPath">
/// The worker's section, for example <c>Trousseau:Worker</c>, or <see langword="null"/> when the options are set
/// in code only.
/// </param>
internal sealed class TrousseauWorkerOptionsValidator(string? sectionPath) : IValidateOptions<TrousseauWorkerOptions>
{
    private static readonly TimeSpan MinInterval = TimeSpan.FromMilliseconds(100);
    private static readonly TimeSpan MaxInterval = TimeSpan.FromHours(24);

    public ValidateOptionsResult Validate(string? name, TrousseauWorkerOptions options) =>
        options.Interval < MinInterval || options.Interval > MaxInterval
            ? ValidateOptionsResult.Fail($"{Key("Interval")} is {options.Interval:c}; it must be at least 00:00:00.1 and at most 1.00:00:00.")
            : ValidateOptionsResult.Success;

    private string Key(string relative) => sectionPath is null ? $"The worker's {relative}" : $"{sectionPath}:{relative}";
}
