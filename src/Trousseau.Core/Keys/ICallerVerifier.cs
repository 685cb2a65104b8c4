namespace Trousseau;

/// <summary>
/// Decides who a caller of the HTTP API is, from the bearer credential it presents. The Vault package implements it
/// for <c>Api:Auth:Mode=kubernetes</c>: the caller's service-account JWT must log in to Vault's Kubernetes auth under
/// a role, and the service account Vault names is the caller's identity. The API caches each answer and bounds how
/// often it asks; an implementation asks its backend on every call.
/// </summary>
public interface ICallerVerifier
{
    /// <summary>Checks one caller credential.</summary>
    /// <param name="credential">The bearer credential, for example a service-account JWT.</param>
    /// <param name="role">The role the credential must satisfy.</param>
    /// <param name="cancellationToken">Cancels the check.</param>
    /// <returns>The caller, when the credential is admitted; <see langword="null"/> when it is refused.</returns>
    /// <exception cref="DependencyUnavailableException">The verifier's backend cannot answer now.</exception>
    ValueTask<VerifiedCaller?> VerifyAsync(string credential, string role, CancellationToken cancellationToken = default);
}

/// <summary>A caller an <see cref="ICallerVerifier"/> admitted.</summary>
/// <param name="Identity">
/// Who the caller is, as policies name it: for a Kubernetes service account,
/// <c>system:serviceaccount:&lt;namespace&gt;:&lt;name&gt;</c>.
/// </param>
/// <param name="ValidFor">
/// How long the backend vouches for the credential (for Vault, the lease of the login); an answer is not reused
/// for longer. <see cref="TimeSpan.Zero"/> when the backend set no limit.
/// </param>
public sealed record VerifiedCaller(string Identity, TimeSpan ValidFor);
