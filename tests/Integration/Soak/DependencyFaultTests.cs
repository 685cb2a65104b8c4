using System.Globalization;
using System.Net;
using System.Text.Json;
using Trousseau.Tests.Integration.Etcd;
using Trousseau.Tests.Integration.Infrastructure;
using Trousseau.Tests.Integration.Vault;
using Trousseau.Tests.StoreContract;
using Xunit.Abstractions;

namespace Trousseau.Tests.Integration.Soak;

/// <summary>
/// trousseaud stays correct while its dependencies misbehave: one trousseaud on a 3-member etcd cluster with the Vault
/// test server as key provider, under <see cref="FaultLoad"/>'s clients, while the test kills and restarts an etcd
/// member, freezes the leader and resumes it, has Vault answer 429 with <c>Retry-After: 1</c>, then 500, then hold its
/// answers past <c>Vault:Timeout</c>, and rotates the key in the middle. Each fault lasts until the load has felt it
/// (a condition, not a time), and the next starts once writes are acknowledged again. Afterwards, with <c>/readyz</c>
/// 200: every secret holds its last acknowledged value (or that of a later write whose failure said it may or may
/// not have been applied), no acknowledged delete came back, every failure was a documented problem and none a 500, no
/// listing named a secret twice, the audit trail verifies and holds one line per answered request, and the same
/// trousseaud process served it all. The number of answers of each status is printed.
/// </summary>
public sealed class DependencyFaultTests(ITestOutputHelper output) : IDisposable
{
    private const string KeyName = "chaos";

    /// <summary>How long the load may take to feel a fault, or to get writes acknowledged again after one.</summary>
    private static readonly TimeSpan FaultLimit = TimeSpan.FromSeconds(45);

    private readonly TempDirectory _temp = new();

    /// <summary>Read by <see cref="StoreFactAttribute"/>: needs etcd, and the in-repo Vault test server for its faults.</summary>
    public static string? SkipReason => EtcdProcess.SkipReason ?? VaultTarget.TestServerSkipReason;

    public void Dispose() => _temp.Dispose();

    [StoreFact]
    public async Task While_etcd_and_Vault_fail_and_the_key_rotates_under_load_what_was_acknowledged_holds_and_every_failure_is_a_documented_problem()
    {
        await using var vault = await VaultTestServer.StartAsync();
        vault.CreateKey(KeyName);
        var tokenFile = _temp.Combine("vault-token");
        await File.WriteAllTextAsync(tokenFile, vault.RootToken);
        var etcd = await EtcdProcess.StartClusterAsync(3);
        try
        {
            var dataDir = _temp.Combine("data");
            string[] arguments =
            [
                "--Trousseau:KeyProvider=vault",
                $"--Trousseau:Vault:Address={vault.Address}",
                $"--Trousseau:Vault:KeyName={KeyName}",
                $"--Trousseau:Vault:Auth:TokenFile={tokenFile}",
                // Data keys that seal a few records each and a cache of two: writes and reads keep calling Vault.
                "--Trousseau:DataKeys:MaxUses=4",
                "--Trousseau:DataKeys:CacheSize=2",
                "--Trousseau:Worker:Interval=00:00:01",
                "--Trousseau:Kms:Enabled=false",
                "--Trousseau:Store=etcd",
                .. etcd.Select((member, i) => $"--Trousseau:Etcd:Endpoints:{i}={member.ClientUrl}"),
            ];
            await using var server = await TrousseauServerProcess.StartAsync(dataDir, arguments);
            await server.WaitForReadinessAsync(HttpStatusCode.OK);
            using var api = await BearerClient.FromTokenFileAsync(server.BaseAddress, Path.Combine(dataDir, "api.token"));
            var load = new FaultLoad(api, DocumentedProblems());

            using var stop = new CancellationTokenSource();
            var running = load.RunAsync(stop.Token);
            try
            {
                await Eventually.HoldsAsync(() => load.AcknowledgedWrites >= 20, () => Report(load), FaultLimit, "the load to get 20 writes acknowledged before any fault");
                await FaultsAsync(load, vault, etcd);
            }
            finally
            {
                vault.ClearFaults();
                await stop.CancelAsync();
                await running;
            }

            await server.WaitForReadinessAsync(HttpStatusCode.OK);
            await load.VerifyAsync();
            output.WriteLine(Report(load));
            var violations = load.Violations.ToList();
            violations.AddRange(await AuditViolationsAsync(server, dataDir, load));
            Assert.False(server.HasExited, "trousseaud exited during the faults:\n" + server.Log);
            Assert.True(violations.Count == 0, $"{violations.Count} broken invariants:\n{string.Join('\n', violations.Take(20))}\n{Report(load)}");
        }
        finally
        {
            foreach (var member in etcd)
            {
                await member.DisposeAsync();
            }
        }
    }

