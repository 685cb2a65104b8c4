using Microsoft.AspNetCore.DataProtection.KeyManagement;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;

namespace Trousseau.Hosting.DataProtection;

/// <summary>
/// Stops the start of an application whose Data Protection keys go to Trousseau when nothing in it encrypts them:
/// neither <c>AddTrousseau()</c> (<see cref="DataProtectionKeyEncryptor"/>) nor an <see cref="ITrousseau"/> is
/// registered. Without it the application would start, log the failure, and fail every request that protects or
/// unprotects.
/// </summary>
internal sealed class KeyRingEncryptionValidator(IServiceProvider services) : IValidateOptions<KeyManagementOptions>
{
    /// <summary>What the application is missing, also thrown at the first key when the container cannot tell.</summary>
    public const string MissingTrousseau =
        "ProtectKeysWithTrousseau needs Trousseau: call services.AddTrousseau(...) with a key provider and a store, or register the ITrousseau (a TrousseauClient) that encrypts the keys.";

    public ValidateOptionsResult Validate(string? name, KeyManagementOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        return options.XmlEncryptor is TrousseauXmlEncryptor
            && services.GetService<IServiceProviderIsService>() is { } registered
            && !registered.IsService(typeof(DataProtectionKeyEncryptor))
            && !registered.IsService(typeof(ITrousseau))
                ? ValidateOptionsResult.Fail(MissingTrousseau)
                : ValidateOptionsResult.Success;
    }
}
