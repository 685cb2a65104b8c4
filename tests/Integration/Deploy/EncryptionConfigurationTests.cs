using System.Globalization;
using System.Text.RegularExpressions;
using Trousseau.Tests.Integration.Infrastructure;
using YamlDotNet.RepresentationModel;

namespace Trousseau.Tests.Integration.Deploy;

/// <summary>
/// Every kube-apiserver <c>EncryptionConfiguration</c> the repository gives an operator (the file of
/// <c>deploy/kms</c> and those shown in the docs) passes the checks kube-apiserver makes when it loads the file
/// (<c>apiserver.config.k8s.io/v1</c>, with its defaults: a KMS provider without <c>apiVersion</c> is v1, without
/// <c>timeout</c> waits 3 s; KMS names unique across v1 and v2, as with
/// <c>--encryption-provider-config-automatic-reload</c>), and its KMS providers reach the plugin as deployed.
/// </summary>
public sealed partial class EncryptionConfigurationTests
{
    private const string Shipped = "deploy/kms/encryption-configuration.yaml";

    private static readonly string[] ProviderKinds = ["kms", "aesgcm", "aescbc", "secretbox", "identity"];

    private static readonly string[] NotRestResources = ["apiserveripinfo", "serviceipallocations", "servicenodeportallocations"];

    /// <summary>Each file and docs page holding EncryptionConfigurations, with how many it holds.</summary>
    public static TheoryData<string, int> Sources => new()
    {
        { Shipped, 1 },
        { "docs/kms.md", 1 },
        { "src/Trousseau.Kms/README.md", 1 },
    };

    [Theory]
    [MemberData(nameof(Sources))]
    public void What_the_repository_gives_an_operator_passes_kube_apiservers_validation_and_uses_kms_v2_first(string source, int count)
    {
        var configurations = ConfigurationsIn(source);

        Assert.Equal(count, configurations.Count);
        Assert.All(configurations, c => Assert.Empty(Validate(c)));

        // New writes go through the first provider: Trousseau over KMS v2 (v1 needs a feature gate since Kubernetes 1.29).
        Assert.All(configurations, c => Assert.Equal("v2", Scalar(First(c), "kms", "apiVersion")));
    }

    [Fact]
    public void The_shipped_file_calls_the_plugins_socket_and_waits_longer_than_the_plugin_waits_for_its_key_provider()
    {
        var kms = (YamlMappingNode)First(Assert.Single(ConfigurationsIn(Shipped)))["kms"];
        var settings = File.ReadAllText(Path.Combine(RepositoryPaths.Root, "deploy/kms/configmap.yaml"));

        Assert.Contains($"\"Socket\": \"{new Uri(Scalar(kms, "endpoint")).AbsolutePath}\"", settings, StringComparison.Ordinal);

        // The plugin answers UNAVAILABLE after Kms:ProviderTimeout (2 s by default, not set in deploy/kms), inside the call's deadline.
        Assert.DoesNotContain("ProviderTimeout", settings, StringComparison.Ordinal);
        Assert.True(GoDuration(Scalar(kms, "timeout")) > TimeSpan.FromSeconds(2), "the timeout must leave the plugin time to answer UNAVAILABLE itself");
    }

