using Microsoft.Extensions.Configuration;

namespace Trousseau.Hosting.Configuration;

/// <summary>Builds the <see cref="TrousseauSecretsConfigurationProvider"/>.</summary>
internal sealed class TrousseauSecretsConfigurationSource(TrousseauSecretsConfigurationOptions options) : IConfigurationSource
{
    public IConfigurationProvider Build(IConfigurationBuilder builder) => new TrousseauSecretsConfigurationProvider(options);
}
