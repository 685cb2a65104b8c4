using System.Diagnostics;
using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using System.Text.Json.Serialization.Metadata;
using Microsoft.Extensions.Options;
using Polly.Timeout;

namespace Trousseau.Vault.Internal;

/// <summary>
/// Vault's HTTP API: one request, with the namespace header, through the Vault HttpClient's resilience pipeline
/// (<see cref="VaultResilience"/>: timeouts, and retries for requests sent with <c>repeatable</c>). This is the one
/// place where Vault's answers become Trousseau's exceptions (<see cref="Refusal"/>); they carry Vault's
/// <c>errors</c> and its <c>Retry-After</c>, never the token or the body sent.
/// </summary>
internal sealed class VaultHttp(IHttpClientFactory clients, IOptions<VaultOptions> options, TrousseauInstrumentation instrumentation, TimeProvider time)
{
    public const string ClientName = "Trousseau.Vault";
    public const string Dependency = "vault";
    public const string NoDetail = "no error detail";

    /// <summary>
    /// Vault's error when an RSA Transit key does not decrypt a ciphertext. Its Transit source returns it as an
    /// internal error, which Vault answers 500 (listed as "1 error occurred: * failed to RSA decrypt the ciphertext:
    /// crypto/rsa: decryption error"), where it answers every other ciphertext it refuses 400.
    /// </summary>
    private const string RsaDecryptFailed = "failed to RSA decrypt the ciphertext";

    /// <summary>Whether Vault's answer (its <c>errors</c>, or its whole body) refuses the ciphertext of a decrypt or rewrap with its RSA key.</summary>
    public static bool RefusesCiphertext(string answer) => answer.Contains(RsaDecryptFailed, StringComparison.Ordinal);

    /// <summary>
    /// Revokes <paramref name="token"/> (<c>auth/token/revoke-self</c>), sent once, and returns null; a Vault out of
    /// reach or refusing is let be and its failure returned: the token lapses at the end of its TTL.
    /// </summary>
    public async Task<TrousseauException?> TryRevokeAsync(string token, CancellationToken cancellationToken)
    {
        try
        {
            await SendAsync<object, object>(HttpMethod.Post, "v1/auth/token/revoke-self", null, null, null, token, cancellationToken).ConfigureAwait(false);
            return null;
        }
        catch (TrousseauException e)
        {
            return e;
        }
    }