    [Theory]
    [InlineData("kms: { apiVersion: v2, name: trousseau, endpoint: unix:///run/kms.sock, cachesize: 100 }", "cachesize is not supported in v2")]
    [InlineData("kms: { name: trousseau, endpoint: unix:///run/kms.sock, cachesize: 0 }", "cachesize should be a positive value, or negative to disable")]
    [InlineData("kms: { apiVersion: v2, name: 'trousseau:1', endpoint: unix:///run/kms.sock }", "must not contain ':'")]
    [InlineData("kms: { apiVersion: v2, name: '', endpoint: unix:///run/kms.sock }", "name is a mandatory field")]
    [InlineData("kms: { apiVersion: v2, name: trousseau, endpoint: 'tcp://127.0.0.1:9000' }", "unsupported scheme \"tcp\"")]
    [InlineData("kms: { apiVersion: v2, name: trousseau, endpoint: '' }", "endpoint is a mandatory field")]
    [InlineData("kms: { apiVersion: v2, name: trousseau, endpoint: unix:///run/kms.sock, timeout: 0s }", "timeout should be a positive value")]
    [InlineData("kms: { apiVersion: v3, name: trousseau, endpoint: unix:///run/kms.sock }", "only v1 and v2 are supported")]
    [InlineData("{ identity: {}, kms: { apiVersion: v2, name: trousseau, endpoint: unix:///run/kms.sock } }", "more than one provider")]
    public void A_configuration_kube_apiserver_refuses_is_refused_here_too(string provider, string error)
    {
        var configuration = Parse($"apiVersion: apiserver.config.k8s.io/v1\nkind: EncryptionConfiguration\nresources:\n  - resources: [secrets]\n    providers:\n      - {provider}\n");

        Assert.Contains(Validate(configuration), e => e.Contains(error, StringComparison.Ordinal));
    }

    [Fact]
    public void A_kms_provider_name_used_twice_is_refused()
    {
        var configuration = Parse("""
            apiVersion: apiserver.config.k8s.io/v1
            kind: EncryptionConfiguration
            resources:
              - resources: [secrets]
                providers:
                  - kms: { apiVersion: v2, name: trousseau, endpoint: unix:///run/kms.sock }
                  - kms: { name: trousseau, endpoint: unix:///run/kms.sock }
            """);

        Assert.Contains(Validate(configuration), e => e.Contains("duplicate KMS provider name trousseau", StringComparison.Ordinal));
    }

    /// <summary>The EncryptionConfigurations of a YAML file, or of a Markdown page's <c>yaml</c> code blocks.</summary>
    private static List<YamlMappingNode> ConfigurationsIn(string source)
    {
        var text = File.ReadAllText(Path.Combine(RepositoryPaths.Root, source));
        var documents = source.EndsWith(".md", StringComparison.Ordinal)
            ? YamlBlock().Matches(text).Select(m => m.Groups[1].Value)
            : [text];
        return [.. documents.Select(Parse).Where(d => d.Children.ContainsKey("kind") && Scalar(d, "kind") == "EncryptionConfiguration")];
    }

    /// <summary>What kube-apiserver's validation of an EncryptionConfiguration says is wrong with it, after its defaults.</summary>
    private static List<string> Validate(YamlMappingNode configuration)
    {
        var errors = new List<string>();
        if (Scalar(configuration, "apiVersion") != "apiserver.config.k8s.io/v1")
        {
            errors.Add("apiVersion must be apiserver.config.k8s.io/v1");
        }

        var resources = Sequence(configuration, "resources");
        if (resources.Count == 0)
        {
            errors.Add("at least one resources is required");
        }

        var kmsNames = new HashSet<string>(StringComparer.Ordinal);
        foreach (var entry in resources.Cast<YamlMappingNode>())
        {
            var names = Sequence(entry, "resources").Select(r => ((YamlScalarNode)r).Value ?? "").ToList();
            if (names.Count == 0)
            {
                errors.Add("at least one resources[].resources is required");
            }

            errors.AddRange(names.Where(n => n.Any(char.IsUpper) || n == "*" || NotRestResources.Contains(n)).Select(n => $"resource {n} cannot be encrypted as written"));
            var providers = Sequence(entry, "providers");
            if (providers.Count == 0)
            {
                errors.Add("at least one resources[].providers is required");
            }

            foreach (var provider in providers.Cast<YamlMappingNode>())
            {
                var kinds = provider.Children.Keys.Select(k => ((YamlScalarNode)k).Value).Where(ProviderKinds.Contains).ToList();
                if (kinds.Count != 1)
                {
                    errors.Add(kinds.Count == 0 ? "provider does not contain any of the expected providers" : "more than one provider specified in a single element");
                }
                else if (kinds[0] == "kms")
                {
                    errors.AddRange(ValidateKms((YamlMappingNode)provider["kms"], kmsNames));
                }
            }
        }

        return errors;
    }

