using System.Net.Http.Headers;

namespace Trousseau.Cli;

/// <summary>
/// Sends each request to the first server of the connection, with that server's own token (or none), and on to the
/// next, in order, only when a server cannot be reached: the connection could not be made (refused, a name that does
/// not resolve, no connection within <see cref="ConnectTimeout"/>, a failed TLS handshake), so the request was
/// certainly not processed. Once a request may have reached a server (any answer, a 5xx too; an answer cut off; no
/// answer in time) it goes nowhere else, so a write is never applied twice, and that server takes every later request
/// of the command. A failure to connect or to get an answer becomes a <see cref="DependencyUnavailableException"/>
/// naming the server, or, when none could be reached, every server and why.
/// </summary>
internal sealed class ServerFailover(Connection connection, HttpMessageHandler inner) : DelegatingHandler(inner)
{
    private const string Dependency = "trousseaud";

    /// <summary>How long clectl tries to connect to a server (TCP and TLS) before it counts as unreachable.</summary>
    public static readonly TimeSpan ConnectTimeout = TimeSpan.FromSeconds(5);

    /// <summary>How long clectl waits for a server's answer (its headers) once the request is sent.</summary>
    public static readonly TimeSpan AnswerTimeout = TimeSpan.FromSeconds(60);

    private ServerEndpoint? _chosen;

    /// <summary>The server requests went to: the one that was reached, else (before any was) the first.</summary>
    public ServerEndpoint Current => _chosen ?? connection.Servers[0];

    protected override async Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
    {
        var relative = RelativeToFirstServer(request.RequestUri);
        var candidates = _chosen is { } chosen ? [chosen] : connection.Servers;
        var unreachable = new List<(ServerEndpoint Server, string Why)>(candidates.Count);
        foreach (var server in candidates)
        {
            request.RequestUri = new Uri(server.Url, relative);
            request.Headers.Authorization = server.Token is { } token ? new AuthenticationHeaderValue("Bearer", token) : null;
            using var answerTimeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
            answerTimeout.CancelAfter(AnswerTimeout);
            try
            {
                var response = await base.SendAsync(request, answerTimeout.Token);
                _chosen = server;
                return response;
            }
            catch (HttpRequestException e) when (e.HttpRequestError is HttpRequestError.ConnectionError or HttpRequestError.NameResolutionError or HttpRequestError.SecureConnectionError)
            {
                unreachable.Add((server, connection.Describe(server, e)));
            }
            catch (OperationCanceledException e) when (e.InnerException is TimeoutException && !answerTimeout.IsCancellationRequested)
            {
                unreachable.Add((server, $"no connection within {ConnectTimeout.TotalSeconds:0} s"));
            }
            catch (HttpRequestException e)
            {
                _chosen = server;
                throw new DependencyUnavailableException(Dependency, $"The request to trousseaud at {server} failed: {connection.Describe(server, e)}", e);
            }
            catch (OperationCanceledException e) when (!cancellationToken.IsCancellationRequested)
            {
                _chosen = server;
                throw new DependencyUnavailableException(Dependency, $"trousseaud at {server} did not answer within {AnswerTimeout.TotalSeconds:0} s.", e);
            }
        }

        throw new DependencyUnavailableException(Dependency, unreachable is [var (only, why)]
            ? $"Cannot reach trousseaud at {only}: {why}"
            : $"Cannot reach any of the {unreachable.Count} trousseaud servers, tried in order: {string.Join("; ", unreachable.Select(u => $"{u.Server} ({u.Why.TrimEnd('.')})"))}.");
    }

    /// <summary>The request's URI relative to the first server, the <see cref="HttpClient.BaseAddress"/> it was made on.</summary>
    private string RelativeToFirstServer(Uri? requestUri)
    {
        var first = connection.Servers[0].Url.AbsoluteUri;
        var uri = requestUri?.AbsoluteUri ?? "";
        return uri.StartsWith(first, StringComparison.Ordinal)
            ? uri[first.Length..]
            : throw new InvalidOperationException($"clectl sends requests relative to {first}, not to {uri}.");
    }
}
