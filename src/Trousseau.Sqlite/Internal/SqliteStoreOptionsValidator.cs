using Microsoft.Extensions.Options;

namespace Trousseau.Sqlite.Internal;

/// <summary>
/// Checks what DataAnnotations cannot in <see cref="SqliteStoreOptions"/>: a <see cref="SqliteStoreOptions.Path"/> that
/// names a directory, which SQLite would report only as a file it cannot create, and the key ring's start check as a
/// store it cannot read. <see cref="SqliteStoreOptionsAnnotationsValidator"/> checks the rest.
/// </summary>
internal sealed class SqliteStoreOptionsValidator(string sectionPath) : IValidateOptions<SqliteStoreOptions>
{
    public ValidateOptionsResult Validate(string? name, SqliteStoreOptions options)
    {
        if (string.IsNullOrWhiteSpace(options.Path) || !Directory.Exists(options.Path))
        {
            return ValidateOptionsResult.Success;
        }

        var path = System.IO.Path.GetFullPath(options.Path);
        return ValidateOptionsResult.Fail(
            $"{sectionPath}:Path is '{path}', which is a directory; give the path of the SQLite database file (for example {System.IO.Path.Join(path, "store.db")}).");
    }
}
