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

    /// <summary>An unhealthy result.</summary>
    /// <param name="description">What is wrong.</param>
    /// <returns>The result.</returns>
    public static DependencyHealth Unhealthy(string description) => new(false, description);

    /// <summary>
    /// Whether the dependency serves calls but something about it needs an operator's attention (readiness reports
    /// it as degraded, and still ready). Only a healthy result can be degraded.
    /// </summary>
    public bool IsDegraded { get; init; }

    /// <summary>A result that serves calls but needs attention.</summary>
    /// <param name="description">What needs attention.</param>
    /// <returns>The result.</returns>
    public static DependencyHealth Degraded(string description) => new(true, description) { IsDegraded = true };
}
