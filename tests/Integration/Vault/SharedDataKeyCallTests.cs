using System.Diagnostics.Metrics;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Diagnostics.Metrics.Testing;
using Trousseau.Tests.Integration.Infrastructure;

namespace Trousseau.Tests.Integration.Vault;

/// <summary>
/// Calls of the in-process library that all need the same data key while Vault holds the one call that makes it: the
/// wrap of a new data key (encrypts) or the unwrap of an envelope's (decrypts after a start). They share that call's
/// failure, each leaves it on its own cancellation, and the last to leave ends it.
/// </summary>
public sealed class SharedDataKeyCallTests(VaultFixture fixture) : IClassFixture<VaultFixture>, IAsyncLifetime
{
    private const int Callers = 4;

    private readonly VaultTarget _vault = fixture.ForNextTest();
    private readonly List<ServiceProvider> _providers = [];
    private readonly List<MetricCollector<long>> _collectors = [];

    public static TheoryData<string, int> Failures => new()
    {
        { "wrap", 500 },
        { "wrap", 403 },
        { "unwrap", 500 },
        { "unwrap", 403 },
    };

    public Task InitializeAsync() => Task.CompletedTask;

    public async Task DisposeAsync()
    {
        _vault.TestServer?.ClearFaults();
        _collectors.ForEach(collector => collector.Dispose());
        foreach (var provider in _providers)
        {
            await provider.DisposeAsync();
        }
    }

    [VaultTestServerTheory]
    [MemberData(nameof(Failures))]
    public async Task Calls_sharing_a_call_that_vault_fails_each_get_its_typed_error_and_the_next_call_makes_the_key(string call, int status)
    {
        var held = await HoldAsync(call);
        var calls = Enumerable.Range(0, Callers).Select(i => held.CallAsync(i, CancellationToken.None)).ToList();
        await held.WaitForCallersAsync(Callers);
        held.Vault.Fault = new VaultTestServer.VaultFault(status, status == 403 ? "permission denied" : "internal error", PathContains: held.Path);
        held.Release();

        var errors = new List<TrousseauException>();
        foreach (var running in calls)
        {
            errors.Add(await Assert.ThrowsAnyAsync<TrousseauException>(() => running));
        }

        var expected = status == 403 ? typeof(AccessForbiddenException) : typeof(DependencyUnavailableException);
        Assert.All(errors, error => Assert.IsType(expected, error));
        Assert.Single(errors.Select(error => error.Message).Distinct(StringComparer.Ordinal));

        // Vault answers again: the next call does not take the failure over, it asks anew.
        held.Vault.Fault = null;
        await held.CallAsync(0, CancellationToken.None);
    }

    [VaultTestServerTheory]
    [InlineData("wrap")]
    [InlineData("unwrap")]
    public async Task A_caller_that_gives_up_on_a_shared_call_leaves_the_others_their_answer_from_that_one_call(string call)
    {
        var held = await HoldAsync(call);
        using var cancel = new CancellationTokenSource();
        var leaving = held.CallAsync(0, cancel.Token);
        var staying = Enumerable.Range(1, Callers - 1).Select(i => held.CallAsync(i, CancellationToken.None)).ToList();
        await held.WaitForCallersAsync(Callers);
        await cancel.CancelAsync();

        var error = await Assert.ThrowsAnyAsync<OperationCanceledException>(() => leaving);
        Assert.Equal(cancel.Token, error.CancellationToken);
        held.Release();
        foreach (var running in staying)
        {
            await running;
        }

        // One request reached Vault, and it was answered, not given up on.
        Assert.Equal(1, held.Vault.Held - held.HeldBefore);
        Assert.Equal(held.AbandonedBefore, held.Vault.Abandoned);
    }

