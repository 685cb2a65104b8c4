using System.Diagnostics.CodeAnalysis;
using System.Text.RegularExpressions;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;

namespace Trousseau;

// Linked into each Trousseau library whose options carry DataAnnotations. Their messages name each key under the
// default section (Trousseau:Sqlite:Path); an application that gave AddTrousseau a section of its own reads its own
// keys instead (Secrets:Sqlite:Path).

/// <summary>Registers options' validators once, their failures naming the keys of the section the application bound.</summary>
internal static partial class SectionNamedValidation
{
    private const string DefaultSection = "Trousseau";

    /// <summary>
    /// Registers <typeparamref name="TValidator"/> (an <c>[OptionsValidator]</c>), its failures naming keys under the
    /// builder's section, once however often and in whatever order <c>AddTrousseau</c> is called (see
    /// <see cref="AddSectionValidator{TOptions, TValidator}"/>).
    /// </summary>
    public static void AddAnnotationsValidator<TOptions, TValidator>(this ITrousseauBuilder builder)
        where TOptions : class
        where TValidator : class, IValidateOptions<TOptions>, new()
    {
        builder.AddSectionValidator<TOptions, SectionNamedValidator<TOptions>>(_ => new SectionNamedValidator<TOptions>(new TValidator(), builder.ConfigurationPath()));
    }

    /// <summary>
    /// Registers a validator of <typeparamref name="TOptions"/> whose messages name keys of the builder's section,
    /// once. A builder given a section (<c>AddTrousseau(section)</c>) replaces, in place, the one registered by an
    /// earlier builder without a section (<c>AddTrousseau()</c>), whose keys bind from nowhere; a builder without a
    /// section leaves an earlier registration as it is.
    /// </summary>
    public static void AddSectionValidator<TOptions, TValidator>(this ITrousseauBuilder builder, Func<IServiceProvider, TValidator> create)
        where TOptions : class
        where TValidator : class, IValidateOptions<TOptions>
    {
        var services = builder.Services;
        var descriptor = ServiceDescriptor.Singleton<IValidateOptions<TOptions>, TValidator>(create);
        for (var i = 0; i < services.Count; i++)
        {
            if (services[i].ServiceType == typeof(IValidateOptions<TOptions>) && !services[i].IsKeyedService && ImplementationType(services[i]) == typeof(TValidator))
            {
                if (builder.Configuration is not null)
                {
                    services[i] = descriptor;
                }

                return;
            }
        }

        services.Add(descriptor);
    }

    /// <summary>
    /// Validates <typeparamref name="TOptions"/> when the host starts (<c>ValidateOnStart</c>), registered once however
    /// often it is called: each <c>ValidateOnStart</c> call adds a start-up validation entry of its own, which two
    /// <c>AddTrousseau</c> calls (two libraries of one application, or a test host adding it again) would double.
    /// </summary>
    public static OptionsBuilder<TOptions> ValidateOnStartOnce<[DynamicallyAccessedMembers(DynamicallyAccessedMemberTypes.PublicParameterlessConstructor)] TOptions>(this OptionsBuilder<TOptions> options)
        where TOptions : class
    {
        if (!options.Services.Any(d => d.ServiceType == typeof(ValidatedOnStart<TOptions>)))
        {
            options.Services.AddSingleton(new ValidatedOnStart<TOptions>());
            options.ValidateOnStart();
        }

        return options;
    }

    private static Type? ImplementationType(ServiceDescriptor descriptor) =>
        descriptor.ImplementationType ?? descriptor.ImplementationInstance?.GetType() ?? descriptor.ImplementationFactory?.Method.ReturnType;

    private static string Rename(string failure, string section) =>
        section == DefaultSection ? failure : DefaultSectionKey().Replace(failure, section + ":");

    [GeneratedRegex(@"\bTrousseau:(?=[A-Za-z])", RegexOptions.CultureInvariant)]
    private static partial Regex DefaultSectionKey();

    /// <summary>Marks options of type <typeparamref name="TOptions"/> as validated at start (<see cref="ValidateOnStartOnce{TOptions}"/>).</summary>
    private sealed class ValidatedOnStart<TOptions>
        where TOptions : class;

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
