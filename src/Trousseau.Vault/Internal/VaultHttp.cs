using System.Diagnostics;
using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using System.Text.Json.Serialization.Metadata;
using Microsoft.Extensions.Options;

namespace Trousseau.Vault.Internal;

/// <summary>
/// Vault's HTTP API: one request, with the namespace header, a per-call timeout, and retries with exponential
/// backoff and jitter on connection failures, timeouts, 5xx and 412 (a standby not caught up yet), never on other
/// 4xx. This is the one place where Vault's answers become Trousseau's exceptions (<see cref="Refusal"/>); they carry
/// Vault's <c>errors</c> and its <c>Retry-After</c>, never the token or the body sent.
/// </summary>
internal sealed class VaultHttp(IHttpClientFactory clients, IOptions<VaultOptions> options, TimeProvider time)
{
    public const string ClientName = "Trousseau.Vault";
    public const string Dependency = "vault";
    private const int Attempts = 3;
    private const string NoDetail = "no error detail";
    private static readonly TimeSpan CallTimeout = TimeSpan.FromSeconds(5);
    private static readonly ActivitySource Source = new(TrousseauDiagnostics.ActivitySourceName);
    private static readonly TimeSpan FirstBackoff = TimeSpan.FromMilliseconds(100);

    /// <summary>
    /// Sends one request; <paramref name="token"/> goes in <c>X-Vault-Token</c> when given. Statuses for which
    /// <paramref name="isAnswer"/> holds are decoded like a success (sys/health's codes, a batch's 400). Any other
    /// failure throws a <see cref="TrousseauException"/>: <see cref="AccessForbiddenException"/> for 401 and 403
    /// (the token is not, or no longer, allowed), what <paramref name="badRequest"/> makes of Vault's errors for a 400
    /// (for example an invalid ciphertext), else <see cref="DependencyUnavailableException"/>.
    /// </summary>
    public async Task<VaultAnswer<TResponse>> SendAsync<TBody, TResponse>(
        HttpMethod method,
        string path,
        TBody? body,
        JsonTypeInfo<TBody>? bodyType,
        JsonTypeInfo<TResponse>? responseType,
        string? token,
        CancellationToken cancellationToken,
        Func<HttpStatusCode, bool>? isAnswer = null,
        Func<string, TrousseauException>? badRequest = null)
    {
        // One client span per call, retries included; the path names a mount and a key, never a secret.
        using var span = Source.StartActivity("trousseau.vault.request", ActivityKind.Client);
        span?.SetTag("http.request.method", method.Method);
        span?.SetTag("url.path", "/" + path.TrimStart('/'));
        try
        {
            return await SendWithRetriesAsync(method, path, body, bodyType, responseType, token, span, isAnswer, badRequest, cancellationToken).ConfigureAwait(false);
        }
        catch (Exception e)
        {
            span?.SetTag("error.type", e.GetType().Name);
            span?.SetStatus(ActivityStatusCode.Error, e.GetType().Name);
            throw;
        }
    }

