using System.Text;
using System.Text.Json;
using Microsoft.Extensions.Configuration;
using Trousseau.Server;
using Trousseau.Tests.Integration.Infrastructure;
using YamlDotNet.RepresentationModel;

namespace Trousseau.Tests.Integration.Deploy;

/// <summary>
/// The Kubernetes manifests restart trousseaud only when the process itself is stuck, never because Vault or the store
/// is down (a restart cannot fix those and throws away the data-key caches); start-up and readiness follow readiness.
/// What they configure is what trousseaud reads.
/// </summary>
public sealed class ProbeManifestTests
{
    [Theory]
    [InlineData("deploy/kubernetes/daemonset.yaml")]
    [InlineData("deploy/kubernetes/static-pod.yaml")]
    public void Liveness_asks_only_the_process_while_startup_and_readiness_ask_readyz(string manifest)
    {
        var container = Containers(manifest).Single();

        Assert.Equal("/healthz", ProbePath(container, "livenessProbe"));
        Assert.Equal("/readyz", ProbePath(container, "startupProbe"));
        Assert.Equal("/readyz", ProbePath(container, "readinessProbe"));
    }

    [Fact]
    public void The_daemonset_probes_reach_an_address_the_kubelet_can_connect_to_and_the_api_is_off()
    {
        var configMap = Load("deploy/kubernetes/configmap.yaml");
        var json = ((YamlScalarNode)((YamlMappingNode)configMap["data"])["config.json"]).Value!;
        using var config = JsonDocument.Parse(json);
        var api = config.RootElement.GetProperty("Trousseau").GetProperty("Api");

        // Without hostNetwork the kubelet connects to the pod's IP, so the health address must not be loopback only.
        Assert.Equal("http://0.0.0.0:8787", api.GetProperty("Urls").GetString());
        Assert.False(api.GetProperty("Enabled").GetBoolean());
        var podSpec = (YamlMappingNode)((YamlMappingNode)((YamlMappingNode)Load("deploy/kubernetes/daemonset.yaml")["spec"])["template"])["spec"];
        Assert.False(podSpec.Children.ContainsKey("hostNetwork"));
    }

    [Theory]
    [InlineData("deploy/kubernetes/daemonset.yaml")]
    [InlineData("deploy/kubernetes/static-pod.yaml")]
    public void The_config_map_and_the_arguments_set_only_settings_trousseaud_knows(string manifest)
    {
        var configMap = Load("deploy/kubernetes/configmap.yaml");
        var json = ((YamlScalarNode)((YamlMappingNode)configMap["data"])["config.json"]).Value!;
        var args = ((YamlSequenceNode)Containers(manifest).Single()["args"]).Children.Select(a => ((YamlScalarNode)a).Value!).ToArray();
        var configuration = new ConfigurationBuilder()
            .AddJsonStream(new MemoryStream(Encoding.UTF8.GetBytes(json)))
            .AddCommandLine(args)
            .Build();

        // trousseaud would refuse to start, naming the key, if either set a key that is no setting.
        ServerSettings.RefuseUnknown(configuration.GetSection("Trousseau"));
        Assert.NotEmpty(configuration.GetSection("Trousseau:Vault").GetChildren());
    }

    private static string ProbePath(YamlMappingNode container, string probe)
    {
        var node = (YamlMappingNode)container[probe];
        Assert.False(node.Children.ContainsKey("exec"), $"{probe} runs a command; it should ask trousseaud's HTTP health endpoints");
        return ((YamlScalarNode)((YamlMappingNode)node["httpGet"])["path"]).Value!;
    }

    private static IEnumerable<YamlMappingNode> Containers(string manifest)
    {
        var root = Load(manifest);
        var spec = (YamlMappingNode)root["spec"];
        if (spec.Children.TryGetValue("template", out var template))
        {
            spec = (YamlMappingNode)((YamlMappingNode)template)["spec"];
        }

        return ((YamlSequenceNode)spec["containers"]).Children.Cast<YamlMappingNode>();
    }

    private static YamlMappingNode Load(string manifest)
    {
        var stream = new YamlStream();
        using var reader = new StreamReader(Path.Combine(RepositoryPaths.Root, manifest));
        stream.Load(reader);
        return (YamlMappingNode)stream.Documents[0].RootNode;
    }
}
