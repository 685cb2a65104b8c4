using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using System.Text.Json.Serialization.Metadata;
using Microsoft.Extensions.Options;

namespace Trousseau.Etcd.Internal;

/// <summary>
/// Calls etcd's v3 JSON gateway on the first endpoint that answers, moving on to the next on connection failure,
/// timeout or an answer another member may not give (a stopped member, a partition, a member without a leader), with
/// username/password auth when configured (the token is fetched again when etcd says it is invalid). This is the one
/// place where etcd's answers become Trousseau's exceptions (<see cref="Refusal"/>).
/// </summary>
internal sealed class EtcdGateway(IHttpClientFactory clients, IOptions<EtcdStoreOptions> options, TimeProvider time) : IDisposable
{
    public const string ClientName = "Trousseau.Etcd";
    public const string Dependency = "store:etcd";
    private const string NoDetail = "no detail";
    private const int GrpcInvalidArgument = 3;
    private const int GrpcPermissionDenied = 7;
    private const int GrpcUnauthenticated = 16;
    private static readonly TimeSpan CallTimeout = TimeSpan.FromSeconds(3);

    private readonly SemaphoreSlim _authGate = new(1, 1);
    private int _preferred;
    private string? _authToken;

    public async Task<TResponse> PostAsync<TRequest, TResponse>(string path, TRequest body, JsonTypeInfo<TRequest> requestType, JsonTypeInfo<TResponse> responseType, CancellationToken cancellationToken)
    {
        var endpoints = options.Value.Endpoints;
        if (endpoints.Count == 0)
        {
            throw new DependencyUnavailableException(Dependency, "No etcd endpoint is configured (Trousseau:Etcd:Endpoints).");
        }

        TrousseauException? lastFailure = null;
        var start = Volatile.Read(ref _preferred);
        for (var i = 0; i < endpoints.Count; i++)
        {
            var index = (start + i) % endpoints.Count;
            var endpoint = endpoints[index];
            for (var authAttempt = 0; authAttempt < 2; authAttempt++)
            {
                using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
                timeout.CancelAfter(CallTimeout);
                try
                {
                    var token = await AuthTokenAsync(endpoint, timeout.Token).ConfigureAwait(false);
                    using var request = new HttpRequestMessage(HttpMethod.Post, new Uri(endpoint, "v3/" + path)) { Content = JsonContent.Create(body, requestType) };
                    if (token is not null)
                    {
                        request.Headers.TryAddWithoutValidation("Authorization", token);
                    }

                    using var response = await clients.CreateClient(ClientName).SendAsync(request, timeout.Token).ConfigureAwait(false);
                    if (response.IsSuccessStatusCode)
                    {
                        Volatile.Write(ref _preferred, index);
                        return await response.Content.ReadFromJsonAsync(responseType, timeout.Token).ConfigureAwait(false)
                            ?? throw new DependencyUnavailableException(Dependency, $"etcd at {endpoint} answered {path} with an empty body.");
                    }

                    var error = await ReadErrorAsync(response, timeout.Token).ConfigureAwait(false);
                    if (error.Text.Contains("invalid auth token", StringComparison.OrdinalIgnoreCase) && authAttempt == 0)
                    {
                        Interlocked.Exchange(ref _authToken, null);
                        continue;
                    }

                    var (failure, tryNextMember) = Refusal(endpoint, path, response, error);
                    if (!tryNextMember)
                    {
                        throw failure;
                    }

                    lastFailure = failure;
                }
                catch (Exception e) when (e is HttpRequestException or IOException)
                {
                    lastFailure = new DependencyUnavailableException(Dependency, $"etcd at {endpoint} cannot be reached: {e.Message}", e);
                }
                catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
                {
                    lastFailure = new DependencyUnavailableException(Dependency, $"etcd at {endpoint} did not answer within {CallTimeout.TotalSeconds:0} s");
                }
                catch (Exception e) when (e is JsonException or NotSupportedException or InvalidOperationException)
                {
                    lastFailure = new DependencyUnavailableException(Dependency, $"etcd at {endpoint} answered {path} with JSON its gateway does not document", e);
                }

                break;
            }
        }

        throw lastFailure ?? new DependencyUnavailableException(Dependency, "etcd cannot be reached.");
    }

