using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using System.Text.Json.Serialization.Metadata;
using Microsoft.Extensions.Options;

namespace Trousseau.Etcd.Internal;

/// <summary>
/// Calls etcd's v3 JSON gateway on the first endpoint that answers, moving on to the next on connection failure
/// or timeout (a stopped member, a partition), with username/password auth when configured (the token is fetched
/// again when etcd says it is invalid). Every failure to reach any member is the typed unavailable error.
/// </summary>
internal sealed class EtcdGateway(IHttpClientFactory clients, IOptions<EtcdStoreOptions> options) : IDisposable
{
    public const string ClientName = "Trousseau.Etcd";
    public const string Dependency = "store:etcd";
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

        string? lastFailure = null;
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
                    if (error.Contains("invalid auth token", StringComparison.OrdinalIgnoreCase) && authAttempt == 0)
                    {
                        Interlocked.Exchange(ref _authToken, null);
                        continue;
                    }

                    if (response.StatusCode is HttpStatusCode.Unauthorized or HttpStatusCode.Forbidden || error.Contains("permission denied", StringComparison.OrdinalIgnoreCase) || error.Contains("authentication failed", StringComparison.OrdinalIgnoreCase))
                    {
                        throw new DependencyUnavailableException(Dependency, $"etcd at {endpoint} refused Trousseau's credentials: {error}");
                    }

                    lastFailure = $"etcd at {endpoint} answered {(int)response.StatusCode} to {path}: {error}";
                }
                catch (HttpRequestException e)
                {
                    lastFailure = $"etcd at {endpoint} cannot be reached: {e.Message}";
                }
                catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
                {
                    lastFailure = $"etcd at {endpoint} did not answer within {CallTimeout.TotalSeconds:0} s";
                }
                catch (JsonException)
                {
                    lastFailure = $"etcd at {endpoint} answered {path} with JSON its gateway does not document";
                }

                break;
            }
        }

        throw new DependencyUnavailableException(Dependency, lastFailure ?? "etcd cannot be reached.");
    }

    /// <summary>Opens a streaming call (watch) on the first endpoint that accepts it; the caller reads and disposes it.</summary>
    public async Task<HttpResponseMessage> OpenStreamAsync<TRequest>(string path, TRequest body, JsonTypeInfo<TRequest> requestType, CancellationToken cancellationToken)
    {
        string? lastFailure = null;
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

                lastFailure = $"etcd at {endpoint} answered {(int)response.StatusCode} to {path}";
                response.Dispose();
            }
            catch (HttpRequestException e)
            {
                lastFailure = $"etcd at {endpoint} cannot be reached: {e.Message}";
            }
        }

        throw new DependencyUnavailableException(Dependency, lastFailure ?? "No etcd endpoint is configured.");
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
                throw new DependencyUnavailableException(Dependency, $"etcd at {endpoint} refused Trousseau's credentials: {await ReadErrorAsync(response, cancellationToken).ConfigureAwait(false)}");
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

    private static async Task<string> ReadErrorAsync(HttpResponseMessage response, CancellationToken cancellationToken)
    {
        try
        {
            var error = await response.Content.ReadFromJsonAsync(EtcdJson.Default.GatewayError, cancellationToken).ConfigureAwait(false);
            return error?.Message ?? error?.Error ?? "no detail";
        }
        catch (Exception e) when (e is JsonException or NotSupportedException or InvalidOperationException)
        {
            return "no detail";
        }
    }
}
