using System.Diagnostics;
using System.Security.Cryptography.X509Certificates;
using dotnet_etcd;
using Etcdserverpb;
using Grpc.Core;
using Trousseau.Tests.Integration.Infrastructure;

namespace Trousseau.Tests.Integration.Etcd;

/// <summary>A real etcd (Debian etcd-server) on free loopback ports with a temporary data directory; stop and start keep its data.</summary>
internal sealed class EtcdProcess : IAsyncDisposable
{
    private readonly TempDirectory _data = new();
    private readonly string _name;
    private readonly int _peerPort;
    private readonly string[] _extraArgs;
    private readonly EtcdTlsFiles? _tls;
    private string _initialCluster;
    private string _clusterToken = "etcd-cluster";
    private Process? _process;

    private EtcdProcess(string name, int peerPort, string[]? extraArgs = null, EtcdTlsFiles? tls = null)
    {
        _name = name;
        _peerPort = peerPort;
        _extraArgs = extraArgs ?? [];
        _tls = tls;
        _initialCluster = $"{name}={PeerUrl}";
        ClientUrl = new Uri($"{(tls is null ? "http" : "https")}://127.0.0.1:{FreePort.Next()}/");
    }

    public Uri ClientUrl { get; }

    private string PeerUrl => $"http://127.0.0.1:{_peerPort}";

    private static readonly string[] Locations = ["/usr/bin/etcd", "/usr/local/bin/etcd"];

    /// <summary>Why etcd tests cannot run here, or null. Outside CI a missing etcd skips them; under CI=true it fails them.</summary>
    public static string? SkipReason =>
        Locations.Any(File.Exists) || Environment.GetEnvironmentVariable("CI") == "true"
            ? null
            : "etcd is not installed: install the Debian package etcd-server (./test.sh does it when run as root).";

    public static string Binary =>
        Locations.FirstOrDefault(File.Exists)
        ?? throw new InvalidOperationException("etcd is not installed: install the Debian package etcd-server (./test.sh does it when run as root).");

    /// <summary>Starts one etcd, with <paramref name="extraArgs"/> after the usual flags (for example a request size limit).</summary>
    public static async Task<EtcdProcess> StartAsync(params string[] extraArgs)
    {
        var etcd = new EtcdProcess("test", FreePort.Next(), extraArgs);
        await etcd.StartAgainAsync();
        return etcd;
    }

    /// <summary>Starts one etcd serving clients over TLS with <paramref name="tls"/>'s server certificate, asking clients for a certificate its CA issued.</summary>
    public static async Task<EtcdProcess> StartTlsAsync(EtcdTlsFiles tls)
    {
        var etcd = new EtcdProcess("test", FreePort.Next(), ["--cert-file", tls.ServerCert, "--key-file", tls.ServerKey, "--client-cert-auth", "--trusted-ca-file", tls.CaFile], tls);
        await etcd.StartAgainAsync();
        return etcd;
    }

    /// <summary>Starts a cluster of <paramref name="size"/> members on loopback and waits until every member serves.</summary>
    public static async Task<IReadOnlyList<EtcdProcess>> StartClusterAsync(int size)
    {
        var members = Enumerable.Range(0, size).Select(i => new EtcdProcess($"member{i}", FreePort.Next())).ToList();
        var cluster = string.Join(',', members.Select(m => $"{m._name}={m.PeerUrl}"));
        foreach (var member in members)
        {
            member._initialCluster = cluster;
        }

        await Task.WhenAll(members.Select(m => m.StartAgainAsync()));
        return members;
    }

    /// <summary>The member <paramref name="members"/> (every one running) have elected leader, waiting out an election.</summary>
    public static Task<EtcdProcess> LeaderAsync(IReadOnlyList<EtcdProcess> members) => MemberAsync(members, leader: true);

    /// <summary>A member of <paramref name="members"/> (every one running) that is not the leader, once one is elected.</summary>
    public static Task<EtcdProcess> FollowerAsync(IReadOnlyList<EtcdProcess> members) => MemberAsync(members, leader: false);

