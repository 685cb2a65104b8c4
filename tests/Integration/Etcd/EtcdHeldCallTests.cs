using Microsoft.Extensions.DependencyInjection;
using Trousseau.Tests.Integration.Infrastructure;
using Trousseau.Tests.StoreContract;

namespace Trousseau.Tests.Integration.Etcd;

/// <summary>
/// Calls of the in-process library waiting on an etcd that stopped answering (SIGSTOP: its connections stay open),
/// ended by the caller's cancellation token.
/// </summary>
public sealed class EtcdHeldCallTests : IDisposable
{
    /// <summary>Read by <see cref="StoreFactAttribute"/>: skip when etcd is missing outside CI.</summary>
    public static string? SkipReason => EtcdProcess.SkipReason;

    private readonly TempDirectory _temp = new();

    public void Dispose() => _temp.Dispose();

    [StoreFact]
    public async Task A_read_write_listing_and_rewrap_held_by_a_frozen_etcd_end_with_the_callers_cancellation_and_the_next_calls_work_once_it_thaws()
    {
        await using var etcd = await EtcdProcess.StartAsync();
        var services = new ServiceCollection();
        services.AddTrousseau(_ => { })
            .UseLocalKeyRing(ring => ring.KeyFile = _temp.Combine("ring.json"))
            .UseEtcdStore(o => o.Endpoints.Add(etcd.ClientUrl));
        await using var provider = services.BuildServiceProvider();
        var trousseau = provider.GetRequiredService<ITrousseau>();
        var keys = provider.GetRequiredService<IKeyAdministration>();
        var names = Enumerable.Range(0, 5).Select(i => $"held/{i}").ToList();
        foreach (var name in names)
        {
            await trousseau.CreateSecretAsync(name, SecretType.Opaque, Value("before"));
        }

        var rotated = await keys.RotateKeyAsync();
        await etcd.FreezeAsync();
        Dictionary<string, (CancellationTokenSource Cancel, Task Call)> calls;
        try
        {
            calls = new Dictionary<string, (CancellationTokenSource, Task)>(StringComparer.Ordinal)
            {
                ["read"] = Start(token => trousseau.GetSecretAsync("held/0", token).AsTask()),
                ["write"] = Start(token => trousseau.UpdateSecretAsync("held/1", Value("during"), cancellationToken: token).AsTask()),
                ["listing"] = Start(token => trousseau.ListSecretsAsync("held/", token).ToListAsync(token).AsTask()),
                ["rewrap"] = Start(token => keys.RewrapSecretsAsync(token).AsTask()),
            };
            foreach (var (what, (cancel, call)) in calls)
            {
                Assert.False(call.IsCompleted, $"The {what} ended before it was cancelled, with etcd frozen: {call.Exception}");
                await cancel.CancelAsync();
            }

            foreach (var (what, (cancel, call)) in calls)
            {
                // etcd's own deadline would end the call with DependencyUnavailableException: only the token gives this.
                var error = await Assert.ThrowsAnyAsync<OperationCanceledException>(() => call);
                Assert.True(error.CancellationToken == cancel.Token, $"The {what} ended with a cancellation that is not its caller's: {error}");
            }
        }
        finally
        {
            await etcd.ThawAsync();
        }

        // The write either landed whole or not at all; every record still opens, and nothing waits behind the held calls.
        Assert.True((await trousseau.GetSecretAsync("held/1")).Data["k"] is "before" or "during");
        Assert.Equal(names, (await trousseau.ListSecretsAsync("held/").ToListAsync()).Select(s => s.Name));
        var rewrap = await keys.RewrapSecretsAsync();
        Assert.Equal(0L, rewrap.Failed);
        Assert.Equal(names.Count, rewrap.Rewrapped + rewrap.Skipped);
        Assert.Equal(rotated.KeyId, rewrap.KeyId);
        Assert.Equal("before", (await trousseau.GetSecretAsync("held/0")).Data["k"]);
        foreach (var (cancel, _) in calls.Values)
        {
            cancel.Dispose();
        }
    }

    private static Dictionary<string, string> Value(string value) => new(StringComparer.Ordinal) { ["k"] = value };

    private static (CancellationTokenSource Cancel, Task Call) Start(Func<CancellationToken, Task> call)
    {
        var cancel = new CancellationTokenSource();
        return (cancel, call(cancel.Token));
    }
}
