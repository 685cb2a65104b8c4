namespace Trousseau;

/// <summary>
/// Decides whether a caller of the HTTP API may use it, from the bearer credential it presents. The Vault package
/// implements it for <c>Api:Auth:Mode=kubernetes</c>: the caller's service-account JWT must log in to Vault's
/// Kubernetes auth under a role.
/// </summary>
public interface ICallerVerifier
{
    /// <summary>Checks one caller credential.</summary>
    /// <param name="credential">The bearer credential, for example a service-account JWT.</param>
    /// <param name="role">The role the credential must satisfy.</param>
    /// <param name="cancellationToken">Cancels the check.</param>
    /// <returns>Whether the caller is admitted.</returns>
    /// <exception cref="DependencyUnavailableException">The verifier's backend cannot answer now.</exception>
    ValueTask<bool> IsAllowedAsync(string credential, string role, CancellationToken cancellationToken = default);
}
