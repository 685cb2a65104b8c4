using Microsoft.Extensions.DependencyInjection;
using Trousseau.Tests.Integration.Infrastructure;

namespace Trousseau.Tests.Integration.Vault;

/// <summary>Calls of the in-process library waiting on Vault's answer, ended by the caller's cancellation token.</summary>
public sealed class VaultHeldCallTests(VaultFixture fixture) : IClassFixture<VaultFixture>, IAsyncLifetime
{
    private readonly VaultTarget _vault = fixture.ForNextTest();
    private readonly List<ServiceProvider> _providers = [];

    public Task InitializeAsync() => Task.CompletedTask;

    public async Task DisposeAsync()
    {
        foreach (var provider in _providers)
        {
            await provider.DisposeAsync();
        }
    }

    [VaultTestServerFact]
    public async Task An_encrypt_and_a_decrypt_whose_answers_vault_holds_end_with_the_callers_cancellation_and_the_next_calls_work()
    {
        var vault = _vault.RequireTestServer();
        var keyName = VaultTarget.UniqueKeyName();
        await _vault.CreateKeyAsync(keyName);
        var sealedElsewhere = await Build(keyName).EncryptAsync("sealed before"u8.ToArray());
        var trousseau = Build(keyName);
        var release = new TaskCompletionSource();
        try
        {
            // Vault carries each call out and holds its answer: the wrap of a new data key, then the unwrap of another's.
            vault.Hold = new VaultTestServer.VaultHold($"transit/encrypt/{keyName}", release.Task, Answered: true);
            await AssertCancelledWhileHeldAsync(vault, 1, token => trousseau.EncryptAsync("during"u8.ToArray(), cancellationToken: token).AsTask());
            vault.Hold = new VaultTestServer.VaultHold($"transit/decrypt/{keyName}", release.Task, Answered: true);
            await AssertCancelledWhileHeldAsync(vault, 2, token => trousseau.DecryptAsync(sealedElsewhere.Ciphertext, cancellationToken: token).AsTask());
        }
        finally
        {
            vault.ClearFaults();
            release.SetResult();
        }

        var after = await trousseau.EncryptAsync("after"u8.ToArray());
        Assert.Equal("after"u8.ToArray(), await trousseau.DecryptAsync(after.Ciphertext));
        Assert.Equal("sealed before"u8.ToArray(), await trousseau.DecryptAsync(sealedElsewhere.Ciphertext));
    }

    private static async Task AssertCancelledWhileHeldAsync(VaultTestServer vault, long held, Func<CancellationToken, Task> call)
    {
        using var cancel = new CancellationTokenSource();
        var running = call(cancel.Token);
        await Eventually.HoldsAsync(() => vault.Held >= held, () => "the call never reached Vault");
        await cancel.CancelAsync();

        // Vault's own timeout (a minute here) would end it with DependencyUnavailableException: only the token gives this.
        var error = await Assert.ThrowsAnyAsync<OperationCanceledException>(() => running);
        Assert.True(error.CancellationToken == cancel.Token, $"The call ended with a cancellation that is not its caller's: {error}");
    }

    private ITrousseau Build(string keyName)
    {
        var services = new ServiceCollection();
        _vault.AddTrousseauOnKey(services, keyName);
        var provider = services.BuildServiceProvider();
        _providers.Add(provider);
        return provider.GetRequiredService<ITrousseau>();
    }
}