    [VaultTestServerTheory]
    [InlineData("wrap")]
    [InlineData("unwrap")]
    public async Task Once_every_caller_gives_up_on_a_shared_call_vault_sees_it_abandoned_and_a_later_call_asks_anew(string call)
    {
        var held = await HoldAsync(call);
        var cancels = Enumerable.Range(0, Callers).Select(_ => new CancellationTokenSource()).ToList();
        try
        {
            var calls = Enumerable.Range(0, Callers).Select(i => held.CallAsync(i, cancels[i].Token)).ToList();
            await held.WaitForCallersAsync(Callers);
            for (var i = 0; i < Callers; i++)
            {
                await cancels[i].CancelAsync();
                var error = await Assert.ThrowsAnyAsync<OperationCanceledException>(() => calls[i]);
                Assert.Equal(cancels[i].Token, error.CancellationToken);
            }
        }
        finally
        {
            cancels.ForEach(cancel => cancel.Dispose());
        }

        await Eventually.HoldsAsync(
            () => held.Vault.Abandoned == held.AbandonedBefore + 1,
            () => $"Vault saw {held.Vault.Abandoned - held.AbandonedBefore} of its held requests abandoned");
        held.Release();

        await held.CallAsync(0, CancellationToken.None);
        Assert.Equal(2, held.Vault.Held - held.HeldBefore);
    }

    /// <summary>
    /// A library whose next <paramref name="call"/> ("wrap" or "unwrap") Vault holds, before carrying it out, until the
    /// test releases it.
    /// </summary>
    private async Task<HeldCall> HoldAsync(string call)
    {
        var vault = _vault.RequireTestServer();
        var keyName = VaultTarget.UniqueKeyName();
        await _vault.CreateKeyAsync(keyName);

        // For the unwrap: envelopes of different plaintexts under one data key, sealed by another instance.
        var sealedElsewhere = new byte[Callers][];
        if (call == "unwrap")
        {
            var elsewhere = Build(keyName);
            for (var i = 0; i < Callers; i++)
            {
                sealedElsewhere[i] = (await elsewhere.EncryptAsync(Plaintext(i))).Ciphertext;
            }
        }

        var (trousseau, misses) = BuildMeasured(keyName);
        var path = call == "wrap" ? $"transit/encrypt/{keyName}" : $"transit/decrypt/{keyName}";
        var release = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var held = new HeldCall(vault, path, release, misses, vault.Held, vault.Abandoned, call == "wrap"
            ? async (i, token) => Assert.Equal(Plaintext(i), await trousseau.DecryptAsync((await trousseau.EncryptAsync(Plaintext(i), cancellationToken: token)).Ciphertext, cancellationToken: token))
            : async (i, token) => Assert.Equal(Plaintext(i), await trousseau.DecryptAsync(sealedElsewhere[i], cancellationToken: token)));
        vault.Hold = new VaultTestServer.VaultHold(path, release.Task);
        return held;
    }

    private static byte[] Plaintext(int i) => [(byte)i, 42];

    private ITrousseau Build(string keyName) => BuildMeasured(keyName).Trousseau;

    /// <summary>A library on its own service provider, and a count of its encryptions and decryptions that found no cached data key.</summary>
    private (ITrousseau Trousseau, MetricCollector<long> Misses) BuildMeasured(string keyName)
    {
        var services = new ServiceCollection();
        services.AddMetrics();
        _vault.AddTrousseauOnKey(services, keyName);
        var provider = services.BuildServiceProvider();
        _providers.Add(provider);
        var misses = new MetricCollector<long>(provider.GetRequiredService<IMeterFactory>(), TrousseauDiagnostics.MeterName, "trousseau.datakey.cache.misses");
        _collectors.Add(misses);
        return (provider.GetRequiredService<ITrousseau>(), misses);
    }

    /// <summary>
    /// The call Vault holds (its request path), how the test lets it go, the library's cache misses, the stand-in's
    /// counts before the test, and one caller's call (which checks its own answer).
    /// </summary>
    private sealed record HeldCall(
        VaultTestServer Vault,
        string Path,
        TaskCompletionSource Releaser,
        MetricCollector<long> Misses,
        long HeldBefore,
        long AbandonedBefore,
        Func<int, CancellationToken, Task> Call)
    {
        public Task CallAsync(int i, CancellationToken cancellationToken) => Call(i, cancellationToken);

        public void Release() => Releaser.TrySetResult();

        /// <summary>Waits until Vault holds the one call and <paramref name="callers"/> calls found no data key, so that each waits for that call.</summary>
        public Task WaitForCallersAsync(int callers) => Eventually.HoldsAsync(
            () => Vault.Held - HeldBefore == 1 && Misses.GetMeasurementSnapshot().Sum(m => m.Value) == callers,
            () => $"Vault held {Vault.Held - HeldBefore} call(s); {Misses.GetMeasurementSnapshot().Sum(m => m.Value)} of {callers} calls found no data key");
    }
}
