using Microsoft.Extensions.DependencyInjection.Extensions;
using Trousseau.Sqlite;

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
        var path = builder.ConfigurationPath("Sqlite:Path");
        var busyTimeout = builder.ConfigurationPath("Sqlite:BusyTimeout");
        builder.AddBackendOptions("Sqlite", configure)
            .Validate(o => !string.IsNullOrWhiteSpace(o.Path), $"{path} is required: the path of the SQLite database file.")
            .Validate(o => o.BusyTimeout > TimeSpan.Zero && o.BusyTimeout <= TimeSpan.FromMinutes(10), $"{busyTimeout} must be a positive time span of at most 10 minutes.");
        builder.Services.TryAddSingleton<SqliteSecretStore>();
        return builder.AddSecretStore(SqliteSecretStore.StoreName, sp => sp.GetRequiredService<SqliteSecretStore>());
    }
}
