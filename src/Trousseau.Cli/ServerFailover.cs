using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text.Json;
using Trousseau.Remote;

namespace Trousseau.Cli;

/// <summary>
/// Sends each request to the first server of the connection, with that server's own token (or none), and on to the
/// next, in order, when a server cannot be reached: the connection could not be made (refused, a name that does not
/// resolve, no connection within <see cref="ConnectTimeout"/>, a failed TLS handshake), so the request was certainly
/// not processed. A write that may have reached a server (any answer, a 5xx too; an answer cut off; no whole answer
/// in time) goes nowhere else, so it is never applied twice. A read (GET), which changes nothing, also moves on past a
/// server that answered 5xx or 429, cut its answer off, sent one too large or did not answer in time. The server that answered
/// takes every later request of the command. Each answer is read whole within the answer timeout, and no further than
/// <see cref="TrousseauClient.MaxAnswerBytes"/>, so that reading it neither hangs, nor grows without bound, nor fails
/// later without naming the server. A failure becomes a <see cref="DependencyUnavailableException"/> naming the
/// server, or, when several were tried, every server and why: a read whose last server answers 5xx or 429 too, after
/// others were passed over, fails so (unless <see cref="LastAnswerAsItIs"/>), each 5xx with its problem details' words,
/// each 429 or 503 with the wait its <c>Retry-After</c> asks for.
/// </summary>
internal sealed class ServerFailover : DelegatingHandler
{
    private const string Dependency = "trousseaud";
    private const string AnsweredPrefix = "answered ";
    private const string CheckFirst = "check (clectl secret get, secret list, key status) before you repeat it.";

    /// <summary>How long clectl tries to connect to a server (TCP and TLS) before it counts as unreachable.</summary>
    public static readonly TimeSpan ConnectTimeout = TimeSpan.FromSeconds(5);

    /// <summary>How long clectl waits for a server's answer once connected, unless <c>--request-timeout</c> says.</summary>
    public static readonly TimeSpan DefaultAnswerTimeout = TimeSpan.FromSeconds(60);

    /// <summary>The longest <c>--request-timeout</c>: an hour.</summary>
    public static readonly TimeSpan MaxAnswerTimeout = TimeSpan.FromHours(1);

    /// <summary>
    /// Set on a read whose caller takes the last server's 5xx answer as it is, even after other servers were passed
    /// over: <c>health</c>, which prints the report of a server that is not ready. Any other read that every server
    /// answered with 5xx fails naming each server and what it answered.
    /// </summary>
    public static readonly HttpRequestOptionsKey<bool> LastAnswerAsItIs = new("Trousseau.Cli.LastAnswerAsItIs");

    private readonly Connection _connection;
    private readonly TimeSpan _answerTimeout;
    private readonly Lock _sending = new();
    private CancellationTokenSource? _awaitingWrite;
    private ServerEndpoint? _chosen;
    private (ServerEndpoint Server, HttpMethod Method, string Path)? _awaiting;

    /// <summary>A failover over <paramref name="connection"/>'s servers, through the handler that connects to them.</summary>
    /// <param name="connection">The servers, their tokens and the TLS files.</param>
    /// <param name="answerTimeout">
    /// How long to wait for a whole answer once connected (<c>--request-timeout</c>): counted from the moment the request is
    /// written to the connection, made (TCP and TLS) or reused, never from the start of the connection attempt.
    /// </param>
    public ServerFailover(Connection connection, TimeSpan answerTimeout)
    {
        _connection = connection;
        _answerTimeout = answerTimeout;
        InnerHandler = connection.CreateHandler(RequestWriting);
    }

    /// <summary>The servers, their tokens and the TLS files.</summary>
    public Connection Connection => _connection;

    /// <summary>
    /// For the last request, when it ended on a server's answer after servers were passed over (one that could not be
    /// reached; for a read, also a 5xx, a 429, an answer cut off or none in time): each server tried before, in order,
    /// and what it did, as <c>https://a.example:8787/ (answered 503 Service Unavailable: ...)</c> or
    /// <c>https://a.example:8787/ (Connection refused (a.example:8787))</c>; else <see langword="null"/>.
    /// </summary>
    public string? ServersPassedOver { get; private set; }

    /// <summary>The server requests went to: the one that was reached, else (before any was) the first.</summary>
    public ServerEndpoint Current => _chosen ?? _connection.Servers[0];

    /// <summary>
    /// What clectl was doing when it was interrupted (Ctrl-C): which server held which request unanswered, and whether it
    /// may have been applied there (a write), so that nothing is left half-done without a word; never the token.
    /// </summary>
    public string Interrupted() => _awaiting switch
    {
        null => "Interrupted; no request was awaiting an answer.",
        var (server, method, path) when method == HttpMethod.Get =>
            $"Interrupted while trousseaud at {server} held the request ({method} {path}) unanswered; a read changes nothing.",
        var (server, method, path) =>
            $"Interrupted while trousseaud at {server} held the request ({method} {path}) unanswered: it may or may not have been applied there; {CheckFirst}",
    };

