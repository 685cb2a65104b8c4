using Trousseau.Tests.Unit.Support;

namespace Trousseau.Tests.Unit.Lifetime;

/// <summary>Calls made with a token the caller has already cancelled, in process, as an application makes them.</summary>
public sealed class CancelledCallTests : IDisposable
{
    private readonly LocalTrousseau _local = new();
    private readonly CancellationTokenSource _cancelled = new();

    public CancelledCallTests() => _cancelled.Cancel();

    public void Dispose()
    {
        _cancelled.Dispose();
        _local.Dispose();
    }

    [Fact]
    public async Task A_rotation_asked_with_a_cancelled_token_throws_that_token_and_keeps_the_key()
    {
        var before = await _local.Keys.GetKeyStatusAsync();

        var error = await Assert.ThrowsAnyAsync<OperationCanceledException>(async () => await _local.Keys.RotateKeyAsync(_cancelled.Token));

        Assert.Equal(_cancelled.Token, error.CancellationToken);
        Assert.Equal(before.KeyId, (await _local.Keys.GetKeyStatusAsync()).KeyId);
    }

    [Fact]
    public async Task Key_status_encrypt_and_decrypt_with_a_cancelled_token_throw_that_token_even_when_no_call_is_needed()
    {
        // Warm: the data key is cached, so encrypt and decrypt would answer without awaiting anything.
        var encrypted = await _local.Trousseau.EncryptAsync("warm"u8.ToArray());
        await _local.Trousseau.DecryptAsync(encrypted.Ciphertext);

        var status = await Assert.ThrowsAnyAsync<OperationCanceledException>(async () => await _local.Keys.GetKeyStatusAsync(_cancelled.Token));
        var encrypt = await Assert.ThrowsAnyAsync<OperationCanceledException>(async () => await _local.Trousseau.EncryptAsync("x"u8.ToArray(), cancellationToken: _cancelled.Token));
        var decrypt = await Assert.ThrowsAnyAsync<OperationCanceledException>(async () => await _local.Trousseau.DecryptAsync(encrypted.Ciphertext, cancellationToken: _cancelled.Token));

        Assert.All([status, encrypt, decrypt], e => Assert.Equal(_cancelled.Token, e.CancellationToken));
    }

    [Fact]
    public async Task The_local_key_ring_refuses_every_call_with_a_cancelled_token_and_rotates_nothing()
    {
        var provider = _local.Provider;
        var before = await provider.GetCurrentKeyAsync();
        var wrapped = await provider.WrapAsync(new byte[32]);

        var errors = new[]
        {
            await Assert.ThrowsAnyAsync<OperationCanceledException>(async () => await provider.RotateAsync(_cancelled.Token)),
            await Assert.ThrowsAnyAsync<OperationCanceledException>(async () => await provider.WrapAsync(new byte[32], _cancelled.Token)),
            await Assert.ThrowsAnyAsync<OperationCanceledException>(async () => await provider.UnwrapAsync(wrapped, _cancelled.Token)),
            await Assert.ThrowsAnyAsync<OperationCanceledException>(async () => await provider.GetCurrentKeyAsync(_cancelled.Token)),
            await Assert.ThrowsAnyAsync<OperationCanceledException>(async () => await provider.RefreshCurrentKeyAsync(_cancelled.Token)),
        };

        Assert.All(errors, e => Assert.Equal(_cancelled.Token, e.CancellationToken));
        Assert.Equal(before.KeyId, (await provider.RefreshCurrentKeyAsync()).KeyId);
    }

    [Fact]
    public async Task Health_checks_of_the_local_key_ring_and_the_in_memory_store_with_a_cancelled_token_throw_that_token()
    {
        // Both answer from memory and the key ring's directory, with nothing to await.
        Assert.True((await _local.Provider.CheckHealthAsync()).IsHealthy);
        Assert.True((await _local.Store.CheckHealthAsync()).IsHealthy);

        var provider = await Assert.ThrowsAnyAsync<OperationCanceledException>(async () => await _local.Provider.CheckHealthAsync(_cancelled.Token));
        var store = await Assert.ThrowsAnyAsync<OperationCanceledException>(async () => await _local.Store.CheckHealthAsync(_cancelled.Token));

        Assert.Equal(_cancelled.Token, provider.CancellationToken);
        Assert.Equal(_cancelled.Token, store.CancellationToken);
    }

    [Fact]
    public async Task Every_secret_call_with_a_cancelled_token_throws_that_token_and_writes_nothing()
    {
        var data = new Dictionary<string, string>(StringComparer.Ordinal) { ["k"] = "v" };
        var created = await _local.Trousseau.CreateSecretAsync("kept", SecretType.Opaque, data);
        var token = _cancelled.Token;
        var calls = new Func<Task>[]
        {
            async () => await _local.Trousseau.CreateSecretAsync("new", SecretType.Opaque, data, token),
            async () => await _local.Trousseau.GenerateSecretAsync("generated", cancellationToken: token),
            async () => await _local.Trousseau.GetSecretAsync("kept", token),
            async () => await _local.Trousseau.UpdateSecretAsync("kept", new Dictionary<string, string>(StringComparer.Ordinal) { ["k"] = "changed" }, cancellationToken: token),
            async () => await _local.Trousseau.PatchSecretAsync("kept", new Dictionary<string, string?>(StringComparer.Ordinal) { ["k"] = "patched" }, cancellationToken: token),
            async () => await _local.Trousseau.RegenerateSecretAsync("kept", cancellationToken: token),
            async () => await _local.Trousseau.DeleteSecretAsync("kept", cancellationToken: token),
            async () => await _local.Trousseau.ListSecretsPageAsync(cancellationToken: token),
            async () => await _local.Keys.RewrapSecretsAsync(token),
        };

        foreach (var call in calls)
        {
            var error = await Assert.ThrowsAnyAsync<OperationCanceledException>(call);
            Assert.Equal(token, error.CancellationToken);
        }

        var kept = await _local.Trousseau.GetSecretAsync("kept");
        Assert.Equal(created.Revision, kept.Metadata.Revision);
        Assert.Equal("v", kept.Data["k"]);
        Assert.Equal(["kept"], await _local.Trousseau.ListSecretsAsync().Select(s => s.Name).ToListAsync());
    }
}
