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
    /// Whether the dependency serves calls but needs an operator's attention: some calls may fail (a store whose disk
    /// is nearly full still reads while writes may not fit), or it is not what it was (an etcd that came back as
    /// another cluster). Readiness reports it degraded, and stays ready. Only a healthy result can be degraded.
    /// </summary>
    public bool IsDegraded { get; init; }

    /// <summary>A result that serves calls but needs attention (<see cref="IsDegraded"/>).</summary>
    /// <param name="description">What needs attention, and why.</param>
    /// <returns>The result.</returns>
    public static DependencyHealth Degraded(string description) => new(true, description) { IsDegraded = true };
}