    /// <summary>
    /// What etcd's refusal of a call means. Refused credentials (401, 403, or gRPC PERMISSION_DENIED /
    /// UNAUTHENTICATED): etcd is unavailable to Trousseau, and no other member would answer otherwise (thrown at
    /// once). A request etcd finds invalid (gRPC INVALID_ARGUMENT, for example one over its request size limit): the
    /// caller's input (thrown at once). Anything else (429, 5xx, no leader, compaction...): unavailable, with etcd's
    /// <c>Retry-After</c> when it gave one, and worth asking the next member.
    /// </summary>
    private (TrousseauException Failure, bool TryNextMember) Refusal(Uri endpoint, string path, HttpResponseMessage response, GatewayFailure error)
    {
        if (response.StatusCode is HttpStatusCode.Unauthorized or HttpStatusCode.Forbidden || error.Code is GrpcPermissionDenied or GrpcUnauthenticated
            || error.Text.Contains("permission denied", StringComparison.OrdinalIgnoreCase) || error.Text.Contains("authentication failed", StringComparison.OrdinalIgnoreCase))
        {
            return (new DependencyUnavailableException(Dependency, $"etcd at {endpoint} refused Trousseau's credentials: {error.Text}"), false);
        }

        if (response.StatusCode == HttpStatusCode.BadRequest && error.Code == GrpcInvalidArgument)
        {
            return (new InvalidInputException("request", $"etcd refused the request: {error.Text}"), false);
        }

        var retryAfter = response.Headers.RetryAfter switch
        {
            { Delta: { } delta } => delta,
            { Date: { } date } when date > time.GetUtcNow() => date - time.GetUtcNow(),
            _ => (TimeSpan?)null,
        };
        return (new DependencyUnavailableException(Dependency, $"etcd at {endpoint} answered {(int)response.StatusCode} to {path}: {error.Text}", retryAfter), true);
    }

    /// <summary>Opens a streaming call (watch) on the first endpoint that accepts it; the caller reads and disposes it.</summary>
    public async Task<HttpResponseMessage> OpenStreamAsync<TRequest>(string path, TRequest body, JsonTypeInfo<TRequest> requestType, CancellationToken cancellationToken)
    {
        TrousseauException? lastFailure = null;
        foreach (var endpoint in options.Value.Endpoints.Skip(Volatile.Read(ref _preferred)).Concat(options.Value.Endpoints.Take(Volatile.Read(ref _preferred))))
        {
            try
            {
                var token = await AuthTokenAsync(endpoint, cancellationToken).ConfigureAwait(false);
                using var request = new HttpRequestMessage(HttpMethod.Post, new Uri(endpoint, "v3/" + path)) { Content = JsonContent.Create(body, requestType) };
                if (token is not null)
                {
                    request.Headers.TryAddWithoutValidation("Authorization", token);
                }

                var response = await clients.CreateClient(ClientName).SendAsync(request, HttpCompletionOption.ResponseHeadersRead, cancellationToken).ConfigureAwait(false);
                if (response.IsSuccessStatusCode)
                {
                    return response;
                }

                using (response)
                {
                    var (failure, tryNextMember) = Refusal(endpoint, path, response, await ReadErrorAsync(response, cancellationToken).ConfigureAwait(false));
                    if (!tryNextMember)
                    {
                        throw failure;
                    }

                    lastFailure = failure;
                }
            }
            catch (Exception e) when (e is HttpRequestException or IOException)
            {
                lastFailure = new DependencyUnavailableException(Dependency, $"etcd at {endpoint} cannot be reached: {e.Message}", e);
            }
        }

        throw lastFailure ?? new DependencyUnavailableException(Dependency, "No etcd endpoint is configured.");
    }

    public void Dispose() => _authGate.Dispose();

    private async Task<string?> AuthTokenAsync(Uri endpoint, CancellationToken cancellationToken)
    {
        var settings = options.Value;
        if (string.IsNullOrEmpty(settings.Username))
        {
            return null;
        }

        if (Volatile.Read(ref _authToken) is { } cached)
        {
            return cached;
        }

        await _authGate.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            if (_authToken is { } again)
            {
                return again;
            }

            using var response = await clients.CreateClient(ClientName).PostAsync(
                new Uri(endpoint, "v3/auth/authenticate"),
                JsonContent.Create(new AuthenticateRequest(settings.Username, settings.Password ?? ""), EtcdJson.Default.AuthenticateRequest),
                cancellationToken).ConfigureAwait(false);
            if (!response.IsSuccessStatusCode)
            {
                throw new DependencyUnavailableException(Dependency, $"etcd at {endpoint} refused Trousseau's credentials: {(await ReadErrorAsync(response, cancellationToken).ConfigureAwait(false)).Text}");
            }

            var answer = await response.Content.ReadFromJsonAsync(EtcdJson.Default.AuthenticateResponse, cancellationToken).ConfigureAwait(false);
            _authToken = answer?.Token ?? throw new DependencyUnavailableException(Dependency, $"etcd at {endpoint} issued no auth token.");
            return _authToken;
        }
        finally
        {
            _authGate.Release();
        }
    }

    private static async Task<GatewayFailure> ReadErrorAsync(HttpResponseMessage response, CancellationToken cancellationToken)
    {
        try
        {
            var error = await response.Content.ReadFromJsonAsync(EtcdJson.Default.GatewayError, cancellationToken).ConfigureAwait(false);
            return new GatewayFailure(error?.Message ?? error?.Error ?? NoDetail, error?.Code ?? 0);
        }
        catch (Exception e) when (e is JsonException or NotSupportedException or InvalidOperationException)
        {
            return new GatewayFailure(NoDetail, 0);
        }
    }

    /// <summary>The gateway's error: its text and the gRPC status code it maps from.</summary>
    private readonly record struct GatewayFailure(string Text, int Code);
}
