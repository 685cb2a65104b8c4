using System.Diagnostics;
using System.Globalization;
using System.Net.Http.Headers;
using System.Security.Cryptography;
using Trousseau.Tests.Integration.Etcd;
using Trousseau.Tests.Integration.Infrastructure;
using Trousseau.Tests.Integration.Vault;

namespace Trousseau.Tests.Integration.Soak;

/// <summary>
/// The system under soak: the Vault test server (in this process), a 3-member etcd cluster, and trousseaud on both
/// with its KMS socket and HTTP API, logged in to Vault with AppRole so that it can log in again after a token is
/// revoked, and with short-lived data keys so that the secret API depends on Vault as the KMS plugin does. trousseaud is killed and restarted on the same data directory and etcd on demand; a watchdog records any
/// other exit (and starts it again, so that the soak goes on and tells what else it saw).
/// </summary>
internal sealed class SoakSystem : IAsyncDisposable
{
    private const string KeyName = "soak";
    private static readonly TimeSpan WatchInterval = TimeSpan.FromMilliseconds(100);
    private static readonly TimeSpan ApiTimeout = TimeSpan.FromSeconds(30);

    private readonly string _dataDir;
    private readonly string _output;
    private readonly string[] _args;
    private readonly SemaphoreSlim _lifecycle = new(1, 1);
    private readonly List<Generation> _generations = [];
    private readonly List<string> _unexpectedExits = [];
    private readonly CancellationTokenSource _stopWatching = new();
    private Task _watchdog = Task.CompletedTask;
    private Generation _current = null!;
    private int _injectedKills;

    private SoakSystem(VaultTestServer vault, IReadOnlyList<EtcdProcess> etcd, string dataDir, string output, string[] args)
    {
        Vault = vault;
        Etcd = etcd;
        _dataDir = dataDir;
        _output = output;
        _args = args;
    }

    public VaultTestServer Vault { get; }

    public IReadOnlyList<EtcdProcess> Etcd { get; }

    public string Socket => Path.Combine(_dataDir, "kms.sock");

    /// <summary>The running trousseaud's API, authenticated; a new client after each restart (the port changes).</summary>
    public HttpClient Api => Volatile.Read(ref _current).Api;

    public TrousseauServerProcess Server => Volatile.Read(ref _current).Process;

    /// <summary>The bearer token trousseaud wrote to its data directory at first start (and reads at each restart).</summary>
    public string ApiToken { get; private set; } = "";

    /// <summary>How many trousseaud processes have run, the current one included.</summary>
    public int Generations
    {
        get
        {
            lock (_generations)
            {
                return _generations.Count;
            }
        }
    }

    public int InjectedKills => Volatile.Read(ref _injectedKills);

    /// <summary>Every exit of trousseaud that no fault injected, with its exit code.</summary>
    public IReadOnlyList<string> UnexpectedExits
    {
        get
        {
            lock (_unexpectedExits)
            {
                return [.. _unexpectedExits];
            }
        }
    }

    public static async Task<SoakSystem> StartAsync(TempDirectory temp, string output)
    {
        // Its faults need the in-repo server: ChaosSoakTests is skipped against a real Vault.
        var vault = (await VaultTarget.StartAsync()).RequireTestServer();
        vault.CreateKey(KeyName);
        var roleId = Guid.NewGuid().ToString();
        var secretId = Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(16));
        vault.AddAppRole(roleId, secretId);
        var secretIdFile = temp.Combine("vault-secret-id");
        await File.WriteAllTextAsync(secretIdFile, secretId);
        var etcd = await EtcdProcess.StartClusterAsync(3);
        string[] args =
        [
            "--Trousseau:KeyProvider=vault",
            $"--Trousseau:Vault:Address={vault.Address}",
            $"--Trousseau:Vault:KeyName={KeyName}",
            "--Trousseau:Vault:Auth:Method=approle",
            $"--Trousseau:Vault:Auth:RoleId={roleId}",
            $"--Trousseau:Vault:Auth:SecretIdFile={secretIdFile}",
            // Data keys that live seconds, not an hour, and a small cache: secret reads and writes need Vault too.
            "--Trousseau:DataKeys:MaxAge=00:00:10",
            "--Trousseau:DataKeys:CacheSize=4",
            "--Trousseau:DataKeys:CacheTimeToLive=00:00:30",
            "--Trousseau:Store=etcd",
            .. etcd.Select((member, i) => $"--Trousseau:Etcd:Endpoints:{i}={member.ClientUrl}"),
        ];
        var system = new SoakSystem(vault, etcd, temp.Combine("data"), output, args);
        try
        {
            await system.StartTrousseaudAsync();
        }
        catch
        {
            await system.DisposeAsync();
            throw;
        }

