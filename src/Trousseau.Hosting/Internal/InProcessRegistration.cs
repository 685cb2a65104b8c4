using Microsoft.Extensions.DependencyInjection;

namespace Trousseau.Hosting.Internal;

/// <summary>
/// Stops a hosting feature whose registration is missing with a message naming the call to add, rather than the
/// container's "unable to resolve" naming an internal type, or a feature that quietly does nothing.
/// </summary>
internal static class InProcessRegistration
{
    /// <summary>Returns <paramref name="services"/>, or throws when <c>AddTrousseau</c> registered nothing in them.</summary>
    /// <param name="services">The application's services.</param>
    /// <param name="feature">The call that needs Trousseau, as the application wrote it.</param>
    public static IServiceProvider Require(IServiceProvider services, string feature)
    {
        RequireRegistered(
            services,
            typeof(IKeyProvider),
            $"{feature} needs Trousseau in this process: call services.AddTrousseau(...) with a key provider and a store.");
        return services;
    }

    /// <summary>Throws <paramref name="message"/> when <paramref name="services"/> can tell that <paramref name="service"/> is not registered.</summary>
    /// <param name="services">The application's services.</param>
    /// <param name="service">The service the feature needs.</param>
    /// <param name="message">What to call to register it.</param>
    public static void RequireRegistered(IServiceProvider services, Type service, string message)
    {
        if (services.GetService<IServiceProviderIsService>() is { } registered && !registered.IsService(service))
        {
            throw new InvalidOperationException(message);
        }
    }
}