    /// <summary>Starts etcd (again) on the same ports and data, and waits until it serves.</summary>
    public async Task StartAgainAsync()
    {
        var info = new ProcessStartInfo(Binary) { RedirectStandardOutput = true, RedirectStandardError = true };
        string[] args =
        [
            "--name", _name, "--data-dir", _data.Combine("member"),
            "--listen-client-urls", ClientUrl.GetLeftPart(UriPartial.Authority), "--advertise-client-urls", ClientUrl.GetLeftPart(UriPartial.Authority),
            "--listen-peer-urls", PeerUrl, "--initial-advertise-peer-urls", PeerUrl,
            "--initial-cluster", _initialCluster, "--initial-cluster-state", "new", "--initial-cluster-token", _clusterToken, "--log-level", "error",
            .. _extraArgs,
        ];
        foreach (var arg in args)
        {
            info.ArgumentList.Add(arg);
        }

        var errors = new System.Collections.Concurrent.ConcurrentQueue<string>();
        var process = _process = Process.Start(info)!;
        process.ErrorDataReceived += (_, line) =>
        {
            if (line.Data is { } text)
            {
                errors.Enqueue(text);
            }
        };
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        using var http = new HttpClient(ProbeHandler()) { BaseAddress = ClientUrl, Timeout = TimeSpan.FromSeconds(5) };
        await Eventually.ReturnsAsync(
            async () =>
            {
                if (process.HasExited)
                {
                    // Not an answer to wait for: etcd gave up (a port taken meanwhile, a bad flag).
                    process.WaitForExit();
                    Assert.Fail($"etcd {_name} exited with {process.ExitCode} before it served {ClientUrl}: {string.Join('\n', errors)}");
                }

                using var health = await http.GetAsync(new Uri("health", UriKind.Relative));
                return health.StatusCode;
            },
            status => (int)status is >= 200 and < 300,
            awaited: $"etcd {_name} to answer /health at {ClientUrl}",
            show: status => $"{(int)status} {status}");
    }

    /// <summary>
    /// Starts etcd again on the same ports with its data gone, as a member rebuilt from nothing: a new cluster whose
    /// revisions start again at 1. With the same flags it has the same cluster id (etcd derives it from the members'
    /// peer URLs and the initial cluster token); with another <paramref name="clusterToken"/> it has a new one.
    /// </summary>
    public async Task StartEmptyAsync(string? clusterToken = null)
    {
        Directory.Delete(_data.Combine("member"), recursive: true);
        _clusterToken = clusterToken ?? _clusterToken;
        await StartAgainAsync();
    }

    /// <summary>Saves a snapshot of this etcd's data to <paramref name="path"/> (etcdctl snapshot save).</summary>
    public Task SaveSnapshotAsync(string path) => CtlAsync("snapshot", "save", path);

    /// <summary>
    /// Starts etcd again on the same ports with its data replaced by <paramref name="snapshot"/>, as a member restored
    /// from a backup: it holds the snapshot's keys at the snapshot's revision, as a new cluster (another cluster id)
    /// when <paramref name="clusterToken"/> differs from the one it had.
    /// </summary>
    public async Task StartFromSnapshotAsync(string snapshot, string clusterToken)
    {
        Directory.Delete(_data.Combine("member"), recursive: true);
        _clusterToken = clusterToken;
        await CtlAsync(
            "snapshot", "restore", snapshot, "--name", _name, "--data-dir", _data.Combine("member"), "--initial-cluster", _initialCluster,
            "--initial-cluster-token", _clusterToken, "--initial-advertise-peer-urls", PeerUrl);
        await StartAgainAsync();
    }

    /// <summary>The handler of this class's own probes: over TLS it trusts the test CA and presents the client certificate.</summary>
    private SocketsHttpHandler ProbeHandler()
    {
        if (_tls is null)
        {
            return new SocketsHttpHandler();
        }

        var policy = new X509ChainPolicy { TrustMode = X509ChainTrustMode.CustomRootTrust, RevocationMode = X509RevocationMode.NoCheck };
        var authorities = new X509Certificate2Collection();
        authorities.ImportFromPemFile(_tls.CaFile);
        policy.CustomTrustStore.AddRange(authorities);
        return new SocketsHttpHandler
        {
            SslOptions = { ClientCertificates = [X509Certificate2.CreateFromPemFile(_tls.ClientCert, _tls.ClientKey)], CertificateChainPolicy = policy },
        };
    }

