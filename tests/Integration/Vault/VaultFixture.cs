namespace Trousseau.Tests.Integration.Vault;

/// <summary>
/// One Vault for the tests of a class: a real one when <c>VAULT_ADDR</c> and <c>VAULT_TOKEN</c> are set, else the
/// in-repo <see cref="VaultTestServer"/> (<see cref="VaultTarget"/> decides). Each test makes its own Transit keys
/// (<see cref="VaultTarget.UniqueKeyName"/>), so tests share the Vault without sharing state.
/// </summary>
public sealed class VaultFixture : IAsyncLifetime
{
    internal VaultTarget Vault { get; private set; } = null!;

    public async Task InitializeAsync() => Vault = await VaultTarget.StartAsync();

    public async Task DisposeAsync()
    {
        // Null when VaultTarget.StartAsync failed (a real Vault that cannot be reached): nothing was started.
        if (Vault is not null)
        {
            await Vault.DisposeAsync();
        }
    }

    /// <summary>
    /// The Vault for the next test: on the in-repo server, every fault switch a test that failed half-way may have
    /// left on is turned off.
    /// </summary>
    internal VaultTarget ForNextTest()
    {
        Vault.TestServer?.ClearFaults();
        return Vault;
    }
}
