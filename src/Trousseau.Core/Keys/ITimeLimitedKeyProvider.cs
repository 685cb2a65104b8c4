namespace Trousseau;

/// <summary>
/// A key provider that gives up on a call after a time limit of its own, its retries included (Vault Transit's
/// <c>Vault:Timeout</c>). A host that must answer sooner checks its own limit against it at start: the KMS plugin,
/// whose <c>Kms:ProviderTimeout</c> would otherwise end a call while the provider's retries still run.
/// </summary>
public interface ITimeLimitedKeyProvider
{
    /// <summary>How long one wrap or unwrap may take, retries included, before the provider gives up.</summary>
    TimeSpan CallTimeLimit { get; }

    /// <summary>The configuration key that sets <see cref="CallTimeLimit"/>, for error messages: <c>Trousseau:Vault:Timeout</c>.</summary>
    string CallTimeLimitKey { get; }
}
