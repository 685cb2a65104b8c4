using System.Diagnostics;
using Trousseau.Tests.Integration.Etcd;
using Trousseau.Tests.Integration.Infrastructure;
using Trousseau.Tests.Integration.Vault;
using Trousseau.Tests.StoreContract;
using Xunit.Abstractions;

namespace Trousseau.Tests.Integration.Soak;

/// <summary>
/// The chaos soak: trousseaud with its KMS socket and HTTP API, on the Vault test server and a 3-member etcd
/// cluster, under steady mixed load while a fault script breaks Vault (429 and 500 bursts, 4 s latency, seal, token
/// revocation), kills etcd members (a follower, the leader) and trousseaud itself, and rotates and rewraps the key.
/// Runs for <c>TROUSSEAU_SOAK_SECONDS</c> (60 by default; <c>bench/soak.sh</c> runs 600) and writes its figures to
/// <c>soak-summary.md</c> (see <see cref="SoakSettings"/>). It asserts only invariants: no acknowledged write lost,
/// no write found applied whose failed answer did not say it may or may not have been applied (each secret's
/// <see cref="SecretHistory"/>), nothing undecryptable, no exit of trousseaud but the injected kills, recovery within a
/// minute of each fault, a final check that finishes (a timeout there is counted in the summary, which is written all
/// the same).
/// Slow KMS answers and recovery times are reported, not asserted.
/// </summary>
[Trait("Category", "Soak")]
public sealed class ChaosSoakTests(ITestOutputHelper output) : IDisposable
{
    /// <summary>
    /// Read by <see cref="StoreFactAttribute"/>: skip when etcd is missing outside CI, or when a real Vault is
    /// configured (the fault script needs the in-repo Vault test server).
    /// </summary>
    public static string? SkipReason => EtcdProcess.SkipReason ?? VaultTarget.TestServerSkipReason;

    private readonly TempDirectory _temp = new();

    public void Dispose() => _temp.Dispose();

    [StoreFact]
    public async Task Through_vault_etcd_and_daemon_faults_under_load_no_acknowledged_write_is_lost_everything_decrypts_and_trousseaud_only_exits_when_killed()
    {
        var settings = SoakSettings.FromEnvironment();
        await using var system = await SoakSystem.StartAsync(_temp, settings.Output);
        await using var firstPeer = KmsPeer.Start(system.Socket);
        await using var secondPeer = KmsPeer.Start(system.Socket);
        var timeline = new SoakTimeline();
        var figures = new SoakFigures();
        var load = new SoakLoad(system, [firstPeer, secondPeer], timeline, figures, settings.Seed);

        using var stop = new CancellationTokenSource();
        var loadStarted = Stopwatch.GetTimestamp();
        var running = load.RunAsync(stop.Token);
        var warmedUp = await timeline.WaitForRecoveryAsync(loadStarted, SoakFaults.RecoveryLimit);
        var script = new SoakFaults(system, timeline);
        var faults = warmedUp is null ? [] : await script.RunAsync(settings.Duration, new Random(settings.Seed), loadStarted);
        await stop.CancelAsync();
        await running;
        var loadTime = Stopwatch.GetElapsedTime(loadStarted);
        if (warmedUp is not null)
        {
            await load.VerifyAsync();
        }

        var summary = SoakReport.Summarize(settings, loadTime, [.. script.All.Select(f => f.Name)], faults, figures, load, system);
        await File.WriteAllTextAsync(Path.Combine(settings.Output, SoakSettings.SummaryFile), summary);
        output.WriteLine(summary);
        output.WriteLine($"Summary and trousseaud logs: {settings.Output}");

        Assert.True(warmedUp is not null, "Before any fault, the load did not get a write, a read, a KMS Encrypt and a KMS Decrypt through:\n" + summary + system.Server.Log);
        Assert.True(figures.Lost.Count == 0, "Acknowledged writes were lost, or writes refused without saying they may have been applied were found applied:\n" + summary);
        Assert.True(figures.Undecryptable.Count == 0, "Secrets or KMS ciphertexts did not decrypt:\n" + summary);
        Assert.True(system.UnexpectedExits.Count == 0, "trousseaud exited without being killed:\n" + summary);
        Assert.True(load.FinalCheckTimeout is null, "The final check timed out before it had checked everything:\n" + summary);
        Assert.True(faults.All(f => f.Recovery is not null), $"The service did not recover within {SoakFaults.RecoveryLimit.TotalSeconds} s of a fault:\n" + summary);
        Assert.True(load.SecretsVerified > 0 && load.CiphertextsVerified > 0, "Nothing was left to check at the end:\n" + summary);
    }
}
