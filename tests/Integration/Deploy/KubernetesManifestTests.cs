using System.Diagnostics;
using System.Globalization;
using System.Text;
using Microsoft.Extensions.Configuration;
using Trousseau.Server;
using Trousseau.Tests.Integration.Infrastructure;
using Trousseau.Tests.StoreContract;
using YamlDotNet.RepresentationModel;

namespace Trousseau.Tests.Integration.Deploy;

/// <summary>
/// The Kubernetes manifests as <c>kubectl kustomize deploy/kms</c> and <c>deploy/broker</c> render them, and the static
/// pod: what they configure is what trousseaud reads, every file it names is mounted, the probes reach trousseaud where
/// it listens, and they restart trousseaud only when the process itself is stuck, never because Vault or the store is
/// down (a restart cannot fix those and throws away the data-key caches).
/// </summary>
public sealed class KubernetesManifestTests
{
    private const string Kms = "deploy/kms";
    private const string Broker = "deploy/broker";
    private const string StaticPod = "deploy/kms/static-pod.yaml";

    // The user the image's base (mcr.microsoft.com/dotnet/runtime-deps) has for applications, "app".
    private const string ImageUser = "1654";

    private static readonly string[] ProbeKinds = ["livenessProbe", "startupProbe", "readinessProbe"];

    private static readonly string[] CommandKeys = ["command", "args"];

    /// <summary>Why these tests cannot run here, or null. Outside CI a missing kubectl skips them; under CI=true it fails them.</summary>
    public static string? SkipReason =>
        KubectlPath is not null || Environment.GetEnvironmentVariable("CI") == "true"
            ? null
            : "kubectl is not installed: install the Debian package kubernetes-client (./test.sh does it when run as root).";

    public static TheoryData<string> Workloads => [Kms, Broker, StaticPod];

    public static TheoryData<string> KmsPlugins => [Kms, StaticPod];

    private static string? KubectlPath =>
        (Environment.GetEnvironmentVariable("PATH") ?? "").Split(':').Select(dir => Path.Combine(dir, "kubectl")).FirstOrDefault(File.Exists);

    [StoreFact]
    public async Task Kustomize_renders_the_kms_plugin_with_its_identities_settings_and_the_encryption_configuration()
    {
        var objects = await RenderAsync(Kms);

        Assert.Equal(
            ["ClusterRoleBinding/vault-token-reviewer", "ConfigMap/trousseau-encryption-configuration", "ConfigMap/trousseau-kms", "DaemonSet/trousseau-kms",
             "ServiceAccount/trousseau-kms"],
            objects.Select(o => $"{Scalar(o, "kind")}/{Scalar(o, "metadata", "name")}").Order(StringComparer.Ordinal));
        var encryption = Scalar(Named(objects, "ConfigMap", "trousseau-encryption-configuration"), "data", "encryption-configuration.yaml");
        Assert.Equal(File.ReadAllText(Path.Combine(RepositoryPaths.Root, Kms, "encryption-configuration.yaml")), encryption);

        // kube-apiserver dials the socket the plugin listens on.
        Assert.Contains($"endpoint: unix://{Settings(objects)["Trousseau:Kms:Socket"]}\n", encryption, StringComparison.Ordinal);
    }

    [StoreFact]
    public async Task The_kms_plugin_logs_in_to_vault_with_its_own_service_accounts_token()
    {
        var pod = PodSpec(Workload(await RenderAsync(Kms)));

        Assert.Equal("trousseau-kms", Scalar(pod, "serviceAccountName"));
        Assert.False(pod.Children.ContainsKey("automountServiceAccountToken"), "the plugin needs its token for Vault's Kubernetes auth");
    }