    protected override async Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
    {
        var relative = RelativeToFirstServer(request.RequestUri);
        var candidates = _chosen is { } chosen ? [chosen] : _connection.Servers;
        var read = request.Method == HttpMethod.Get;
        var tried = new List<(ServerEndpoint Server, string Why)>(candidates.Count);
        DependencyUnavailableException? failure = null;
        ServersPassedOver = null;
        for (var i = 0; i < candidates.Count; i++)
        {
            var server = candidates[i];
            var last = i == candidates.Count - 1;
            request.RequestUri = new Uri(server.Url, relative);
            request.Headers.Authorization = server.Token is { } token ? new AuthenticationHeaderValue("Bearer", token) : null;
            _awaiting = (server, request.Method, PathOf(relative));
            var attempt = await AttemptAsync(request, server, cancellationToken);
            _awaiting = null;
            switch (attempt)
            {
                case NotReached(var why):
                    tried.Add((server, why));
                    break;
                case Failed(var why, var failed) when read:
                    tried.Add((server, why));
                    failure = failed;
                    break;
                case Failed(_, var failed):
                    _chosen = server;
                    throw new DependencyUnavailableException(
                        Dependency,
                        $"{failed.Message}{(failed.Message.EndsWith('.') || failed.Message.EndsWith('?') ? "" : ".")} The {request.Method} {PathOf(relative)} may or may not have been applied at {server}: {CheckFirst}",
                        failed.InnerException);
                case Answered(var response) when read && PassedOver(response) && !(last && (tried.Count == 0 || TakesLastAnswer(request))):
                    tried.Add((server, await AnsweredAsync(response, cancellationToken)));
                    response.Dispose();
                    break;
                case Answered(var response):
                    _chosen = server;
                    ServersPassedOver = tried.Count > 0 ? InOrder(tried) : null;
                    return response;
            }
        }

        var reached = failure is not null || tried.Any(t => t.Why.StartsWith(AnsweredPrefix, StringComparison.Ordinal));
        throw tried switch
        {
            [_] when failure is not null => failure,
            [var (only, why)] => new DependencyUnavailableException(Dependency, $"Cannot reach trousseaud at {only}: {why}"),
            _ => new DependencyUnavailableException(
                Dependency,
                $"{(reached ? "None" : "Cannot reach any")} of the {tried.Count} trousseaud servers{(reached ? " answered" : "")}, tried in order: "
                + InOrder(tried) + ".",
                failure),
        };
    }

    /// <summary>
    /// Sends <paramref name="request"/> to <paramref name="server"/> and reads the whole answer, within the connection
    /// timeout and then the answer timeout.
    /// </summary>
    private async Task<Attempt> AttemptAsync(HttpRequestMessage request, ServerEndpoint server, CancellationToken cancellationToken)
    {
        // Until the request is written the deadline leaves the whole answer timeout after the longest connection, so
        // that it never cuts a connection short: a server not connected to yet is unreachable, and the request goes on
        // to the next. Once written (see RequestWriting), the answer timeout starts again from then.
        using var deadline = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        deadline.CancelAfter(ConnectTimeout + _answerTimeout);
        HttpResponseMessage response;
        try
        {
            lock (_sending)
            {
                _awaitingWrite = deadline;
            }

            response = await base.SendAsync(request, deadline.Token);
        }
        catch (HttpRequestException e) when (e.HttpRequestError is HttpRequestError.ConnectionError or HttpRequestError.NameResolutionError or HttpRequestError.SecureConnectionError)
        {
            return new NotReached(_connection.Describe(server, e));
        }
        catch (OperationCanceledException e) when (e.InnerException is TimeoutException && !deadline.IsCancellationRequested)
        {
            return new NotReached($"no connection within {ConnectTimeout.TotalSeconds:0} s");
        }
        catch (HttpRequestException e)
        {
            var why = _connection.Describe(server, e);
            return new Failed(why, new DependencyUnavailableException(Dependency, $"The request to trousseaud at {server} failed: {why}", e));
        }
        catch (OperationCanceledException e) when (!cancellationToken.IsCancellationRequested)
        {
            return NoAnswer(server, e);
        }
        finally
        {
            lock (_sending)
            {
                _awaitingWrite = null;
            }
        }

        try
        {
            await response.Content.LoadIntoBufferAsync(TrousseauClient.MaxAnswerBytes, deadline.Token);
            return new Answered(response);
        }
        catch (HttpRequestException e) when (e.HttpRequestError == HttpRequestError.ConfigurationLimitExceeded)
        {
            response.Dispose();
            var limit = $"{TrousseauClient.MaxAnswerBytes / (1024 * 1024)} MiB";
            return new Failed($"its answer runs past {limit}", new DependencyUnavailableException(
                Dependency,
                $"The answer of trousseaud at {server} runs past {limit}, more than trousseaud ever sends; it was not read further: is this the address trousseaud serves its API on?",
                e));
        }
        catch (Exception e) when (e is HttpRequestException or IOException)
        {
            response.Dispose();
            var why = $"its answer was cut off: {e.GetBaseException().Message}";
            return new Failed(why, new DependencyUnavailableException(Dependency, $"The answer of trousseaud at {server} was cut off: {e.GetBaseException().Message}", e));
        }
        catch (OperationCanceledException e) when (!cancellationToken.IsCancellationRequested)
        {
            response.Dispose();
            return NoAnswer(server, e);
        }
    }