    /// <summary>Every problem type that docs/reference.md lists, with the statuses it lists for it.</summary>
    private static Dictionary<string, int[]> DocumentedProblems() =>
        File.ReadLines(Path.Combine(RepositoryPaths.Root, "docs", "reference.md"))
            .Where(line => line.StartsWith("| `urn:trousseau:problem:", StringComparison.Ordinal))
            .Select(line => line.Split('|', StringSplitOptions.TrimEntries))
            .ToDictionary(
                cells => cells[1].Trim('`'),
                cells => cells[3].Split(',', StringSplitOptions.TrimEntries).Select(s => int.Parse(s, CultureInfo.InvariantCulture)).ToArray(),
                StringComparer.Ordinal);

    private static string Report(FaultLoad load) =>
        "Answers by method, status and problem type:\n"
        + string.Join('\n', load.Statuses.OrderBy(s => s.Key, StringComparer.Ordinal).Select(s => $"  {s.Key}: {s.Value}"))
        + "\nThe most frequent refusals (5xx, or no answer):\n"
        + string.Join('\n', load.Failures.OrderByDescending(f => f.Value).ThenBy(f => f.Key, StringComparer.Ordinal).Take(12).Select(f => $"  {f.Value} x {f.Key}"));

    /// <summary>The faults, one after another, each held until the load felt it, each followed by writes acknowledged again.</summary>
    private async Task FaultsAsync(FaultLoad load, VaultTestServer vault, IReadOnlyList<EtcdProcess> etcd)
    {
        var follower = await EtcdProcess.FollowerAsync(etcd);
        await FaultAsync(load, "an etcd member killed", follower.StopAsync, since => load.Answered >= since.Answered + 20, follower.StartAgainAsync);

        var leader = await EtcdProcess.LeaderAsync(etcd);
        await FaultAsync(load, "the etcd leader frozen", leader.FreezeAsync, since => load.Answered >= since.Answered + 12, leader.ThawAsync);

        var before = await KeyIdAsync(load);
        var rotated = await Eventually.ReturnsAsync(
            () => load.PostAsync("v1/keys/rotate"),
            answer => answer.Status == HttpStatusCode.OK,
            FaultLimit,
            "POST /v1/keys/rotate to answer 200",
            answer => answer.Summary);
        var after = rotated.Json().GetProperty("keyId").GetString();
        Assert.NotEqual(before, after);
        output.WriteLine($"Key rotated from {before} to {after}");

        await FaultAsync(
            load,
            "Vault answering 429 with Retry-After: 1",
            () => Set(vault, new VaultTestServer.VaultFault(429, "request path \"transit/\": rate limit quota exceeded", RetryAfter: TimeSpan.FromSeconds(1), PathContains: "transit/")),
            since => vault.Count("transit/", 429) >= 3 && load.Unavailable > since.Unavailable,
            () => Set(vault, null));
        await FaultAsync(
            load,
            "Vault answering 500",
            () => Set(vault, new VaultTestServer.VaultFault(500, "internal error", PathContains: "transit/")),
            since => vault.Count("transit/", 500) >= 3 && load.Unavailable > since.Unavailable,
            () => Set(vault, null));

        var release = new TaskCompletionSource();
        await FaultAsync(
            load,
            "Vault holding its answers past Vault:Timeout",
            () =>
            {
                vault.Hold = new VaultTestServer.VaultHold("transit/", release.Task, Answered: true);
                return Task.CompletedTask;
            },
            since => vault.Held >= 2 && load.Unavailable > since.Unavailable,
            () =>
            {
                vault.Hold = null;
                release.SetResult();
                return Task.CompletedTask;
            });
    }

