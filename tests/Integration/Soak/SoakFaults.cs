using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Text;
using System.Text.Json;
using Trousseau.Tests.Integration.Etcd;
using Trousseau.Tests.Integration.Vault;

namespace Trousseau.Tests.Integration.Soak;

/// <summary>
/// One injected fault: what, when (from the start of the load), how long from its end until the service recovered,
/// how many calls failed from its start until then, and a note.
/// </summary>
internal sealed record SoakFaultRecord(string Fault, TimeSpan At, TimeSpan? Recovery, int FailedCalls, string? Note);

/// <summary>
/// The fault script: in rounds, every fault once in a shuffled order, one at a time. Each fault is held, then ended
/// (the switch turned off, the process started again); the script then waits until every kind of operation has
/// succeeded again (at most a minute), pauses briefly, and injects the next. Rounds go on until the soak's duration
/// has passed, and at least one whole round runs.
/// </summary>
internal sealed class SoakFaults(SoakSystem system, SoakTimeline timeline)
{
    /// <summary>Each fault's recovery is given this long, counted from the fault's end, before it counts as not recovered.</summary>
    public static readonly TimeSpan RecoveryLimit = TimeSpan.FromSeconds(60);

    private const string Rotation = "key rotation";
    private const string Rewrap = "rewrap";

    private static readonly TimeSpan Burst = TimeSpan.FromSeconds(6);
    private static readonly TimeSpan SlowVault = TimeSpan.FromSeconds(4);
    private static readonly TimeSpan SlowVaultHold = TimeSpan.FromSeconds(8);
    private static readonly TimeSpan Calm = TimeSpan.FromSeconds(2);

    /// <summary>The faults by name; each injects, holds and ends its fault, and returns when it ended and a note.</summary>
    public IReadOnlyList<(string Name, Func<Task<(long Ended, string? Note)>> InjectAsync)> All =>
    [
        ("Vault 429 burst", () => VaultFaultAsync(new VaultTestServer.VaultFault(429, "request path \"transit/\": rate limit quota exceeded", RetryAfter: TimeSpan.FromSeconds(1)))),
        ("Vault 500 burst", () => VaultFaultAsync(new VaultTestServer.VaultFault(500, "internal error"))),
        ("Vault 4 s latency", SlowVaultAsync),
        ("Vault sealed", SealedAsync),
        ("Vault token revoked", RevokeTokensAsync),
        ("etcd follower killed", () => KillEtcdAsync(leader: false)),
        ("etcd leader killed", () => KillEtcdAsync(leader: true)),
        ("trousseaud SIGKILL", KillTrousseaudAsync),
        (Rotation, () => KeyCallAsync("v1/keys/rotate", "keyId")),
        (Rewrap, () => KeyCallAsync("v1/keys/rewrap", "rewrapped")),
    ];

    /// <summary>Runs rounds of faults until <paramref name="duration"/> has passed since <paramref name="loadStarted"/>.</summary>
    public async Task<IReadOnlyList<SoakFaultRecord>> RunAsync(TimeSpan duration, Random random, long loadStarted)
    {
        var records = new List<SoakFaultRecord>();
        while (records.Count == 0 || Stopwatch.GetElapsedTime(loadStarted) < duration)
        {
            foreach (var (name, inject) in Round(random))
            {
                var started = Stopwatch.GetTimestamp();
                var (ended, note) = await inject();
                var recovery = await timeline.WaitForRecoveryAsync(ended, RecoveryLimit);
                var failed = timeline.FailuresBetween(started, Stopwatch.GetTimestamp());
                records.Add(new SoakFaultRecord(name, Stopwatch.GetElapsedTime(loadStarted, started), recovery, failed, note));
                await Task.Delay(Calm);
            }
        }

        return records;
    }

    /// <summary>Every fault once in a random order, but the rewrap right after the rotation, so that it has records to move.</summary>
    private List<(string Name, Func<Task<(long Ended, string? Note)>> InjectAsync)> Round(Random random)
    {
        var round = All.Where(f => f.Name != Rewrap).ToArray();
        random.Shuffle(round);
        var faults = round.ToList();
        faults.Insert(faults.FindIndex(f => f.Name == Rotation) + 1, All.Single(f => f.Name == Rewrap));
        return faults;
    }

    private async Task<(long, string?)> VaultFaultAsync(VaultTestServer.VaultFault fault)
    {
        system.Vault.Fault = fault;
        await Task.Delay(Burst);
        system.Vault.Fault = null;
        return (Stopwatch.GetTimestamp(), null);
    }

    private async Task<(long, string?)> SlowVaultAsync()
    {
        system.Vault.Latency = SlowVault;
        await Task.Delay(SlowVaultHold);
        system.Vault.Latency = TimeSpan.Zero;
        return (Stopwatch.GetTimestamp(), null);
    }

    private async Task<(long, string?)> SealedAsync()
    {
        system.Vault.Sealed = true;
        await Task.Delay(Burst);
        system.Vault.Sealed = false;
        return (Stopwatch.GetTimestamp(), null);
    }

    /// <summary>Revokes trousseaud's Vault token, as <c>vault token revoke</c> would; it must log in again by itself.</summary>
    private Task<(long, string?)> RevokeTokensAsync()
    {
        system.Vault.RevokeAllTokens();
        return Task.FromResult<(long, string?)>((Stopwatch.GetTimestamp(), null));
    }

    private async Task<(long, string?)> KillEtcdAsync(bool leader)
    {
        var member = leader ? await EtcdProcess.LeaderAsync(system.Etcd) : await EtcdProcess.FollowerAsync(system.Etcd);
        var index = system.Etcd.ToList().IndexOf(member);
        await member.StopAsync();
        await Task.Delay(Burst);
        var ended = Stopwatch.GetTimestamp();
        await member.StartAgainAsync();
        return (ended, string.Create(CultureInfo.InvariantCulture, $"member{index}"));
    }

    private async Task<(long, string?)> KillTrousseaudAsync()
    {
        var (ended, generation) = await system.KillAndRestartAsync();
        return (ended, string.Create(CultureInfo.InvariantCulture, $"restarted as trousseaud #{generation}"));
    }

    /// <summary>A key administration call as an operator makes it; the note is the answer's <paramref name="field"/> or the refusal.</summary>
    private async Task<(long, string?)> KeyCallAsync(string path, string field)
    {
        string note;
        try
        {
            using var response = await system.Api.PostAsync(new Uri(path, UriKind.Relative), new StringContent("{}", Encoding.UTF8, "application/json"));
            var body = await response.Content.ReadAsStringAsync();
            using var answer = JsonDocument.Parse(body);
            note = response.StatusCode == HttpStatusCode.OK
                ? $"{field} {answer.RootElement.GetProperty(field)}"
                : $"answered {(int)response.StatusCode}: {body}";
        }
        catch (Exception e) when (e is HttpRequestException or IOException or TaskCanceledException or JsonException or KeyNotFoundException)
        {
            note = "no answer: " + e.Message;
        }

        return (Stopwatch.GetTimestamp(), note);
    }
}