    [StoreFact]
    public async Task Vault_reviews_tokens_with_its_own_rotated_token_so_the_kms_plugin_makes_no_token_that_never_expires()
    {
        var objects = await RenderAsync(Kms);

        // A service-account-token Secret never expires, and whoever may read Secrets in kube-system may review tokens with it.
        Assert.DoesNotContain(
            objects,
            o => Scalar(o, "kind") == "Secret" && o.Children.ContainsKey("type") && Scalar(o, "type") == "kubernetes.io/service-account-token");

        // Vault, in the cluster (vault.<namespace>.svc), reviews with its own pod's token, which kubelet rotates.
        var binding = Named(objects, "ClusterRoleBinding", "vault-token-reviewer");
        Assert.Equal("system:auth-delegator", Scalar(binding, "roleRef", "name"));
        var subject = (YamlMappingNode)Assert.Single(((YamlSequenceNode)binding["subjects"]).Children);
        var vaultNamespace = new Uri(Settings(objects)["Trousseau:Vault:Address"]!).Host.Split('.')[1];
        Assert.Equal(("ServiceAccount", "vault", vaultNamespace), (Scalar(subject, "kind"), Scalar(subject, "name"), Scalar(subject, "namespace")));
    }

    [StoreFact]
    public async Task Kustomize_renders_the_broker_in_its_own_namespace_with_its_service_and_disruption_budget()
    {
        var objects = await RenderAsync(Broker);

        Assert.Equal(
            ["ConfigMap/trousseau-broker", "Deployment/trousseau-broker", "Namespace/trousseau", "PodDisruptionBudget/trousseau-broker",
             "Service/trousseau-broker", "ServiceAccount/trousseau-broker"],
            objects.Select(o => $"{Scalar(o, "kind")}/{Scalar(o, "metadata", "name")}").Order(StringComparer.Ordinal));
        Assert.All(objects.Where(o => Scalar(o, "kind") != "Namespace"), o => Assert.Equal("trousseau", Scalar(o, "metadata", "namespace")));
    }

    [StoreFact]
    public async Task The_broker_replicas_share_their_state_and_a_disruption_or_an_update_leaves_the_others_serving()
    {
        var objects = await RenderAsync(Broker);
        var deployment = Named(objects, "Deployment", "trousseau-broker");
        var replicas = int.Parse(Scalar(deployment, "spec", "replicas"), CultureInfo.InvariantCulture);
        var podLabels = Labels(Node(deployment, "spec", "template", "metadata", "labels"));
        var settings = Settings(objects);

        Assert.True(replicas >= 2, $"{replicas} replica(s) is no high availability");

        // Replicas answer for one another only when they share the store and the keys: none may keep them on its own disk.
        Assert.Equal("etcd", settings["Trousseau:Store"]);
        Assert.Equal("vault", settings["Trousseau:KeyProvider"]);
        Assert.Equal("-", settings["Trousseau:Audit:Path"]);
        Assert.Equal("0", Scalar(deployment, "spec", "strategy", "rollingUpdate", "maxUnavailable"));
        var budget = Named(objects, "PodDisruptionBudget", "trousseau-broker");
        Assert.Equal(podLabels, Labels(Node(budget, "spec", "selector", "matchLabels")));
        Assert.InRange(int.Parse(Scalar(budget, "spec", "maxUnavailable"), CultureInfo.InvariantCulture), 1, replicas - 1);
        var service = Named(objects, "Service", "trousseau-broker");
        Assert.Equal(podLabels, Labels(Node(service, "spec", "selector")));
        Assert.Equal(
            Scalar(Ports(Container(PodSpec(deployment))).Single(), "name"),
            Scalar((YamlMappingNode)((YamlSequenceNode)Node(service, "spec", "ports")).Children.Single(), "targetPort"));
    }

    [StoreFact]
    public async Task A_drain_can_evict_broker_replicas_that_are_not_ready_so_an_outage_of_vault_or_etcd_blocks_no_drain()
    {
        var budget = (YamlMappingNode)Named(await RenderAsync(Broker), "PodDisruptionBudget", "trousseau-broker")["spec"];

        // Readiness follows Vault and etcd, so while either is down no replica is ready; a budget that waits for ready
        // replicas before it lets one go would then refuse every eviction, and no node running a replica could be drained.
        Assert.True(budget.Children.ContainsKey("unhealthyPodEvictionPolicy"), "the disruption budget keeps replicas that are not ready from being evicted");
        Assert.Equal("AlwaysAllow", Scalar(budget, "unhealthyPodEvictionPolicy"));
    }

