using Microsoft.Extensions.Options;

namespace Trousseau;

/// <summary>Checks <see cref="TrousseauOptions"/> at start, naming the configuration key of each problem.</summary>
internal sealed class TrousseauOptionsValidator(
    TrousseauSectionPath sectionPath,
    IEnumerable<BackendRegistration<IKeyProvider>> keyProviders,
    IEnumerable<BackendRegistration<ISecretStore>> stores) : IValidateOptions<TrousseauOptions>
{
    private const long MaxDataKeyUses = 1L << 31;

    public ValidateOptionsResult Validate(string? name, TrousseauOptions options)
    {
        var failures = new List<string>();
        CheckChoice(failures, "KeyProvider", "key provider", options.KeyProvider, keyProviders.Select(r => r.Name), "UseLocalKeyRing()");
        CheckChoice(failures, "Store", "store", options.Store, stores.Select(r => r.Name), "UseSqliteStore() or UseInMemoryStore()");

        var keys = options.DataKeys;
        if (keys is null)
        {
            failures.Add($"{Key("DataKeys")} must not be null.");
        }
        else
        {
            if (keys.MaxUses is < 1 or > MaxDataKeyUses)
            {
                failures.Add($"{Key("DataKeys:MaxUses")} must be between 1 and {MaxDataKeyUses}, not {keys.MaxUses}.");
            }

            if (keys.MaxAge <= TimeSpan.Zero)
            {
                failures.Add($"{Key("DataKeys:MaxAge")} must be a positive time span (for example 01:00:00), not {keys.MaxAge}.");
            }

            if (keys.CacheSize is < 1 or > 1_000_000)
            {
                failures.Add($"{Key("DataKeys:CacheSize")} must be between 1 and 1000000, not {keys.CacheSize}.");
            }

            if (keys.CacheTimeToLive <= TimeSpan.Zero)
            {
                failures.Add($"{Key("DataKeys:CacheTimeToLive")} must be a positive time span (for example 01:00:00), not {keys.CacheTimeToLive}.");
            }
        }

        return failures.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(failures);
    }

    private void CheckChoice(List<string> failures, string key, string what, string? chosen, IEnumerable<string> available, string hint)
    {
        var names = available.Distinct(StringComparer.OrdinalIgnoreCase).ToList();
        if (names.Count == 0)
        {
            failures.Add($"No {what} is registered: call {hint} on the Trousseau builder.");
        }
        else if (chosen is null && names.Count > 1)
        {
            failures.Add($"{Key(key)} must name the {what} to use: one of {string.Join(", ", names)}.");
        }
        else if (chosen is not null && !names.Contains(chosen, StringComparer.OrdinalIgnoreCase))
        {
            failures.Add($"{Key(key)} is '{chosen}', which is not an available {what}: use one of {string.Join(", ", names)} (case-insensitive).");
        }
    }

    private string Key(string relative) => $"{sectionPath.Value}:{relative}";
}
