using Microsoft.Extensions.Configuration;

namespace Microsoft.Extensions.DependencyInjection;

/// <summary>
/// Returned by <c>AddTrousseau</c>; backends hang off it as extension methods (<c>UseLocalKeyRing</c>,
/// <c>UseSqliteStore</c>, ...).
/// </summary>
public interface ITrousseauBuilder
{
    /// <summary>The service collection Trousseau is registered in.</summary>
    IServiceCollection Services { get; }

    /// <summary>
    /// The configuration section <c>AddTrousseau</c> was given (by this call, or for a call without one by another
    /// call, earlier or later), or <see langword="null"/>. Backends bind their own options from a child of it (for example
    /// <c>Sqlite</c>) and name its path in validation errors.
    /// </summary>
    IConfigurationSection? Configuration { get; }
}
