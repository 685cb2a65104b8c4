using Microsoft.Extensions.DependencyInjection;

namespace Trousseau.Hosting.Internal;

/// <summary>
/// Stops a hosting feature that needs Trousseau in process (a key provider and a store) with a message naming the
/// missing <c>AddTrousseau</c> call, rather than the container's "unable to resolve" naming an internal type.
/// </summary>
internal static class InProcessRegistration
{
    /// <summary>Returns <paramref name="services"/>, or throws when <c>AddTrousseau</c> registered nothing in them.</summary>
    /// <param name="services">The application's services.</param>
    /// <param name="feature">The call that needs Trousseau, as the application wrote it.</param>
    public static IServiceProvider Require(IServiceProvider services, string feature) =>
        services.GetService<IServiceProviderIsService>() is { } registered && !registered.IsService(typeof(IKeyProvider))
            ? throw new InvalidOperationException(
                $"{feature} needs Trousseau in this process: call services.AddTrousseau(...) with a key provider and a store.")
            : services;
}
