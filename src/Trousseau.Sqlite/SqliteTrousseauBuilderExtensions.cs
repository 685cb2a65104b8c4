using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Options;
using Trousseau;
using Trousseau.Sqlite;
using Trousseau.Sqlite.Internal;

namespace Microsoft.Extensions.DependencyInjection;

/// <summary>Chooses the SQLite store for Trousseau.</summary>
public static class SqliteTrousseauBuilderExtensions
{
    /// <summary>
    /// Uses one SQLite file (<c>Trousseau:Sqlite:Path</c>) as the store: the embedded default.
    /// </summary>
    /// <param name="builder">The Trousseau builder.</param>
    /// <param name="configure">Sets the options, after configuration binding.</param>
    /// <returns>The builder.</returns>
    public static ITrousseauBuilder UseSqliteStore(this ITrousseauBuilder builder, Action<SqliteStoreOptions>? configure = null)
    {
        builder.AddBackendOptions<SqliteStoreOptions>("Sqlite", static (options, section) => section.Bind(options), configure);
        builder.AddAnnotationsValidator<SqliteStoreOptions, SqliteStoreOptionsAnnotationsValidator>();
        builder.AddSectionValidator<SqliteStoreOptions, SqliteStoreOptionsValidator>(_ => new SqliteStoreOptionsValidator(builder.ConfigurationPath("Sqlite")));
        builder.Services.TryAddSingleton<SqliteSecretStore>();
        return builder.AddSecretStore(SqliteSecretStore.StoreName, sp => sp.GetRequiredService<SqliteSecretStore>());
    }
}
