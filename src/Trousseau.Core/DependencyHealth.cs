namespace Trousseau;

/// <summary>The health of one dependency (a key provider or a store), as its own check saw it.</summary>
/// <param name="IsHealthy">Whether the dependency can serve calls now.</param>
/// <param name="Description">A short, secret-free description: what was checked, or what is wrong.</param>
public readonly record struct DependencyHealth(bool IsHealthy, string Description)
{
    /// <summary>A healthy result.</summary>
    /// <param name="description">What was checked.</param>
    /// <returns>The result.</returns>
    public static DependencyHealth Healthy(string description) => new(true, description);

    /// <summary>
    /// Whether the dependency serves calls but some may fail, as a store whose disk is nearly full still reads while
    /// writes may not fit: readiness reports it degraded, and stays ready. Only with <see cref="IsHealthy"/>.
    /// </summary>
    public bool IsDegraded { get; init; }

    /// <summary>A degraded result: the dependency serves calls, but some may fail (<see cref="IsDegraded"/>).</summary>
    /// <param name="description">What may fail, and why.</param>
    /// <returns>The result.</returns>
    public static DependencyHealth Degraded(string description) => new(true, description) { IsDegraded = true };

    /// <summary>An unhealthy result.</summary>
    /// <param name="description">What is wrong.</param>
    /// <returns>The result.</returns>
    public static DependencyHealth Unhealthy(string description) => new(false, description);
}
