using System.Net.Http.Headers;

namespace Trousseau.Cli;

/// <summary>
/// Sends each request to the first server of the connection, with that server's own token (or none), and on to the
/// next, in order, only when a server cannot be reached: the connection could not be made (refused, a name that does
/// not resolve, no connection within <see cref="ConnectTimeout"/>, a failed TLS handshake), so the request was
/// certainly not processed. Once a request may have reached a server (any answer, a 5xx too; an answer cut off; no
/// whole answer in time) it goes nowhere else, so a write is never applied twice, and that server takes every later
/// request of the command. Each answer is read whole within the answer timeout, so that reading it neither hangs nor
/// fails later without naming the server. A failure to connect or to get an answer becomes a
/// <see cref="DependencyUnavailableException"/> naming the server, or, when none could be reached, every server and why.
/// </summary>
/// <param name="connection">The servers, their tokens and the TLS files.</param>
/// <param name="inner">The handler that connects (see <see cref="Connection.CreateHandler"/>).</param>
/// <param name="answerTimeout">How long to wait for a whole answer once connected (<c>--request-timeout</c>).</param>
internal sealed class ServerFailover(Connection connection, HttpMessageHandler inner, TimeSpan answerTimeout) : DelegatingHandler(inner)
{
    private const string Dependency = "trousseaud";

    /// <summary>How long clectl tries to connect to a server (TCP and TLS) before it counts as unreachable.</summary>
    public static readonly TimeSpan ConnectTimeout = TimeSpan.FromSeconds(5);

    /// <summary>How long clectl waits for a server's answer once connected, unless <c>--request-timeout</c> says.</summary>
    public static readonly TimeSpan DefaultAnswerTimeout = TimeSpan.FromSeconds(60);

    /// <summary>The longest <c>--request-timeout</c>: an hour.</summary>
    public static readonly TimeSpan MaxAnswerTimeout = TimeSpan.FromHours(1);

    private ServerEndpoint? _chosen;

    /// <summary>The servers, their tokens and the TLS files.</summary>
    public Connection Connection => connection;

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

            // The deadline leaves the whole answer timeout after the longest connection, so that it never cuts a
            // connection short: a server not connected to yet is unreachable, and the request goes on to the next.
            using var deadline = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
            deadline.CancelAfter(ConnectTimeout + answerTimeout);
            HttpResponseMessage response;
            try
            {
                response = await base.SendAsync(request, deadline.Token);
            }
            catch (HttpRequestException e) when (e.HttpRequestError is HttpRequestError.ConnectionError or HttpRequestError.NameResolutionError or HttpRequestError.SecureConnectionError)
            {
                unreachable.Add((server, connection.Describe(server, e)));
                continue;
            }
            catch (OperationCanceledException e) when (e.InnerException is TimeoutException && !deadline.IsCancellationRequested)
            {
                unreachable.Add((server, $"no connection within {ConnectTimeout.TotalSeconds:0} s"));
                continue;
            }
            catch (HttpRequestException e)
            {
                _chosen = server;
                throw new DependencyUnavailableException(Dependency, $"The request to trousseaud at {server} failed: {connection.Describe(server, e)}", e);
            }
            catch (OperationCanceledException e) when (!cancellationToken.IsCancellationRequested)
            {
                _chosen = server;
                throw NoAnswer(server, e);
            }

            _chosen = server;
            await ReadWholeAsync(response, server, deadline.Token, cancellationToken);
            return response;
        }

        throw new DependencyUnavailableException(Dependency, unreachable is [var (only, why)]
            ? $"Cannot reach trousseaud at {only}: {why}"
            : $"Cannot reach any of the {unreachable.Count} trousseaud servers, tried in order: {string.Join("; ", unreachable.Select(u => $"{u.Server} ({u.Why.TrimEnd('.')})"))}.");
    }

    /// <summary>Reads the body of <paramref name="response"/> into memory before <paramref name="deadline"/>.</summary>
    private async Task ReadWholeAsync(HttpResponseMessage response, ServerEndpoint server, CancellationToken deadline, CancellationToken cancellationToken)
    {
        try
        {
            await response.Content.LoadIntoBufferAsync(deadline);
        }
        catch (Exception e) when (e is HttpRequestException or IOException)
        {
            response.Dispose();
            throw new DependencyUnavailableException(Dependency, $"The answer of trousseaud at {server} was cut off: {e.GetBaseException().Message}", e);
        }
        catch (OperationCanceledException e) when (!cancellationToken.IsCancellationRequested)
        {
            response.Dispose();
            throw NoAnswer(server, e);
        }
    }

    private DependencyUnavailableException NoAnswer(ServerEndpoint server, Exception e) =>
        new(Dependency, $"trousseaud at {server} did not answer within {answerTimeout.TotalSeconds:0.###} s (--request-timeout); the request may have reached it, so it was sent to no other server.", e);

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
