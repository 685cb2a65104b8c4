using System.Diagnostics.Metrics;
using Microsoft.Extensions.DependencyInjection;

namespace Trousseau.Tests.Unit.Support;

/// <summary>Trousseau's instrumentation outside a container, for tests that build an encryptor by hand.</summary>
internal static class TestInstrumentation
{
    private static readonly ServiceProvider Metrics = new ServiceCollection().AddMetrics().BuildServiceProvider();

    /// <summary>One instance for tests that do not look at telemetry.</summary>
    public static TrousseauInstrumentation Shared { get; } = new(Metrics.GetRequiredService<IMeterFactory>());
}