    /// <summary>
    /// Sends one request; <paramref name="token"/> goes in <c>X-Vault-Token</c> when given. A
    /// <paramref name="repeatable"/> request (a read, encrypt, decrypt, datakey, renewal: nothing a second copy
    /// would repeat) is retried on transient failures; any other is sent once. Statuses for which
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
        Func<string, TrousseauException>? badRequest = null,
        bool repeatable = false)
    {
        // One client span per call, retries included; the path names a mount and a key, never a secret.
        using var span = instrumentation.ActivitySource.StartActivity("trousseau.vault.request", ActivityKind.Client);
        span?.SetTag("http.request.method", method.Method);
        span?.SetTag("url.path", "/" + path.TrimStart('/'));
        if (span is not null && options.Value.Address is { } address)
        {
            span.SetTag("server.address", address.Host);
            span.SetTag("server.port", address.Port);
        }
        try
        {
            return await SendOnceAsync(method, path, body, bodyType, responseType, token, isAnswer, badRequest, repeatable, span, cancellationToken).ConfigureAwait(false);
        }
        catch (Exception e)
        {
            var errorType = TrousseauInstrumentation.ErrorType(e);
            span?.SetTag("error.type", errorType);
            span?.SetStatus(ActivityStatusCode.Error, errorType);
            throw;
        }
    }

    private async Task<VaultAnswer<TResponse>> SendOnceAsync<TBody, TResponse>(
        HttpMethod method,
        string path,
        TBody? body,
        JsonTypeInfo<TBody>? bodyType,
        JsonTypeInfo<TResponse>? responseType,
        string? token,
        Func<HttpStatusCode, bool>? isAnswer,
        Func<string, TrousseauException>? badRequest,
        bool repeatable,
        Activity? span,
        CancellationToken cancellationToken)
    {
        var started = time.GetTimestamp();
        try
        {
            using var request = new HttpRequestMessage(method, path);
            request.Options.Set(VaultResilience.Repeatable, repeatable);
            request.Options.Set(VaultResilience.StartedAt, started);
            request.Options.Set(VaultResilience.MayRefuseInput, badRequest is not null || isAnswer?.Invoke(HttpStatusCode.InternalServerError) == true);
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

            using var response = await clients.CreateClient(ClientName).SendAsync(request, HttpCompletionOption.ResponseHeadersRead, cancellationToken).ConfigureAwait(false);
            span?.SetTag("http.response.status_code", (int)response.StatusCode);

            // The pipeline bounds the wait for Vault's answer; its body gets what is left of Vault:Timeout.
            using var reading = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
            reading.CancelAfter(TimeLeft(started));
            try
            {
                if (response.IsSuccessStatusCode || isAnswer?.Invoke(response.StatusCode) == true)
                {
                    var value = responseType is null || response.StatusCode == HttpStatusCode.NoContent
                        ? default
                        : await ReadAsync(response, path, responseType, reading.Token).ConfigureAwait(false);
                    return new VaultAnswer<TResponse>(response.StatusCode, value);
                }

                if (Downgrade(response) is { } to)
                {
                    throw new DependencyUnavailableException(
                        Dependency,
                        $"Vault answered {(int)response.StatusCode} to {path}, a redirect to {to}, which is not followed: a redirect from https to http would send the token in clear. Give Trousseau:Vault:Address the active node's address, or serve every node over TLS.");
                }

                var errors = await ReadErrorsAsync(response, reading.Token).ConfigureAwait(false);
                throw Refusal(response.StatusCode, path, errors, RetryAfterWait.Of(response.Headers, time), badRequest);
            }
            catch (OperationCanceledException e) when (reading.IsCancellationRequested && !cancellationToken.IsCancellationRequested)
            {
                throw NoAnswer(path, e);
            }
        }
        catch (Exception e) when (e is HttpRequestException or IOException)
        {
            throw new DependencyUnavailableException(Dependency, $"Vault at {options.Value.Address} cannot be reached: {e.Message}", e);
        }
        catch (TimeoutRejectedException e) when (e.Timeout < options.Value.Timeout)
        {
            // The attempt timeout cut the last attempt the retries allow, well before the call's own time was up.
            throw new DependencyUnavailableException(
                Dependency,
                $"Vault did not answer {path} within {e.Timeout.TotalSeconds:0.###} s (Trousseau:Vault:AttemptTimeout) at the last of the {VaultResilience.Retries + 1} attempts a call makes.",
                e);
        }
        catch (TimeoutRejectedException e)
        {
            throw NoAnswer(path, e);
        }
    }

    /// <summary>
    /// Where a redirect that .NET did not follow because it leads from https to http points (a standby's 307 to an
    /// active node served without TLS): its scheme, host and port only.
    /// </summary>
    private static string? Downgrade(HttpResponseMessage response) =>
        (int)response.StatusCode is >= 300 and < 400
        && response.RequestMessage?.RequestUri is { Scheme: "https" } from
        && response.Headers.Location is { } location
        && new Uri(from, location) is { Scheme: "http" } to
            ? to.GetLeftPart(UriPartial.Authority)
            : null;

    private DependencyUnavailableException NoAnswer(string path, Exception inner) =>
        new(Dependency, $"Vault did not answer {path} within {options.Value.Timeout.TotalSeconds:0.###} s (Trousseau:Vault:Timeout).", inner);

    private TimeSpan TimeLeft(long started)
    {
        var left = options.Value.Timeout - time.GetElapsedTime(started);
        return left > TimeSpan.Zero ? left : TimeSpan.FromMilliseconds(1);
    }

    /// <summary>
    /// What Vault's refusal of a call means. 401 and 403: the token is not, or no longer, allowed (callers log in
    /// again once before giving up). 400: what the call says its input was (<paramref name="badRequest"/>), else Vault
    /// refused Trousseau's own request; so is the 500 with which Vault refuses a ciphertext its RSA key does not decrypt
    /// (<see cref="RefusesCiphertext"/>). Anything else (404, 412, 429 rate limit, 5xx, sealed...): Vault cannot serve
    /// the call now, with its <c>Retry-After</c> when it gave one.
    /// </summary>
    private static TrousseauException Refusal(HttpStatusCode status, string path, string errors, TimeSpan? retryAfter, Func<string, TrousseauException>? badRequest)
    {
        var code = (int)status;
        var answered = $"Vault answered {code} to {path}: {errors}";
        return code switch
        {
            400 when badRequest is not null => badRequest(errors),
            500 when badRequest is not null && RefusesCiphertext(errors) => badRequest(string.Join(' ', errors.Split((char[]?)null, StringSplitOptions.RemoveEmptyEntries))),
            401 or 403 => new AccessForbiddenException(answered),
            404 => new DependencyUnavailableException(Dependency, $"Vault has nothing at {path} (404; is the mount or the key missing?): {errors}"),
            429 => new DependencyUnavailableException(Dependency, $"Vault is limiting Trousseau's requests (429 to {path}): {errors}", retryAfter),
            _ => new DependencyUnavailableException(Dependency, answered, retryAfter),
        };
    }

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
