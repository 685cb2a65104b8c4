using Microsoft.Extensions.Options;

namespace Trousseau;

/// <summary>
/// Checks the choice of key provider and store in <see cref="TrousseauOptions"/> at start against the backends
/// registered, naming the configuration key of each problem. <see cref="TrousseauOptionsAnnotationsValidator"/> checks
/// the rest.
/// </summary>
internal sealed class TrousseauOptionsValidator(
    TrousseauSectionPath sectionPath,
    IEnumerable<BackendRegistration<IKeyProvider>> keyProviders,
    IEnumerable<BackendRegistration<ISecretStore>> stores) : IValidateOptions<TrousseauOptions>
{
    public ValidateOptionsResult Validate(string? name, TrousseauOptions options)
    {
        var failures = new List<string>(2);
        CheckChoice(failures, "KeyProvider", "key provider", options.KeyProvider, keyProviders.Select(r => r.Name), "UseLocalKeyRing() or UseVaultTransit() (package Trousseau.Vault)");
        CheckChoice(failures, "Store", "store", options.Store, stores.Select(r => r.Name), "UseSqliteStore() (package Trousseau.Sqlite), UseEtcdStore() (package Trousseau.Etcd) or UseInMemoryStore()");
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
