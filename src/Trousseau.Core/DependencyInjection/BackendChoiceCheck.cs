using Microsoft.Extensions.Options;

namespace Trousseau;

/// <summary>
/// Checks the choice of key provider and store in <see cref="TrousseauOptions"/> against the backends registered,
/// naming the configuration key of each problem: when the host starts, and when a backend is first resolved (see
/// <see cref="BackendChoice"/>). <see cref="TrousseauOptionsAnnotationsValidator"/> checks the rest of the options.
/// </summary>
internal sealed class BackendChoiceCheck(
    TrousseauSectionPath sectionPath,
    IOptions<TrousseauOptions> options,
    IEnumerable<BackendRegistration<IKeyProvider>> keyProviders,
    IEnumerable<BackendRegistration<ISecretStore>> stores) : IValidateOptions<BackendChoice>
{
    public ValidateOptionsResult Validate(string? name, BackendChoice choice)
    {
        TrousseauOptions chosen;
        try
        {
            chosen = options.Value;
        }
        catch (OptionsValidationException)
        {
            // TrousseauOptions' own validation reports why they cannot be made, at start as well.
            return ValidateOptionsResult.Skip;
        }

        var failures = new List<string>(2);
        CheckChoice(failures, "KeyProvider", "key provider", chosen.KeyProvider, keyProviders.Select(r => r.Name), "UseLocalKeyRing() or UseVaultTransit() (package Trousseau.Vault)");
        CheckChoice(failures, "Store", "store", chosen.Store, stores.Select(r => r.Name), "UseSqliteStore() (package Trousseau.Sqlite), UseEtcdStore() (package Trousseau.Etcd) or UseInMemoryStore()");
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
