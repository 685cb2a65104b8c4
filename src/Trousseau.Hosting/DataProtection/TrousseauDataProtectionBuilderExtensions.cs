using Microsoft.AspNetCore.DataProtection;
using Microsoft.AspNetCore.DataProtection.KeyManagement;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Options;
using Trousseau;
using Trousseau.Hosting.DataProtection;

namespace Microsoft.Extensions.DependencyInjection;

/// <summary>Protects ASP.NET Core Data Protection keys at rest with Trousseau.</summary>
public static class TrousseauDataProtectionBuilderExtensions
{
    /// <summary>
    /// Encrypts every Data Protection key with Trousseau before it is persisted (wherever <c>PersistKeysTo...</c> puts
    /// it), and decrypts it on load. Register Trousseau itself with <c>AddTrousseau()</c>: the keys then have a purpose
    /// of their own (<see cref="DataProtectionKeyEncryptor"/>) that no encrypt/decrypt caller can open. With only a
    /// remote <see cref="ITrousseau"/>, they go through its encrypt and decrypt. With neither registered, the host's start
    /// (or, without a host, the first resolution of Data Protection) throws an <see cref="OptionsValidationException"/>
    /// naming the missing call.
    /// </summary>
    /// <param name="builder">The Data Protection builder.</param>
    /// <returns>The builder.</returns>
    public static IDataProtectionBuilder ProtectKeysWithTrousseau(this IDataProtectionBuilder builder)
    {
        ArgumentNullException.ThrowIfNull(builder);
        if (!builder.Services.Any(service => service.ServiceType == typeof(KeyRingOutage)))
        {
            // Once, however often it is called: a second call would only set the same encryptor again.
            builder.Services.AddSingleton<IConfigureOptions<KeyManagementOptions>>(services =>
                new ConfigureOptions<KeyManagementOptions>(options => options.XmlEncryptor = new TrousseauXmlEncryptor(services)));
        }

        builder.Services.TryAddSingleton(services => new KeyRingOutage(services.GetService<TimeProvider>() ?? TimeProvider.System));
        builder.Services.AddOptions<KeyManagementOptions>().ValidateOnStartOnce();
        builder.Services.TryAddEnumerable(ServiceDescriptor.Singleton<IValidateOptions<KeyManagementOptions>, KeyRingEncryptionValidator>());
        return builder;
    }
}