    [StoreFact]
    public async Task The_broker_serves_its_api_over_tls_to_callers_known_by_their_service_account_and_runs_unprivileged()
    {
        var objects = await RenderAsync(Broker);
        var settings = Settings(objects);
        var pod = PodSpec(Named(objects, "Deployment", "trousseau-broker"));

        Assert.StartsWith("https://", settings["Trousseau:Api:Urls"], StringComparison.Ordinal);
        Assert.Equal("kubernetes", settings["Trousseau:Api:Auth:Mode"]);
        Assert.False(string.IsNullOrEmpty(settings["Trousseau:Api:Auth:KubernetesRole"]));
        Assert.Equal("False", settings["Trousseau:Kms:Enabled"], ignoreCase: true);
        Assert.Equal("true", Scalar(pod, "securityContext", "runAsNonRoot"));
        Assert.Equal("false", Scalar(Container(pod), "securityContext", "allowPrivilegeEscalation"));
        Assert.Equal("true", Scalar(Container(pod), "securityContext", "readOnlyRootFilesystem"));
    }

    [StoreTheory]
    [MemberData(nameof(Workloads))]
    public async Task Liveness_asks_only_the_process_while_startup_and_readiness_ask_readyz(string manifest)
    {
        var container = Container(PodSpec(Workload(await ObjectsAsync(manifest))));

        Assert.Equal("/healthz", Scalar(Probe(container, "livenessProbe"), "path"));
        Assert.Equal("/readyz", Scalar(Probe(container, "startupProbe"), "path"));
        Assert.Equal("/readyz", Scalar(Probe(container, "readinessProbe"), "path"));
    }

    [StoreTheory]
    [MemberData(nameof(Workloads))]
    public async Task The_probes_reach_trousseaud_on_the_port_and_scheme_it_listens_with(string manifest)
    {
        var objects = await ObjectsAsync(manifest);
        var pod = PodSpec(Workload(objects));
        var container = Container(pod);
        var urls = Settings(objects)["Trousseau:Api:Urls"]!;
        var listens = new Uri(urls.Replace("0.0.0.0", "any-address", StringComparison.Ordinal));

        // Without hostNetwork the kubelet connects to the pod's IP, so trousseaud must not listen on loopback only.
        Assert.True(pod.Children.ContainsKey("hostNetwork") || listens.Host == "any-address", $"{manifest}: the kubelet cannot reach {urls}");
        foreach (var probe in ProbeKinds.Select(name => Probe(container, name)))
        {
            var port = Scalar(probe, "port");
            var number = Ports(container).Where(p => Scalar(p, "name") == port).Select(p => Scalar(p, "containerPort")).SingleOrDefault() ?? port;
            Assert.Equal(listens.Port.ToString(CultureInfo.InvariantCulture), number);
            Assert.Equal(listens.Scheme.ToUpperInvariant(), probe.Children.ContainsKey("scheme") ? Scalar(probe, "scheme") : "HTTP");
        }
    }

    [StoreTheory]
    [MemberData(nameof(Workloads))]
    public async Task The_config_map_and_the_arguments_set_only_settings_trousseaud_knows_and_every_file_they_name_is_mounted(string manifest)
    {
        var objects = await ObjectsAsync(manifest);
        var settings = Settings(objects);
        var pod = PodSpec(Workload(objects));
        var volumes = ((YamlSequenceNode)pod["volumes"]).Children.Cast<YamlMappingNode>().ToDictionary(v => Scalar(v, "name"));
        var mounts = ((YamlSequenceNode)Container(pod)["volumeMounts"]).Children.Cast<YamlMappingNode>()
            .Select(m => (Path: Scalar(m, "mountPath"), Volume: volumes[Scalar(m, "name")]))
            .ToList();

        // trousseaud would refuse to start, naming the key, if either set a key that is no setting.
        ServerSettings.RefuseUnknown(settings.GetSection("Trousseau"));
        Assert.NotEmpty(settings.GetSection("Trousseau:Vault").GetChildren());
        var files = settings.GetSection("Trousseau").AsEnumerable()
            .Where(s => s.Value is not null && (s.Key.EndsWith("File", StringComparison.Ordinal) || s.Key.EndsWith(":Socket", StringComparison.Ordinal)))
            .Append(new("--config", settings["config"]))
            .ToList();
        Assert.NotEmpty(files);
        foreach (var (key, path) in files)
        {
            // The volume mounted nearest above the file holds it; a config map of the manifests must have it as a key.
            var mount = mounts.Where(m => path!.StartsWith(m.Path + "/", StringComparison.Ordinal)).MaxBy(m => m.Path.Length);
            Assert.True(mount.Path is not null, $"{manifest}: {key} names {path}, which is on no volume the container mounts");
            if (mount.Volume.Children.ContainsKey("configMap")
                && objects.SingleOrDefault(o => Scalar(o, "kind") == "ConfigMap" && Scalar(o, "metadata", "name") == Scalar(mount.Volume, "configMap", "name")) is { } configMap)
            {
                var name = path![(mount.Path.Length + 1)..];
                Assert.True(((YamlMappingNode)configMap["data"]).Children.ContainsKey(name), $"{manifest}: {key} names {path}, but config map {Scalar(configMap, "metadata", "name")} mounted at {mount.Path} has no {name}");
            }
        }
    }

