using Microsoft.Extensions.Options;
using Trousseau.Vault.Internal;

namespace Trousseau.Vault;

/// <summary>
/// Admits an HTTP API caller whose Kubernetes service-account JWT logs in to Vault's Kubernetes auth under the
/// configured role (the mount of <c>Vault:Auth:Mount</c>), as the service account Vault names in the login's
/// <c>auth.metadata</c>: <c>system:serviceaccount:&lt;service_account_namespace&gt;:&lt;service_account_name&gt;</c>.
/// Each call is one login, sent once (never retried); the token Vault issues for the caller is revoked at once.
/// </summary>
public sealed class VaultKubernetesCallerVerifier : ICallerVerifier
{
    private const string NamespaceKey = "service_account_namespace";
    private const string NameKey = "service_account_name";

    private readonly VaultHttp _http;
    private readonly VaultOptions _options;

    internal VaultKubernetesCallerVerifier(VaultHttp http, IOptions<VaultOptions> options)
    {
        _http = http;
        _options = options.Value;
    }

    /// <inheritdoc />
    public async ValueTask<VerifiedCaller?> VerifyAsync(string credential, string role, CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrEmpty(credential);
        ArgumentException.ThrowIfNullOrEmpty(role);
        var path = $"v1/auth/{_options.Auth.Mount.Trim('/')}/login";
        VaultAuth? auth;
        try
        {
            // Vault answers 400 (unknown role, malformed JWT) or 403 (JWT not accepted) to a caller it does not admit.
            var answer = await _http.SendAsync(
                HttpMethod.Post,
                path,
                new KubernetesLogin(role, credential),
                VaultJson.Default.KubernetesLogin,
                VaultJson.Default.VaultAuthResponse,
                token: null,
                cancellationToken,
                badRequest: static errors => new AccessForbiddenException(errors),
                repeatable: false).ConfigureAwait(false);
            auth = answer.Value?.Auth;
        }
        catch (AccessForbiddenException)
        {
            return null;
        }

        if (auth?.ClientToken is { } issued)
        {
            await _http.TryRevokeAsync(issued, cancellationToken).ConfigureAwait(false);
        }

        if (auth?.Metadata is not { } metadata
            || !metadata.TryGetValue(NamespaceKey, out var serviceAccountNamespace) || string.IsNullOrEmpty(serviceAccountNamespace)
            || !metadata.TryGetValue(NameKey, out var serviceAccountName) || string.IsNullOrEmpty(serviceAccountName))
        {
            throw new DependencyUnavailableException(VaultHttp.Dependency, $"Vault admitted the caller at {path} but its answer names no service account ({NamespaceKey} and {NameKey} in auth.metadata), which a Kubernetes auth login documents.");
        }

        return new VerifiedCaller($"system:serviceaccount:{serviceAccountNamespace}:{serviceAccountName}", TimeSpan.FromSeconds(Math.Max(0, auth.LeaseDuration)));
    }
}
