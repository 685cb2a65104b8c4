using Xunit.Abstractions;
using Xunit.Sdk;

namespace Trousseau.Tests.StoreContract;

/// <summary>
/// A fact that the test class may skip at run time: when the test class has a static <c>SkipReason</c> property that
/// returns a reason (an external dependency such as etcd is not installed, outside CI), the test is reported as
/// skipped with it. Under <c>CI=true</c> the classes return no reason, so a missing dependency fails.
/// </summary>
[AttributeUsage(AttributeTargets.Method)]
[XunitTestCaseDiscoverer("Trousseau.Tests.StoreContract.StoreFactDiscoverer", "Trousseau.Tests.Support")]
public sealed class StoreFactAttribute : FactAttribute;

/// <summary>A theory that the test class may skip at run time, as <see cref="StoreFactAttribute"/> does a fact.</summary>
[AttributeUsage(AttributeTargets.Method)]
[XunitTestCaseDiscoverer("Trousseau.Tests.StoreContract.StoreTheoryDiscoverer", "Trousseau.Tests.Support")]
public sealed class StoreTheoryAttribute : TheoryAttribute;

/// <summary>Discovers <see cref="StoreFactAttribute"/> tests, skipping those whose class gives a reason.</summary>
public sealed class StoreFactDiscoverer(IMessageSink diagnosticMessageSink) : FactDiscoverer(diagnosticMessageSink)
{
    private readonly IMessageSink _sink = diagnosticMessageSink;

    /// <inheritdoc />
    public override IEnumerable<IXunitTestCase> Discover(ITestFrameworkDiscoveryOptions discoveryOptions, ITestMethod testMethod, IAttributeInfo factAttribute) =>
        ClassSkip.Skipped(_sink, discoveryOptions, testMethod) ?? base.Discover(discoveryOptions, testMethod, factAttribute);
}

/// <summary>Discovers <see cref="StoreTheoryAttribute"/> tests, skipping those whose class gives a reason.</summary>
public sealed class StoreTheoryDiscoverer(IMessageSink diagnosticMessageSink) : TheoryDiscoverer(diagnosticMessageSink)
{
    private readonly IMessageSink _sink = diagnosticMessageSink;

    /// <inheritdoc />
    public override IEnumerable<IXunitTestCase> Discover(ITestFrameworkDiscoveryOptions discoveryOptions, ITestMethod testMethod, IAttributeInfo theoryAttribute) =>
        ClassSkip.Skipped(_sink, discoveryOptions, testMethod) ?? base.Discover(discoveryOptions, testMethod, theoryAttribute);
}

/// <summary>The skipped test case for a method whose class gives a <c>SkipReason</c>, or null to run it.</summary>
internal static class ClassSkip
{
    public static IXunitTestCase[]? Skipped(IMessageSink sink, ITestFrameworkDiscoveryOptions options, ITestMethod method) =>
        method.TestClass.Class.ToRuntimeType().GetProperty("SkipReason", System.Reflection.BindingFlags.Public | System.Reflection.BindingFlags.Static)?.GetValue(null) is string reason
            ? [new XunitSkippedDataRowTestCase(sink, options.MethodDisplayOrDefault(), options.MethodDisplayOptionsOrDefault(), method, reason)]
            : null;
}