    [StoreTheory]
    [MemberData(nameof(Workloads))]
    public async Task Every_workload_runs_under_the_runtime_default_seccomp_profile_without_capabilities_and_with_bounded_resources(string manifest)
    {
        var pod = PodSpec(Workload(await ObjectsAsync(manifest)));
        var container = Container(pod);

        // Neither the broker nor the KMS plugin makes a system call the runtime's default profile forbids.
        var seccomp = new[] { container, pod }.Select(o => o.Children.TryGetValue("securityContext", out var context) ? (YamlMappingNode)context : null)
            .FirstOrDefault(context => context?.Children.ContainsKey("seccompProfile") == true);
        Assert.True(seccomp is not null, $"{manifest}: no seccompProfile, so the container runs unconfined");
        Assert.Equal("RuntimeDefault", Scalar(seccomp!, "seccompProfile", "type"));
        Assert.Equal("false", Scalar(container, "securityContext", "allowPrivilegeEscalation"));
        Assert.Equal("ALL", ((YamlScalarNode)Assert.Single(((YamlSequenceNode)Node(container, "securityContext", "capabilities", "drop")).Children)).Value);
        Assert.Equal("true", Scalar(container, "securityContext", "readOnlyRootFilesystem"));

        // A control-plane node is shared with kube-apiserver and etcd: the scheduler reserves what trousseaud needs, and a
        // leak ends in trousseaud's own restart rather than in the node running out of memory.
        Assert.True(container.Children.ContainsKey("resources"), $"{manifest}: no resources requested or limited");
        Assert.False(string.IsNullOrEmpty(Scalar(container, "resources", "requests", "cpu")));
        Assert.False(string.IsNullOrEmpty(Scalar(container, "resources", "requests", "memory")));
        Assert.False(string.IsNullOrEmpty(Scalar(container, "resources", "limits", "memory")));
    }

    [StoreTheory]
    [MemberData(nameof(Workloads))]
    public async Task Trousseaud_runs_as_the_images_non_root_user_in_every_workload(string manifest)
    {
        var pod = PodSpec(Workload(await ObjectsAsync(manifest)));
        var container = Container(pod);

        // A KMS plugin taken over as root on a control-plane node owns the node; as the image's user it owns its socket.
        Assert.Equal("true", Effective(pod, container, "runAsNonRoot"));
        Assert.Equal(ImageUser, Effective(pod, container, "runAsUser"));
        Assert.Equal(ImageUser, Effective(pod, container, "runAsGroup"));
    }

