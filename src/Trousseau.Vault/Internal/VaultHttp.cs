using System.Diagnostics;
using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using System.Text.Json.Serialization.Metadata;
using Microsoft.Extensions.Options;

namespace Trousseau.Vault.Internal;

/// <summary>
/// Vault's HTTP API: one request, with the namespace header, a per-call timeout, and retries with exponential
/// backoff and jitter on connection failures and 5xx (never on 4xx). Failures become Trousseau's typed errors,
/// carrying Vault's <c>errors</c> and never the token or the body sent.
/// </summary>
internal sealed class VaultHttp(IHttpClientFactory clients, IOptions<VaultOptions> options, TimeProvider time)
{
    public const string ClientName = "Trousseau.Vault";
    public const string Dependency = "vault";
    private const int Attempts = 3;
    private static readonly TimeSpan CallTimeout = TimeSpan.FromSeconds(5);
    private static readonly ActivitySource Source = new(TrousseauDiagnostics.ActivitySourceName);
    private static readonly TimeSpan FirstBackoff = TimeSpan.FromMilliseconds(100);

    /// <summary>
    /// Sends one request; <paramref name="token"/> goes in <c>X-Vault-Token</c> when given. Statuses for which
    /// <paramref name="isAnswer"/> holds are decoded like a success (sys/health's codes, a batch's 400).
    /// </summary>
    public async Task<VaultAnswer<TResponse>> SendAsync<TBody, TResponse>(
        HttpMethod method,
        string path,
        TBody? body,
        JsonTypeInfo<TBody>? bodyType,
        JsonTypeInfo<TResponse>? responseType,
        string? token,
        CancellationToken cancellationToken,
        Func<HttpStatusCode, bool>? isAnswer = null)
    {
        // One client span per call, retries included; the path names a mount and a key, never a secret.
        using var span = Source.StartActivity("trousseau.vault.request", ActivityKind.Client);
        span?.SetTag("http.request.method", method.Method);
        span?.SetTag("url.path", "/" + path.TrimStart('/'));
        try
        {
            var answer = await SendWithRetriesAsync(method, path, body, bodyType, responseType, token, span, isAnswer, cancellationToken).ConfigureAwait(false);
            span?.SetTag("http.response.status_code", (int)answer.Status);
            return answer;
        }
        catch (Exception e)
        {
            span?.SetStatus(ActivityStatusCode.Error, e is VaultRequestException request ? ((int)request.Status).ToString(System.Globalization.CultureInfo.InvariantCulture) : e.GetType().Name);
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

            string failure;
            try
            {
                using var response = await clients.CreateClient(ClientName).SendAsync(request, timeout.Token).ConfigureAwait(false);
                var status = (int)response.StatusCode;
                if (response.IsSuccessStatusCode || isAnswer?.Invoke(response.StatusCode) == true)
                {
                    var value = responseType is null || response.StatusCode == HttpStatusCode.NoContent
                        ? default
                        : await ReadAsync(response, responseType, timeout.Token).ConfigureAwait(false);
                    return new VaultAnswer<TResponse>(response.StatusCode, value);
                }

                var errors = await ReadErrorsAsync(response, timeout.Token).ConfigureAwait(false);
                if (status < 500)
                {
                    throw new VaultRequestException(response.StatusCode, path, errors);
                }

                failure = $"Vault answered {status} to {path}: {errors}";
            }
            catch (HttpRequestException e)
            {
                failure = $"Vault at {options.Value.Address} cannot be reached: {e.Message}";
            }
            catch (OperationCanceledException) when (timeout.IsCancellationRequested && !cancellationToken.IsCancellationRequested)
            {
                failure = $"Vault did not answer {path} within {CallTimeout.TotalSeconds:0} s.";
            }

            if (attempt == Attempts)
            {
                throw new DependencyUnavailableException(Dependency, failure);
            }

            var backoff = FirstBackoff * Math.Pow(2, attempt - 1);
            await Task.Delay(backoff * (0.5 + Random.Shared.NextDouble()), time, cancellationToken).ConfigureAwait(false);
        }
    }

    private static async Task<T?> ReadAsync<T>(HttpResponseMessage response, JsonTypeInfo<T> type, CancellationToken cancellationToken)
    {
        try
        {
            return await response.Content.ReadFromJsonAsync(type, cancellationToken).ConfigureAwait(false);
        }
        catch (JsonException)
        {
            throw new DependencyUnavailableException(Dependency, $"Vault's answer to {response.RequestMessage?.RequestUri?.AbsolutePath} is not the JSON its API documents.");
        }
    }

    private static async Task<string> ReadErrorsAsync(HttpResponseMessage response, CancellationToken cancellationToken)
    {
        try
        {
            var body = await response.Content.ReadFromJsonAsync(VaultJson.Default.VaultErrors, cancellationToken).ConfigureAwait(false);
            return body?.Errors is { Count: > 0 } errors ? string.Join("; ", errors) : "no error detail";
        }
        catch (Exception e) when (e is JsonException or NotSupportedException or InvalidOperationException)
        {
            return "no error detail";
        }
    }
}

/// <summary>Vault's status code and, when there was one, its decoded answer.</summary>
internal readonly record struct VaultAnswer<T>(HttpStatusCode Status, T? Value);

/// <summary>A 4xx from Vault: the request itself was refused (bad input, permission denied, missing path).</summary>
internal sealed class VaultRequestException(HttpStatusCode status, string path, string errors)
    : Exception($"Vault refused {path} with {(int)status}: {errors}")
{
    public HttpStatusCode Status { get; } = status;

    public string Errors { get; } = errors;
}
