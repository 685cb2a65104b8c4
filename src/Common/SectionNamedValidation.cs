using System.Diagnostics.CodeAnalysis;
using System.Text.RegularExpressions;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Options;

namespace Trousseau;

// Linked into each Trousseau library whose options carry DataAnnotations. Their messages name each key under the
// default section (Trousseau:Sqlite:Path); an application that gave AddTrousseau a section of its own reads its own
// keys instead (Secrets:Sqlite:Path).

/// <summary>Registers options' DataAnnotations validators so that their failures name the application's keys.</summary>
internal static partial class SectionNamedValidation
{
    private const string DefaultSection = "Trousseau";

    /// <summary>
    /// Registers <typeparamref name="TValidator"/> (an <c>[OptionsValidator]</c>), its failures naming keys under
    /// <paramref name="section"/>, the configuration path of the application's Trousseau section.
    /// </summary>
    public static void AddAnnotationsValidator<TOptions, [DynamicallyAccessedMembers(DynamicallyAccessedMemberTypes.PublicConstructors)] TValidator>(this IServiceCollection services, string section)
        where TOptions : class
        where TValidator : class, IValidateOptions<TOptions>, new()
    {
        if (section == DefaultSection)
        {
            services.TryAddEnumerable(ServiceDescriptor.Singleton<IValidateOptions<TOptions>, TValidator>());
        }
        else
        {
            services.TryAddEnumerable(ServiceDescriptor.Singleton<IValidateOptions<TOptions>, SectionNamedValidator<TOptions>>(
                _ => new SectionNamedValidator<TOptions>(new TValidator(), section)));
        }
    }

    private static string Rename(string failure, string section) => DefaultSectionKey().Replace(failure, section + ":");

    [GeneratedRegex(@"\bTrousseau:(?=[A-Za-z])", RegexOptions.CultureInvariant)]
    private static partial Regex DefaultSectionKey();

    /// <summary>A DataAnnotations validator whose failures name keys under the application's section.</summary>
    private sealed class SectionNamedValidator<TOptions>(IValidateOptions<TOptions> annotations, string section) : IValidateOptions<TOptions>
        where TOptions : class
    {
        public ValidateOptionsResult Validate(string? name, TOptions options)
        {
            var result = annotations.Validate(name, options);
            return result.Failed ? ValidateOptionsResult.Fail(result.Failures.Select(failure => Rename(failure, section))) : result;
        }
    }
}