    private static List<string> ValidateKms(YamlMappingNode kms, HashSet<string> kmsNames)
    {
        var errors = new List<string>();
        var apiVersion = Optional(kms, "apiVersion") ?? "v1";
        var name = Optional(kms, "name") ?? "";
        if (name.Length == 0)
        {
            errors.Add("name is a mandatory field for a provider");
        }

        if (apiVersion != "v1" && name.Contains(':', StringComparison.Ordinal))
        {
            errors.Add($"invalid KMS provider name {name}, must not contain ':'");
        }

        if (!kmsNames.Add(name))
        {
            errors.Add($"duplicate KMS provider name {name}, names must be unique");
        }

        if (GoDuration(Optional(kms, "timeout") ?? "3s") <= TimeSpan.Zero)
        {
            errors.Add("timeout should be a positive value");
        }

        var endpoint = Optional(kms, "endpoint") ?? "";
        var scheme = endpoint.Split("://")[0];
        if (endpoint.Length == 0)
        {
            errors.Add("endpoint is a mandatory field for a kms");
        }
        else if (scheme != "unix" || !endpoint.StartsWith("unix:///", StringComparison.Ordinal))
        {
            errors.Add($"unsupported scheme \"{scheme}\" for KMS provider, only unix is supported (with an absolute path)");
        }

        var cacheSize = Optional(kms, "cachesize");
        if (apiVersion != "v1" && cacheSize is not null)
        {
            errors.Add("cachesize is not supported in v2");
        }

        if (apiVersion == "v1" && cacheSize == "0")
        {
            errors.Add("cachesize should be a positive value, or negative to disable");
        }

        if (apiVersion is not ("v1" or "v2"))
        {
            errors.Add($"unsupported apiVersion {apiVersion} for KMS provider, only v1 and v2 are supported");
        }

        return errors;
    }

    /// <summary>A Go duration (<c>3s</c>, <c>1m30s</c>, <c>500ms</c>), as metav1.Duration reads it.</summary>
    private static TimeSpan GoDuration(string text)
    {
        var parts = GoDurationPart().Matches(text);
        Assert.True(parts.Sum(p => p.Length) == text.Length && parts.Count > 0, $"'{text}' is not a Go duration");
        return parts.Aggregate(TimeSpan.Zero, (total, part) =>
        {
            var amount = double.Parse(part.Groups[1].Value, CultureInfo.InvariantCulture);
            return total + part.Groups[2].Value switch
            {
                "h" => TimeSpan.FromHours(amount),
                "m" => TimeSpan.FromMinutes(amount),
                "s" => TimeSpan.FromSeconds(amount),
                "ms" => TimeSpan.FromMilliseconds(amount),
                "us" or "µs" => TimeSpan.FromMicroseconds(amount),
                _ => TimeSpan.FromTicks((long)(amount / 100)),
            };
        });
    }

    private static YamlMappingNode Parse(string yaml)
    {
        var stream = new YamlStream();
        stream.Load(new StringReader(yaml));
        return (YamlMappingNode)Assert.Single(stream.Documents).RootNode;
    }

    private static YamlMappingNode First(YamlMappingNode configuration) =>
        (YamlMappingNode)Sequence((YamlMappingNode)Sequence(configuration, "resources")[0], "providers")[0];

    private static IList<YamlNode> Sequence(YamlMappingNode node, string key) =>
        node.Children.TryGetValue(key, out var value) && value is YamlSequenceNode sequence ? sequence.Children : [];

    private static string? Optional(YamlMappingNode node, string key) =>
        node.Children.TryGetValue(key, out var value) ? ((YamlScalarNode)value).Value : null;

    private static string Scalar(YamlMappingNode node, params string[] path) =>
        ((YamlScalarNode)path.Aggregate<string, YamlNode>(node, (current, key) => ((YamlMappingNode)current)[key])).Value!;

    [GeneratedRegex(@"```yaml\n(.*?)```", RegexOptions.Singleline)]
    private static partial Regex YamlBlock();

    [GeneratedRegex(@"([0-9]*\.?[0-9]+)(ns|us|µs|ms|s|m|h)")]
    private static partial Regex GoDurationPart();
}