    private async Task<VaultAnswer<TResponse>> SendWithRetriesAsync<TBody, TResponse>(
        HttpMethod method,
        string path,
        TBody? body,
        JsonTypeInfo<TBody>? bodyType,
        JsonTypeInfo<TResponse>? responseType,
        string? token,
        Activity? span,
        Func<HttpStatusCode, bool>? isAnswer,
        Func<string, TrousseauException>? badRequest,
        CancellationToken cancellationToken)
    {
        for (var attempt = 1; ; attempt++)
        {
            using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
            timeout.CancelAfter(CallTimeout);
            using var request = new HttpRequestMessage(method, path);
            if (token is not null)
            {
                request.Headers.TryAddWithoutValidation("X-Vault-Token", token);
            }

            if (options.Value.Namespace is { Length: > 0 } space)
            {
                request.Headers.TryAddWithoutValidation("X-Vault-Namespace", space);
            }

            if (body is not null && bodyType is not null)
            {
                request.Content = JsonContent.Create(body, bodyType);
            }

            if (attempt > 1)
            {
                span?.SetTag("http.request.resend_count", attempt - 1);
            }

            TrousseauException failure;
            try
            {
                using var response = await clients.CreateClient(ClientName).SendAsync(request, timeout.Token).ConfigureAwait(false);
                span?.SetTag("http.response.status_code", (int)response.StatusCode);
                if (response.IsSuccessStatusCode || isAnswer?.Invoke(response.StatusCode) == true)
                {
                    var value = responseType is null || response.StatusCode == HttpStatusCode.NoContent
                        ? default
                        : await ReadAsync(response, path, responseType, timeout.Token).ConfigureAwait(false);
                    return new VaultAnswer<TResponse>(response.StatusCode, value);
                }

                var errors = await ReadErrorsAsync(response, timeout.Token).ConfigureAwait(false);
                failure = Refusal(response.StatusCode, path, errors, RetryAfter(response), badRequest);
                if (!IsTransient(response.StatusCode))
                {
                    throw failure;
                }
            }
            catch (Exception e) when (e is HttpRequestException or IOException)
            {
                failure = new DependencyUnavailableException(Dependency, $"Vault at {options.Value.Address} cannot be reached: {e.Message}", e);
            }
            catch (OperationCanceledException) when (timeout.IsCancellationRequested && !cancellationToken.IsCancellationRequested)
            {
                failure = new DependencyUnavailableException(Dependency, $"Vault did not answer {path} within {CallTimeout.TotalSeconds:0} s.");
            }

            if (attempt == Attempts)
            {
                throw failure;
            }

            var backoff = FirstBackoff * Math.Pow(2, attempt - 1);
            await Task.Delay(backoff * (0.5 + Random.Shared.NextDouble()), time, cancellationToken).ConfigureAwait(false);
        }
    }

    /// <summary>
    /// What Vault's refusal of a call means. 401 and 403: the token is not, or no longer, allowed (callers log in
    /// again once before giving up). 400: what the call says its input was (<paramref name="badRequest"/>), else Vault
    /// refused Trousseau's own request. Anything else (404, 412, 429 rate limit, 5xx, sealed...): Vault cannot serve
    /// the call now, with its <c>Retry-After</c> when it gave one.
    /// </summary>
    private static TrousseauException Refusal(HttpStatusCode status, string path, string errors, TimeSpan? retryAfter, Func<string, TrousseauException>? badRequest)
    {
        var code = (int)status;
        var answered = $"Vault answered {code} to {path}: {errors}";
        return code switch
        {
            400 when badRequest is not null => badRequest(errors),
            401 or 403 => new AccessForbiddenException(answered),
            404 => new DependencyUnavailableException(Dependency, $"Vault has nothing at {path} (404; is the mount or the key missing?): {errors}"),
            429 => new DependencyUnavailableException(Dependency, $"Vault is limiting Trousseau's requests (429 to {path}): {errors}", retryAfter),
            _ => new DependencyUnavailableException(Dependency, answered, retryAfter),
        };
    }

    /// <summary>Statuses worth a quick retry: a failing or sealed server, and a standby that has not caught up (412).</summary>
    private static bool IsTransient(HttpStatusCode status) => (int)status >= 500 || status == HttpStatusCode.PreconditionFailed;

    private TimeSpan? RetryAfter(HttpResponseMessage response) => response.Headers.RetryAfter switch
    {
        { Delta: { } delta } => delta,
        { Date: { } date } when date > time.GetUtcNow() => date - time.GetUtcNow(),
        _ => null,
    };

    private static async Task<T?> ReadAsync<T>(HttpResponseMessage response, string path, JsonTypeInfo<T> type, CancellationToken cancellationToken)
    {
        try
        {
            return await response.Content.ReadFromJsonAsync(type, cancellationToken).ConfigureAwait(false);
        }
        catch (Exception e) when (e is JsonException or NotSupportedException or InvalidOperationException)
        {
            throw new DependencyUnavailableException(Dependency, $"Vault's answer to {path} is not the JSON its API documents.", e);
        }
    }

    private static async Task<string> ReadErrorsAsync(HttpResponseMessage response, CancellationToken cancellationToken)
    {
        try
        {
            var body = await response.Content.ReadFromJsonAsync(VaultJson.Default.VaultErrors, cancellationToken).ConfigureAwait(false);
            return body?.Errors is { Count: > 0 } errors ? string.Join("; ", errors) : NoDetail;
        }
        catch (Exception e) when (e is JsonException or NotSupportedException or InvalidOperationException)
        {
            return NoDetail;
        }
    }
}

/// <summary>Vault's status code and, when there was one, its decoded answer.</summary>
internal readonly record struct VaultAnswer<T>(HttpStatusCode Status, T? Value);
