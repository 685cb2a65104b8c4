using Microsoft.Extensions.DependencyInjection;

namespace Trousseau;

/// <summary>
/// Marks options of type <typeparamref name="TOptions"/> as bound from the Trousseau configuration section, so that a
/// second <c>AddTrousseau(section)</c> or builder call binds them (and watches the section for reloads) only once.
/// </summary>
/// <typeparam name="TOptions">The options type bound.</typeparam>
internal sealed class SectionBinding<TOptions>
    where TOptions : class
{
    /// <summary>Whether <paramref name="services"/> already binds <typeparamref name="TOptions"/> from the section.</summary>
    /// <param name="services">The service collection.</param>
    /// <returns><see langword="true"/> the first time for a collection, having marked it; then <see langword="false"/>.</returns>
    public static bool MarkFirst(IServiceCollection services)
    {
        if (services.Any(d => d.ServiceType == typeof(SectionBinding<TOptions>)))
        {
            return false;
        }

        services.Add(new ServiceDescriptor(typeof(SectionBinding<TOptions>), new SectionBinding<TOptions>()));
        return true;
    }
}