    /// <summary>
    /// Called before each write to a connection (see <see cref="RequestWriteWatch"/>): the first write of an attempt is
    /// its request going out on a connection made or reused, so the answer timeout counts from then.
    /// </summary>
    private void RequestWriting()
    {
        lock (_sending)
        {
            _awaitingWrite?.CancelAfter(_answerTimeout);
            _awaitingWrite = null;
        }
    }

    /// <summary>The servers tried, in order, each with what it did: <c>https://a.example:8787/ (answered 503 ...); ...</c>.</summary>
    private static string InOrder(IEnumerable<(ServerEndpoint Server, string Why)> tried) =>
        string.Join("; ", tried.Select(t => $"{t.Server} ({t.Why.TrimEnd('.')})"));

    /// <summary>A request's path without its query, to name it in a message.</summary>
    private static string PathOf(string relative) => relative.Split('?')[0];

    private static bool TakesLastAnswer(HttpRequestMessage request) => request.Options.TryGetValue(LastAnswerAsItIs, out var asItIs) && asItIs;

    /// <summary>An answer a read moves on past: a 5xx, or a 429 (the server, or a proxy in front of it, limits its rate).</summary>
    private static bool PassedOver(HttpResponseMessage response) =>
        (int)response.StatusCode >= 500 || response.StatusCode == HttpStatusCode.TooManyRequests;

    /// <summary>
    /// What a server answered with a 5xx or a 429: the status, the detail (else the title) of its problem details, if
    /// any, and the wait the <c>Retry-After</c> of a 429 or a 503 (trousseaud sends one with each) asks for. clectl does
    /// not wait it out: a read goes on to the next server at once, and the line tells when to try this one again.
    /// </summary>
    private static async Task<string> AnsweredAsync(HttpResponseMessage response, CancellationToken cancellationToken)
    {
        var answered = $"{AnsweredPrefix}{(int)response.StatusCode} {response.ReasonPhrase}";
        try
        {
            var problem = await response.Content.ReadFromJsonAsync(WireJson.Default.ProblemBody, cancellationToken);
            if ((problem?.Detail ?? problem?.Title) is { } explained)
            {
                answered = $"{answered}: {explained}";
            }
        }
        catch (Exception e) when (e is JsonException or NotSupportedException or InvalidOperationException)
        {
            // Not problem details (a proxy's page, say): the status alone says what it answered.
        }

        var wait = response.StatusCode is HttpStatusCode.TooManyRequests or HttpStatusCode.ServiceUnavailable
            ? RetryAfterWait.Of(response.Headers, TimeProvider.System)
            : null;
        return wait is { } asked ? answered.TrimEnd('.') + RetryAfterWait.Asked(asked) : answered;
    }

    private Failed NoAnswer(ServerEndpoint server, Exception e) => new(
        $"no answer within {_answerTimeout.TotalSeconds:0.###} s",
        new DependencyUnavailableException(
            Dependency,
            $"trousseaud at {server} did not answer within {_answerTimeout.TotalSeconds:0.###} s (--request-timeout).",
            e));

    /// <summary>The request's URI relative to the first server, the <see cref="HttpClient.BaseAddress"/> it was made on.</summary>
    private string RelativeToFirstServer(Uri? requestUri)
    {
        var first = _connection.Servers[0].Url.AbsoluteUri;
        var uri = requestUri?.AbsoluteUri ?? "";
        return uri.StartsWith(first, StringComparison.Ordinal)
            ? uri[first.Length..]
            : throw new InvalidOperationException($"clectl sends requests relative to {first}, not to {uri}.");
    }

    /// <summary>How one server took a request.</summary>
    private abstract record Attempt;

    /// <summary>The server gave an answer, read whole.</summary>
    private sealed record Answered(HttpResponseMessage Response) : Attempt;

    /// <summary>No connection could be made, so the request was certainly not sent.</summary>
    private sealed record NotReached(string Why) : Attempt;

    /// <summary>The request may have reached the server, which gave no whole answer.</summary>
    private sealed record Failed(string Why, DependencyUnavailableException Failure) : Attempt;
}
