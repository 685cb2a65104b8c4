using Microsoft.Extensions.Options;

namespace Trousseau.Sqlite.Internal;

/// <summary>Checks the DataAnnotations of <see cref="SqliteStoreOptions"/> at start.</summary>
[OptionsValidator]
internal sealed partial class SqliteStoreOptionsAnnotationsValidator : IValidateOptions<SqliteStoreOptions>;