    [StoreTheory]
    [MemberData(nameof(KmsPlugins))]
    public async Task An_init_container_with_only_chown_and_fowner_gives_the_socket_directory_to_the_plugins_user_before_it_starts(string manifest)
    {
        var objects = await ObjectsAsync(manifest);
        var pod = PodSpec(Workload(objects));
        var plugin = Container(pod);
        var directory = Path.GetDirectoryName(Settings(objects)["Trousseau:Kms:Socket"])!;
        var volume = Scalar(Mounts(plugin).Single(m => Scalar(m, "mountPath") == directory), "name");

        // kubelet makes the host directory owned by root, mode 0755: the plugin's user could not make its socket there.
        Assert.True(pod.Children.ContainsKey("initContainers"), $"{manifest}: nothing gives {directory} to the plugin's user");
        var init = (YamlMappingNode)Assert.Single(((YamlSequenceNode)pod["initContainers"]).Children);
        Assert.Equal(Scalar(plugin, "image"), Scalar(init, "image"));
        var at = Scalar(Mounts(init).Single(m => Scalar(m, "name") == volume), "mountPath");
        var command = Command(init);
        Assert.Equal("install", command[0]);
        var (options, directories) = InstallArguments(command.Skip(1));
        Assert.Contains("-d", options.Keys);
        Assert.Contains(at, directories);

        // What the plugin demands of its socket's directory: its own (or root's), and writable by nobody else.
        Assert.Equal(Effective(pod, plugin, "runAsUser"), options["-o"]);
        Assert.Equal(Effective(pod, plugin, "runAsGroup"), options["-g"]);
        var mode = (UnixFileMode)Convert.ToInt32(options["-m"], 8);
        Assert.Equal(UnixFileMode.None, mode & (UnixFileMode.GroupWrite | UnixFileMode.OtherRead | UnixFileMode.OtherWrite | UnixFileMode.OtherExecute));

        // Root, to give the directory away, with no capability beyond chown and chmod of a directory no longer its own.
        Assert.Equal("0", Scalar(init, "securityContext", "runAsUser"));
        Assert.Equal("false", Scalar(init, "securityContext", "runAsNonRoot"));
        Assert.Equal("false", Scalar(init, "securityContext", "allowPrivilegeEscalation"));
        Assert.Equal("true", Scalar(init, "securityContext", "readOnlyRootFilesystem"));
        Assert.Equal(["ALL"], Values(Node(init, "securityContext", "capabilities", "drop")));
        Assert.Equal(["CHOWN", "FOWNER"], Values(Node(init, "securityContext", "capabilities", "add")).Order(StringComparer.Ordinal));
    }

    [StoreTheory]
    [MemberData(nameof(KmsPlugins))]
    public async Task Every_host_directory_the_plugin_writes_is_given_to_its_user_before_it_starts(string manifest)
    {
        var objects = await ObjectsAsync(manifest);
        var pod = PodSpec(Workload(objects));
        var plugin = Container(pod);
        var hostPaths = ((YamlSequenceNode)pod["volumes"]).Children.Cast<YamlMappingNode>()
            .Where(v => v.Children.ContainsKey("hostPath"))
            .Select(v => Scalar(v, "name"))
            .ToHashSet(StringComparer.Ordinal);
        var written = Mounts(plugin)
            .Where(m => hostPaths.Contains(Scalar(m, "name")!) && !(m.Children.TryGetValue("readOnly", out var readOnly) && readOnly.ToString() == "true"))
            .Select(m => Scalar(m, "name")!)
            .Order(StringComparer.Ordinal)
            .ToList();
        var init = pod.Children.TryGetValue("initContainers", out var inits)
            ? ((YamlSequenceNode)inits).Children.Cast<YamlMappingNode>().SingleOrDefault()
            : null;
        var command = init is null ? [] : Command(init);
        var given = command is ["install", .. var arguments] && InstallArguments(arguments) is var (options, directories) && options.GetValueOrDefault("-o") == Effective(pod, plugin, "runAsUser")
            ? Mounts(init!).Where(m => directories.Contains(Scalar(m, "mountPath")!)).Select(m => Scalar(m, "name")!).ToHashSet(StringComparer.Ordinal)
            : [];

        // kubelet makes a hostPath directory owned by root, mode 0755: the plugin's user could write nothing there.
        Assert.NotEmpty(written);
        Assert.All(written, volume => Assert.True(given.Contains(volume), $"{manifest}: the plugin writes the host directory of volume '{volume}', which nothing gives to its user"));
    }

