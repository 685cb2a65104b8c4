using System.Net;
using System.Text;
using System.Text.Json;
using Microsoft.Extensions.DependencyInjection;
using Trousseau.Etcd;
using Trousseau.Tests.Integration.Infrastructure;
using Trousseau.Tests.StoreContract;

namespace Trousseau.Tests.Integration.Etcd;

/// <summary>A 3-member etcd cluster: members (the leader too) die and come back under trousseaud's write load, or hang.</summary>
public sealed class EtcdClusterTests : IAsyncLifetime, IDisposable
{
    /// <summary>Read by <see cref="StoreFactAttribute"/>: skip when etcd is missing outside CI.</summary>
    public static string? SkipReason => EtcdProcess.SkipReason;

    private readonly TempDirectory _temp = new();
    private IReadOnlyList<EtcdProcess> _members = [];

    public async Task InitializeAsync() => _members = await EtcdProcess.StartClusterAsync(3);

    public async Task DisposeAsync()
    {
        foreach (var member in _members)
        {
            await member.DisposeAsync();
        }
    }

    public void Dispose() => _temp.Dispose();

    [StoreFact]
    public async Task Writes_continue_while_a_member_and_then_the_leader_are_killed_and_nothing_acknowledged_is_lost()
    {
        var dataDir = _temp.Combine("data");
        await using var server = await TrousseauServerProcess.StartAsync(dataDir,
            ["--Trousseau:Store=etcd", .. _members.Select((m, i) => $"--Trousseau:Etcd:Endpoints:{i}={m.ClientUrl}")]);
        using var http = await BearerClient.FromTokenFileAsync(server.BaseAddress, Path.Combine(dataDir, "api.token"));
        var acknowledged = new List<string>();
        using var stop = new CancellationTokenSource();
        var writer = Task.Run(async () =>
        {
            for (var i = 0; !stop.IsCancellationRequested; i++)
            {
                var name = $"ha/{i:D5}";
                using var body = new StringContent($$$"""{"name":"{{{name}}}","type":"opaque","data":{"k":"v{{{i}}}"}}""", Encoding.UTF8, "application/json");
                using var response = await http.PostAsync(new Uri("v1/secrets", UriKind.Relative), body);
                if (response.StatusCode == HttpStatusCode.Created)
                {
                    lock (acknowledged)
                    {
                        acknowledged.Add(name);
                    }
                }
            }
        });

        // Each stage fails the test unless 20 more writes are acknowledged in it: at least 80 in all.
        await WaitForMoreAcknowledgedAsync(acknowledged, 20, "with every member up");
        var follower = await EtcdProcess.FollowerAsync(_members);
        await follower.StopAsync();
        await WaitForMoreAcknowledgedAsync(acknowledged, 20, "with a follower killed");
        await follower.StartAgainAsync();

        var leader = await EtcdProcess.LeaderAsync(_members);
        await leader.StopAsync();
        await WaitForMoreAcknowledgedAsync(acknowledged, 20, "with the leader killed");
        await leader.StartAgainAsync();
        await WaitForMoreAcknowledgedAsync(acknowledged, 20, "after the leader came back");

        await stop.CancelAsync();
        await writer;

        var clectl = ClectlRunner.For(server, dataDir, _temp.Path);
        var list = await clectl.RunAsync("secret", "list", "--prefix", "ha/", "-o", "json");
        Assert.True(list.ExitCode == 0, list.Stderr);
        var stored = JsonDocument.Parse(list.Stdout).RootElement.GetProperty("items").EnumerateArray().Select(i => i.GetProperty("name").GetString()).ToHashSet();
        List<string> expected;
        lock (acknowledged)
        {
            expected = [.. acknowledged];
        }

        Assert.All(expected, name => Assert.Contains(name, stored));
    }

    [StoreFact]
    public async Task With_a_follower_frozen_every_read_and_health_check_is_answered_by_the_live_members()
    {
        var services = new ServiceCollection();
        services.AddTrousseau(_ => { }).UseEtcdStore(o =>
        {
            foreach (var member in _members)
            {
                o.Endpoints.Add(member.ClientUrl);
            }
        });
        await using var provider = services.BuildServiceProvider();
        var store = provider.GetRequiredService<EtcdSecretStore>();
        var written = new Dictionary<string, long>();
        for (var i = 0; i < 6; i++)
        {
            written[$"frozen/{i}"] = await store.CreateAsync($"frozen/{i}", "v"u8.ToArray());
        }

        // A hung host: its connections stay open and accept requests, but nothing answers them.
        var follower = await EtcdProcess.FollowerAsync(_members);
        await follower.FreezeAsync();
        var read = new Dictionary<string, long?>();
        var health = new List<DependencyHealth>();
        try
        {
            foreach (var key in written.Keys)
            {
                read[key] = (await store.GetAsync(key))?.Revision;
                health.Add(await store.CheckHealthAsync());
            }
        }
        finally
        {
            await follower.ThawAsync();
        }

        Assert.Equal(written.Select(w => (w.Key, (long?)w.Value)), read.Select(r => (r.Key, r.Value)));
        Assert.All(health, h => Assert.True(h.IsHealthy, h.Description));
    }

    private static async Task WaitForMoreAcknowledgedAsync(List<string> acknowledged, int more, string stage)
    {
        var target = Count(acknowledged) + more;
        await Eventually.HoldsAsync(
            () => Count(acknowledged) >= target,
            () => $"writes stalled: {Count(acknowledged)} acknowledged in all, {target - Count(acknowledged)} short",
            TimeSpan.FromSeconds(60),
            $"{more} more acknowledged writes {stage}");
    }

    private static int Count(List<string> acknowledged)
    {
        lock (acknowledged)
        {
            return acknowledged.Count;
        }
    }
}