    private static Task Set(VaultTestServer vault, VaultTestServer.VaultFault? fault)
    {
        vault.Fault = fault;
        return Task.CompletedTask;
    }

    /// <summary>
    /// Injects a fault, holds it until <paramref name="felt"/> says the load has met it (given the figures at its
    /// start), ends it, and waits until writes are acknowledged again.
    /// </summary>
    private async Task FaultAsync(FaultLoad load, string name, Func<Task> inject, Func<(long Answered, long Unavailable), bool> felt, Func<Task> end)
    {
        var since = (load.Answered, load.Unavailable);
        await inject();
        try
        {
            await Eventually.HoldsAsync(() => felt(since), () => Report(load), FaultLimit, $"the load to feel {name}");
        }
        finally
        {
            await end();
        }

        var acknowledged = load.AcknowledgedWrites;
        await Eventually.HoldsAsync(() => load.AcknowledgedWrites >= acknowledged + 8, () => Report(load), FaultLimit, $"writes to be acknowledged again after {name}");
        output.WriteLine($"{name}: {load.Answered - since.Answered} answers, {load.Unavailable - since.Unavailable} of them 503, until it ended and writes were acknowledged again");
    }

    private static async Task<string?> KeyIdAsync(FaultLoad load)
    {
        var status = await Eventually.ReturnsAsync(() => load.GetAsync("v1/keys"), answer => answer.Status == HttpStatusCode.OK, FaultLimit, "GET /v1/keys to answer 200", answer => answer.Summary);
        return status.Json().GetProperty("keyId").GetString();
    }

    /// <summary>
    /// The audit trail verifies with <c>clectl audit verify</c>, and its API lines count as many answers of each status
    /// as the clients got.
    /// </summary>
    private async Task<List<string>> AuditViolationsAsync(TrousseauServerProcess server, string dataDir, FaultLoad load)
    {
        var violations = new List<string>();
        var trail = Path.Combine(dataDir, "audit.log");
        var clectl = ClectlRunner.For(server, dataDir, _temp.Combine("clectl"));
        Directory.CreateDirectory(clectl.WorkingDirectory);
        var verify = await clectl.RunAsync("audit", "verify", trail);
        output.WriteLine($"clectl audit verify: exit {verify.ExitCode}: {verify.Stdout}{verify.Stderr}");
        if (verify.ExitCode != 0)
        {
            violations.Add($"clectl audit verify exited {verify.ExitCode}: {verify.Stderr}");
        }

        var files = Directory.EnumerateFiles(dataDir, "audit.log*").Where(f => !f.EndsWith(".lock", StringComparison.Ordinal));
        var recorded = new Dictionary<int, long>();
        foreach (var line in files.SelectMany(File.ReadLines))
        {
            using var record = JsonDocument.Parse(line);
            if (record.RootElement.GetProperty("source").GetString() == "api")
            {
                var status = record.RootElement.GetProperty("httpStatus") is { ValueKind: JsonValueKind.Number } code ? code.GetInt32() : 0;
                recorded[status] = recorded.GetValueOrDefault(status) + 1;
            }
        }

        var answered = load.AnsweredByStatus;
        foreach (var status in recorded.Keys.Union(answered.Keys).Order())
        {
            if (recorded.GetValueOrDefault(status) != answered.GetValueOrDefault(status))
            {
                violations.Add($"the audit trail holds {recorded.GetValueOrDefault(status)} API lines with httpStatus {(status == 0 ? "null" : status)}, the clients got {answered.GetValueOrDefault(status)} such answers");
            }
        }

        return violations;
    }
}
