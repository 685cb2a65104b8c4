using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;
using Trousseau.Etcd;

namespace Trousseau.Tests.Integration.Etcd;

/// <summary>etcd settings a user gets wrong, reported at start with the key, the value and what is valid.</summary>
public sealed class EtcdOptionsTests
{
    [Theory]
    [InlineData("127.0.0.1:2379")]
    [InlineData("etcd-0")]
    public void An_endpoint_without_a_scheme_is_named_with_its_key_and_what_is_valid(string endpoint)
    {
        var configuration = new ConfigurationBuilder()
            .AddInMemoryCollection([KeyValuePair.Create<string, string?>("Trousseau:Etcd:Endpoints:0", endpoint)])
            .Build();
        var services = new ServiceCollection();
        services.AddTrousseau(configuration.GetSection("Trousseau")).UseEtcdStore();
        using var provider = services.BuildServiceProvider();

        var error = Assert.Throws<OptionsValidationException>(() => provider.GetRequiredService<IOptions<EtcdStoreOptions>>().Value);

        Assert.Equal(
            $"Trousseau:Etcd:Endpoints holds '{endpoint}', which is not an http(s) URL such as http://127.0.0.1:2379.",
            Assert.Single(error.Failures));
    }
}
