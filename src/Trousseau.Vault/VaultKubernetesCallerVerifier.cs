using System.Collections.Concurrent;
using System.Security.Cryptography;
using System.Text;
using Microsoft.Extensions.Options;
using Trousseau.Vault.Internal;

namespace Trousseau.Vault;

/// <summary>
/// Admits an HTTP API caller whose Kubernetes service-account JWT logs in to Vault's Kubernetes auth under the
/// configured role (the mount of <c>Vault:Auth:Mount</c>). The token Vault issues for the caller is revoked at once;
/// answers are cached by the JWT's SHA-256 for 30 seconds (5 for a refusal), never by the JWT itself.
/// </summary>
public sealed class VaultKubernetesCallerVerifier : ICallerVerifier
{
    private static readonly TimeSpan AllowedFor = TimeSpan.FromSeconds(30);
    private static readonly TimeSpan RefusedFor = TimeSpan.FromSeconds(5);
    private const int MaxCached = 10_000;

    private readonly VaultHttp _http;
    private readonly VaultOptions _options;
    private readonly TimeProvider _time;
    private readonly ConcurrentDictionary<string, (bool Allowed, DateTimeOffset Until)> _cache = new(StringComparer.Ordinal);

    internal VaultKubernetesCallerVerifier(VaultHttp http, IOptions<VaultOptions> options, TimeProvider time)
    {
        _http = http;
        _options = options.Value;
        _time = time;
    }

    /// <inheritdoc />
    public async ValueTask<bool> IsAllowedAsync(string credential, string role, CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrEmpty(credential);
        ArgumentException.ThrowIfNullOrEmpty(role);
        var key = Convert.ToHexString(SHA256.HashData(Encoding.UTF8.GetBytes(role + "\n" + credential)));
        var now = _time.GetUtcNow();
        if (_cache.TryGetValue(key, out var cached) && cached.Until > now)
        {
            return cached.Allowed;
        }

        bool allowed;
        try
        {
            // Vault answers 400 (unknown role, malformed JWT) or 403 (JWT not accepted) to a caller it does not admit.
            var answer = await _http.SendAsync(
                HttpMethod.Post,
                $"v1/auth/{_options.Auth.Mount.Trim('/')}/login",
                new KubernetesLogin(role, credential),
                VaultJson.Default.KubernetesLogin,
                VaultJson.Default.VaultAuthResponse,
                token: null,
                cancellationToken,
                badRequest: static errors => new AccessForbiddenException(errors),
                repeatable: false).ConfigureAwait(false);
            allowed = true;
            if (answer.Value?.Auth?.ClientToken is { } issued)
            {
                await RevokeAsync(issued, cancellationToken).ConfigureAwait(false);
            }
        }
        catch (AccessForbiddenException)
        {
            allowed = false;
        }

        if (_cache.Count >= MaxCached)
        {
            _cache.Clear();
        }

        _cache[key] = (allowed, now + (allowed ? AllowedFor : RefusedFor));
        return allowed;
    }

    private async Task RevokeAsync(string token, CancellationToken cancellationToken)
    {
        try
        {
            await _http.SendAsync<object, object>(HttpMethod.Post, "v1/auth/token/revoke-self", null, null, null, token, cancellationToken).ConfigureAwait(false);
        }
        catch (TrousseauException)
        {
            // The caller is admitted either way; the token Vault issued expires with its TTL.
        }
    }
}