    [StoreTheory]
    [MemberData(nameof(Workloads))]
    public async Task The_data_directory_is_writable_by_trousseauds_user_alone_when_it_starts(string manifest)
    {
        var objects = await ObjectsAsync(manifest);
        var pod = PodSpec(Workload(objects));
        var plugin = Container(pod);
        var dataDir = Settings(objects)["data-dir"];
        Assert.False(string.IsNullOrEmpty(dataDir), $"{manifest}: no --data-dir");
        var init = pod.Children.TryGetValue("initContainers", out var inits)
            ? ((YamlSequenceNode)inits).Children.Cast<YamlMappingNode>().SingleOrDefault()
            : null;
        var given = init is not null && Command(init) is ["install", .. var arguments] && InstallArguments(arguments) is var (options, directories)
            && directories.Contains(dataDir!) && options.GetValueOrDefault("-o") == Effective(pod, plugin, "runAsUser")
            && ((UnixFileMode)Convert.ToInt32(options.GetValueOrDefault("-m", "0777"), 8) & (UnixFileMode.GroupWrite | UnixFileMode.OtherWrite)) == UnixFileMode.None;
        var below = Mounts(plugin).Any(m => dataDir!.StartsWith(Scalar(m, "mountPath") + "/", StringComparison.Ordinal));

        // kubelet makes an emptyDir mode 0777 and a hostPath directory root's: trousseaud would warn at every start that
        // others may plant files there (event 9002). A directory below a mount, trousseaud creates mode 0700 when it
        // first writes there.
        Assert.True(given || below, $"{manifest}: the data directory {dataDir} is a volume's own directory, which nothing gives to trousseaud's user with a mode others cannot write");
    }

    [StoreFact]
    public async Task The_static_pod_on_the_host_network_serves_health_and_metrics_on_the_nodes_loopback_only()
    {
        var objects = await ObjectsAsync(StaticPod);
        var pod = PodSpec(Workload(objects));
        var urls = Settings(objects)["Trousseau:Api:Urls"]!;

        // On the host network an address of all interfaces is every address of the control-plane node.
        Assert.Equal("true", Scalar(pod, "hostNetwork"));
        Assert.All(urls.Split(';'), url => Assert.True(new Uri(url).IsLoopback, $"the static pod listens on {url}, beyond the node's loopback"));
    }

    /// <summary>The objects of a kustomization as kubectl renders them, or the static pod with the KMS plugin's config maps.</summary>
    private static async Task<IReadOnlyList<YamlMappingNode>> ObjectsAsync(string manifest) =>
        manifest == StaticPod
            ? [.. Parse(File.ReadAllText(Path.Combine(RepositoryPaths.Root, StaticPod))), .. (await RenderAsync(Kms)).Where(o => Scalar(o, "kind") == "ConfigMap")]
            : await RenderAsync(manifest);

    private static async Task<IReadOnlyList<YamlMappingNode>> RenderAsync(string directory)
    {
        var info = new ProcessStartInfo(KubectlPath ?? "kubectl") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        info.ArgumentList.Add("kustomize");
        info.ArgumentList.Add(Path.Combine(RepositoryPaths.Root, directory));
        var result = await ChildProcess.RunAsync(info);
        Assert.True(result.ExitCode == 0, $"kubectl kustomize {directory} exited {result.ExitCode}: {result.Stderr}");
        return Parse(result.Stdout);
    }

    private static IReadOnlyList<YamlMappingNode> Parse(string yaml)
    {
        var stream = new YamlStream();
        stream.Load(new StringReader(yaml));
        return [.. stream.Documents.Select(d => (YamlMappingNode)d.RootNode)];
    }

    /// <summary>
    /// What the workload's config map (the <c>config.json</c> its <c>--config</c> names) and its arguments set, as
    /// trousseaud reads them; the arguments also as keys of their own (<c>config</c>, <c>data-dir</c>).
    /// </summary>
    private static IConfigurationRoot Settings(IReadOnlyList<YamlMappingNode> objects)
    {
        var pod = PodSpec(Workload(objects));
        var holdingConfig = objects.Where(o => Scalar(o, "kind") == "ConfigMap" && ((YamlMappingNode)o["data"]).Children.ContainsKey("config.json")).ToList();
        var mounted = ((YamlSequenceNode)pod["volumes"]).Children.Cast<YamlMappingNode>()
            .Where(v => v.Children.ContainsKey("configMap"))
            .SelectMany(v => holdingConfig.Where(o => Scalar(o, "metadata", "name") == Scalar(v, "configMap", "name")))
            .ToList();

        // The static pod reads the file from the node's disk, where it is a copy of the KMS plugin's config map.
        var json = Scalar(Assert.Single(mounted.Count > 0 ? mounted : holdingConfig), "data", "config.json");
        var args = ((YamlSequenceNode)Container(pod)["args"]).Children.Select(a => ((YamlScalarNode)a).Value!).ToArray();
        Assert.Contains("--config", args);
        return new ConfigurationBuilder()
            .AddJsonStream(new MemoryStream(Encoding.UTF8.GetBytes(json)))
            .AddCommandLine(args)
            .Build();
    }