        system._watchdog = system.WatchAsync();
        return system;
    }

    /// <summary>
    /// Kills trousseaud with SIGKILL, as a crash or the OOM killer would, and starts it again on the same data
    /// directory and etcd. Returns when the new process starts (the fault's end) and the number of that process.
    /// </summary>
    public async Task<(long Ended, int Generation)> KillAndRestartAsync()
    {
        await _lifecycle.WaitAsync();
        try
        {
            await Server.KillAsync();
            Interlocked.Increment(ref _injectedKills);
            var ended = Stopwatch.GetTimestamp();
            await StartTrousseaudAsync();
            return (ended, Generations);
        }
        finally
        {
            _lifecycle.Release();
        }
    }

    public async ValueTask DisposeAsync()
    {
        await _stopWatching.CancelAsync();
        await _watchdog;
        List<Generation> generations;
        lock (_generations)
        {
            generations = [.. _generations];
        }

        foreach (var (generation, i) in generations.Select((g, i) => (g, i + 1)))
        {
            await generation.Process.KillAsync();
            await File.WriteAllTextAsync(Path.Combine(_output, $"trousseaud-{i}.log"), generation.Process.Log);
            await generation.Process.DisposeAsync();
            generation.Api.Dispose();
        }

        foreach (var member in Etcd)
        {
            await member.DisposeAsync();
        }

        await Vault.DisposeAsync();
        _stopWatching.Dispose();
        _lifecycle.Dispose();
    }

    private async Task StartTrousseaudAsync()
    {
        var process = await TrousseauServerProcess.StartAsync(_dataDir, _args);
        ApiToken = await BearerClient.ReadTokenAsync(Path.Combine(_dataDir, "api.token"));
        var api = BearerClient.Create(process.BaseAddress, ApiToken, ApiTimeout);

        var generation = new Generation(process, api);
        lock (_generations)
        {
            _generations.Add(generation);
        }

        Volatile.Write(ref _current, generation);
    }

    /// <summary>Every 100 ms: has trousseaud exited although no fault killed it? Then record it and start it again.</summary>
    private async Task WatchAsync()
    {
        using var timer = new PeriodicTimer(WatchInterval);
        try
        {
            while (await timer.WaitForNextTickAsync(_stopWatching.Token))
            {
                await _lifecycle.WaitAsync(_stopWatching.Token);
                try
                {
                    if (Server.HasExited)
                    {
                        var exitCode = await Server.StopAsync();
                        lock (_unexpectedExits)
                        {
                            _unexpectedExits.Add(string.Create(CultureInfo.InvariantCulture, $"trousseaud #{Generations} exited by itself with code {exitCode} (its log: trousseaud-{Generations}.log)"));
                        }

                        await StartTrousseaudAsync();
                    }
                }
                finally
                {
                    _lifecycle.Release();
                }
            }
        }
        catch (OperationCanceledException) when (_stopWatching.IsCancellationRequested)
        {
            // The soak is over.
        }
    }

    /// <summary>One trousseaud process and a client of its API.</summary>
    private sealed record Generation(TrousseauServerProcess Process, HttpClient Api);
}
