using Microsoft.Extensions.Options;

namespace Trousseau.Sqlite.Internal;

/// <summary>
/// Checks <see cref="SqliteStoreOptions"/> at start. Each failure names the configuration key, the value given and
/// what would be valid.
/// </summary>
internal sealed class SqliteStoreOptionsValidator(string sectionPath) : IValidateOptions<SqliteStoreOptions>
{
    private static readonly TimeSpan MaxBusyTimeout = TimeSpan.FromMinutes(10);

    public ValidateOptionsResult Validate(string? name, SqliteStoreOptions options)
    {
        var failures = new List<string>();
        if (string.IsNullOrWhiteSpace(options.Path))
        {
            var given = options.Path is null ? "not set" : $"'{options.Path}'";
            failures.Add($"{Key("Path")} is {given}; it must be the path of the SQLite database file (for example /var/lib/trousseau/store.db).");
        }

        if (options.BusyTimeout <= TimeSpan.Zero || options.BusyTimeout > MaxBusyTimeout)
        {
            failures.Add($"{Key("BusyTimeout")} is {options.BusyTimeout:c}; it must be above {TimeSpan.Zero:c} and at most {MaxBusyTimeout:c}.");
        }

        return failures.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(failures);
    }

    private string Key(string relative) => $"{sectionPath}:{relative}";
}