    /// <summary>Runs etcdctl against this etcd and returns its output; fails the test when it exits non-zero.</summary>
    public Task<string> CtlAsync(params string[] args) => CtlWithInputAsync(null, args);

    /// <summary>Runs etcdctl against this etcd with <paramref name="stdin"/> as its input; fails the test when it exits non-zero.</summary>
    public async Task<string> CtlWithInputAsync(string? stdin, params string[] args)
    {
        var result = await RunCtlAsync(stdin, args);
        Assert.True(result.ExitCode == 0, result.Stderr);
        return result.Stdout;
    }

    /// <summary>Runs etcdctl against this etcd.</summary>
    public Task<ProcessResult> RunCtlAsync(params string[] args) => RunCtlAsync(null, args);

    private Task<ProcessResult> RunCtlAsync(string? stdin, string[] args)
    {
        var info = new ProcessStartInfo("etcdctl");
        info.Environment["ETCDCTL_API"] = "3";
        info.ArgumentList.Add("--endpoints=" + ClientUrl.GetLeftPart(UriPartial.Authority));
        foreach (var arg in args)
        {
            info.ArgumentList.Add(arg);
        }

        return ChildProcess.RunAsync(info, stdin);
    }

    /// <summary>Adds a user with read-write access to <paramref name="prefix"/> (and root), then turns auth on.</summary>
    public async Task EnableAuthAsync(string user, string password, string prefix)
    {
        await CtlAsync("user", "add", "root:root-pass-1");
        await CtlAsync("user", "add", $"{user}:{password}");
        await CtlAsync("role", "add", user);
        await CtlAsync("role", "grant-permission", user, "--prefix=true", "readwrite", prefix);
        await CtlAsync("user", "grant-role", user, user);
        await CtlAsync("auth", "enable");
    }

    /// <summary>Kills etcd, as a crash or a lost node would.</summary>
    public async Task StopAsync()
    {
        if (_process is { HasExited: false } process)
        {
            process.Kill();
            await process.WaitForExitAsync();
        }
    }

    /// <summary>Stops etcd with SIGSTOP: its connections stay open but nothing answers, as with a hung host.</summary>
    public Task FreezeAsync() => SignalAsync("-STOP");

    /// <summary>Lets a frozen etcd run again (SIGCONT).</summary>
    public Task ThawAsync() => SignalAsync("-CONT");

    private async Task SignalAsync(string signal)
    {
        var process = _process ?? throw new InvalidOperationException($"etcd {_name} is not running.");
        var info = new ProcessStartInfo("kill");
        info.ArgumentList.Add(signal);
        info.ArgumentList.Add(process.Id.ToString(System.Globalization.CultureInfo.InvariantCulture));
        var result = await ChildProcess.RunAsync(info);
        Assert.True(result.ExitCode == 0, result.Stderr);
    }

    private static async Task<EtcdProcess> MemberAsync(IReadOnlyList<EtcdProcess> members, bool leader)
    {
        // While an election is under way no member, or two for a moment, may call itself leader.
        var roles = await Eventually.ReturnsAsync(
            async () =>
            {
                var roles = new List<(EtcdProcess Member, bool? IsLeader)>();
                foreach (var member in members)
                {
                    roles.Add((member, await member.IsLeaderAsync()));
                }

                return roles;
            },
            roles => roles.All(r => r.IsLeader is not null) && roles.Count(r => r.IsLeader == true) == 1,
            awaited: "every etcd member to answer and exactly one to call itself leader",
            show: roles => string.Join(", ", roles.Select(r => $"{r.Member._name}: {r.IsLeader switch { true => "leader", false => "follower", null => "no answer" }}")));
        return roles.First(r => r.IsLeader == leader).Member;
    }

    /// <summary>Whether this member is the leader by its own status, or null when it does not answer within 5 s.</summary>
    private async Task<bool?> IsLeaderAsync()
    {
        using var etcd = new EtcdClient(ClientUrl.GetLeftPart(UriPartial.Authority));
        try
        {
            var status = await etcd.StatusAsync(new StatusRequest(), deadline: DateTime.UtcNow.AddSeconds(5));
            return status.Header.MemberId == status.Leader;
        }
        catch (RpcException)
        {
            return null;
        }
    }

    public async ValueTask DisposeAsync()
    {
        await StopAsync();
        _process?.Dispose();
        _data.Dispose();
    }
}
