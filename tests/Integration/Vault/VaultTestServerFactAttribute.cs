namespace Trousseau.Tests.Integration.Vault;

/// <summary>
/// A test that needs the in-repo <see cref="VaultTestServer"/> (its fault switches, auth roles, policies, clock or
/// request counts): skipped, with the reason, when <c>VAULT_ADDR</c> and <c>VAULT_TOKEN</c> name a real Vault.
/// </summary>
[AttributeUsage(AttributeTargets.Method)]
public sealed class VaultTestServerFactAttribute : FactAttribute
{
    public VaultTestServerFactAttribute() => Skip = VaultTarget.TestServerSkipReason!;
}

/// <summary>The theory form of <see cref="VaultTestServerFactAttribute"/>.</summary>
[AttributeUsage(AttributeTargets.Method)]
public sealed class VaultTestServerTheoryAttribute : TheoryAttribute
{
    public VaultTestServerTheoryAttribute() => Skip = VaultTarget.TestServerSkipReason!;
}