    /// <summary>A container's security setting, or its pod's where the container sets none; null where neither does.</summary>
    private static string? Effective(YamlMappingNode pod, YamlMappingNode container, string key) =>
        new[] { container, pod }
            .Select(o => o.Children.TryGetValue("securityContext", out var context) ? (YamlMappingNode)context : null)
            .Where(context => context?.Children.ContainsKey(key) == true)
            .Select(context => Scalar(context!, key))
            .FirstOrDefault();

    /// <summary>The options (<c>-d</c> alone; <c>-o</c>, <c>-g</c>, <c>-m</c> with their values) and the paths of an <c>install</c> command.</summary>
    private static (Dictionary<string, string> Options, List<string> Paths) InstallArguments(IEnumerable<string> arguments)
    {
        var (options, paths) = (new Dictionary<string, string>(StringComparer.Ordinal), new List<string>());
        using var each = arguments.GetEnumerator();
        while (each.MoveNext())
        {
            var argument = each.Current;
            if (argument is "-o" or "-g" or "-m")
            {
                Assert.True(each.MoveNext(), $"install {argument} has no value");
                options[argument] = each.Current;
            }
            else if (argument.StartsWith('-'))
            {
                options[argument] = "";
            }
            else
            {
                paths.Add(argument);
            }
        }

        return (options, paths);
    }

    /// <summary>The words a container runs: its <c>command</c> followed by its <c>args</c>.</summary>
    private static List<string> Command(YamlMappingNode container) =>
        [.. CommandKeys.Where(key => container.Children.ContainsKey(key)).SelectMany(key => ((YamlSequenceNode)container[key]).Children.Select(a => ((YamlScalarNode)a).Value!))];

    private static IEnumerable<YamlMappingNode> Mounts(YamlMappingNode container) =>
        ((YamlSequenceNode)container["volumeMounts"]).Children.Cast<YamlMappingNode>();

    private static IEnumerable<string> Values(YamlNode sequence) =>
        ((YamlSequenceNode)sequence).Children.Select(v => ((YamlScalarNode)v).Value!);

    private static YamlMappingNode Workload(IReadOnlyList<YamlMappingNode> objects) =>
        objects.Single(o => Scalar(o, "kind") is "DaemonSet" or "Deployment" or "Pod");

    private static YamlMappingNode Named(IReadOnlyList<YamlMappingNode> objects, string kind, string name) =>
        objects.Single(o => Scalar(o, "kind") == kind && Scalar(o, "metadata", "name") == name);

    private static YamlMappingNode PodSpec(YamlMappingNode workload) =>
        Scalar(workload, "kind") == "Pod" ? (YamlMappingNode)workload["spec"] : (YamlMappingNode)Node(workload, "spec", "template", "spec");

    private static YamlMappingNode Container(YamlMappingNode podSpec) =>
        (YamlMappingNode)((YamlSequenceNode)podSpec["containers"]).Children.Single();

    private static IEnumerable<YamlMappingNode> Ports(YamlMappingNode container) =>
        container.Children.TryGetValue("ports", out var ports) ? ((YamlSequenceNode)ports).Children.Cast<YamlMappingNode>() : [];

    private static YamlMappingNode Probe(YamlMappingNode container, string probe)
    {
        var node = (YamlMappingNode)container[probe];
        Assert.False(node.Children.ContainsKey("exec"), $"{probe} runs a command; it should ask trousseaud's HTTP health endpoints");
        return (YamlMappingNode)node["httpGet"];
    }

    private static Dictionary<string, string> Labels(YamlNode labels) =>
        ((YamlMappingNode)labels).Children.ToDictionary(l => ((YamlScalarNode)l.Key).Value!, l => ((YamlScalarNode)l.Value).Value!);

    private static YamlNode Node(YamlMappingNode root, params string[] path) =>
        path.Aggregate((YamlNode)root, (node, key) => ((YamlMappingNode)node)[key]);

    private static string Scalar(YamlMappingNode root, params string[] path) => ((YamlScalarNode)Node(root, path)).Value!;
}
