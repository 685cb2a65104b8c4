using System.Collections.Concurrent;
using System.Globalization;
using System.Net;
using System.Text.Json;
using Trousseau.Tests.Integration.Infrastructure;

namespace Trousseau.Tests.Integration.Soak;

/// <summary>
/// Clients of trousseaud's HTTP API, each the only writer of a few secrets of a fixed set: it creates them, updates
/// them with <c>If-Match</c> (now and then with a superseded revision, which must be refused), reads, deletes and lists
/// them, and records in each <see cref="SecretHistory"/> what the server acknowledged. Every answer is counted by
/// method and status, and checked as it comes: a failure is a problem-details body of a documented type and status,
/// never a 500; a read finds what the history allows; a listing names no secret twice.
/// </summary>
internal sealed class FaultLoad(HttpClient api, IReadOnlyDictionary<string, int[]> documentedProblems)
{
    public const string Prefix = "chaos/";
    private const int Clients = 4;
    private const int SecretsPerClient = 5;
    private const int ListPageSize = 4;

    /// <summary>Each client makes at most one call per tick: a steady load that leaves the 2-core machine room for the faults.</summary>
    private static readonly TimeSpan Pace = TimeSpan.FromMilliseconds(25);

    private readonly ConcurrentDictionary<string, long> _statuses = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<string, long> _failures = new(StringComparer.Ordinal);
    private readonly ConcurrentQueue<string> _violations = new();
    private long _answered;
    private long _unavailable;
    private long _acknowledgedWrites;

    public IReadOnlyList<SecretHistory> Secrets { get; } =
    [
        .. Enumerable.Range(0, Clients * SecretsPerClient).Select(i => new SecretHistory(
            string.Create(CultureInfo.InvariantCulture, $"{Prefix}c{i / SecretsPerClient}/s{i % SecretsPerClient}"))),
    ];

    /// <summary>Requests to a <c>/v1</c> route that got an answer: each must have its line in the audit trail.</summary>
    public long Answered => Interlocked.Read(ref _answered);

    /// <summary>Answers 503 so far.</summary>
    public long Unavailable => Interlocked.Read(ref _unavailable);

    /// <summary>Writes (creates, updates, deletes) answered 2xx so far.</summary>
    public long AcknowledgedWrites => Interlocked.Read(ref _acknowledgedWrites);

    /// <summary>Answers by <c>METHOD status</c> (and problem type for errors; <c>none</c> when no answer came).</summary>
    public IReadOnlyDictionary<string, long> Statuses => _statuses;

    /// <summary>Each distinct 5xx or missing answer (method, status, problem type and detail), with how often it came.</summary>
    public IReadOnlyDictionary<string, long> Failures => _failures;

    /// <summary>Answered requests by HTTP status, as the audit trail's <c>httpStatus</c> counts them.</summary>
    public IReadOnlyDictionary<int, long> AnsweredByStatus =>
        _statuses.Where(s => !s.Key.EndsWith(" none", StringComparison.Ordinal))
            .GroupBy(s => int.Parse(s.Key.Split(' ')[1], CultureInfo.InvariantCulture))
            .ToDictionary(g => g.Key, g => g.Sum(s => s.Value));

    /// <summary>Every broken invariant seen so far, each in one line.</summary>
    public IReadOnlyCollection<string> Violations => _violations;

    /// <summary>Runs every client until <paramref name="stop"/>, and returns once their last calls are answered.</summary>
    public Task RunAsync(CancellationToken stop) => Task.WhenAll(
        Enumerable.Range(0, Clients).Select(c => Task.Run(
            () => ClientAsync(Secrets.Skip(c * SecretsPerClient).Take(SecretsPerClient).ToArray(), new Random(c), stop),
            CancellationToken.None)));

    /// <summary>Once the load has stopped: reads every secret back (waiting out 503s) and lists them once more.</summary>
    public async Task VerifyAsync()
    {
        var present = new HashSet<string>(StringComparer.Ordinal);
        foreach (var secret in Secrets)
        {
            var found = await Eventually.ReturnsAsync(
                () => SendAsync(HttpMethod.Get, "v1/secrets/" + secret.Name),
                answer => answer.Status is HttpStatusCode.OK or HttpStatusCode.NotFound,
                awaited: $"{secret.Name} to be read back after the faults",
                show: answer => $"{(int?)answer.Status} {answer.Body}");
            var value = found.Status == HttpStatusCode.OK ? found.Json().GetProperty("data").GetProperty("value").GetString() : null;
            if (value is not null)
            {
                present.Add(secret.Name);
            }

            if (secret.Check(value) is { } problem)
            {
                _violations.Enqueue(problem + " (final read)");
            }
        }

        var listed = await Eventually.ReturnsAsync(ListAsync, names => names is not null, awaited: "a whole listing after the faults");
        if (!listed!.ToHashSet(StringComparer.Ordinal).SetEquals(present))
        {
            _violations.Enqueue($"the final listing names {string.Join(", ", listed!.Order(StringComparer.Ordinal))}, but these read back: {string.Join(", ", present.Order(StringComparer.Ordinal))}");
        }
    }

    /// <summary>A key administration call, counted and checked as the clients' calls are; returns the answer.</summary>
    public Task<ApiAnswer> PostAsync(string path) => SendAsync(HttpMethod.Post, path, new { });

    /// <summary>A read of a route other than a secret's, counted and checked as the clients' calls are.</summary>
    public Task<ApiAnswer> GetAsync(string path) => SendAsync(HttpMethod.Get, path);

    private static bool IsAmbiguous(ApiAnswer answer) => SecretHistory.MayHaveApplied(answer.Status, answer.ProblemType, answer.Detail);

    private async Task ClientAsync(SecretHistory[] secrets, Random random, CancellationToken stop)
    {
        var sequence = 0L;
        var operations = 0;
        using var pace = new PeriodicTimer(Pace);
        while (await NextAsync(pace, stop))
        {
            var secret = secrets[random.Next(secrets.Length)];
            var roll = random.Next(100);
            if (++operations % 10 == 0)
            {
                await ListAsync();
            }
            else if (!secret.Known || roll < 15)
            {
                await ReadAsync(secret);
            }
            else if (secret.Revision is null)
            {
                await WriteAsync(secret, HttpMethod.Post, secret.Value(++sequence), ifMatch: null);
            }
            else if (roll < 25)
            {
                await WriteAsync(secret, HttpMethod.Delete, null, secret.Revision);
            }
            else if (roll < 32 && secret.Superseded is { } superseded)
            {
                await StaleUpdateAsync(secret, secret.Value(++sequence), superseded);
            }
            else
            {
                await WriteAsync(secret, HttpMethod.Put, secret.Value(++sequence), secret.Revision);
            }
        }
    }

    private static async Task<bool> NextAsync(PeriodicTimer pace, CancellationToken stop)
    {
        try
        {
            return await pace.WaitForNextTickAsync(stop);
        }
        catch (OperationCanceledException)
        {
            return false;
        }
    }

    private async Task ReadAsync(SecretHistory secret)
    {
        var answer = await SendAsync(HttpMethod.Get, "v1/secrets/" + secret.Name);
        if (answer.Status is not (HttpStatusCode.OK or HttpStatusCode.NotFound))
        {
            return;
        }

        var found = answer.Status == HttpStatusCode.OK ? answer.Json().GetProperty("data").GetProperty("value").GetString() : null;
        if (secret.Check(found) is { } problem)
        {
            _violations.Enqueue(problem + " (read during the faults)");
        }

        secret.Record(HistoryOutcome.Observed, found, "read");
        secret.Superseded = null;
        secret.Revision = found is null ? null : answer.Json().GetProperty("revision").GetInt64();
        secret.Known = true;
    }

    /// <summary>A create (POST), update (PUT) or delete (DELETE, <paramref name="value"/> null) as a user makes it.</summary>
    private async Task WriteAsync(SecretHistory secret, HttpMethod method, string? value, long? ifMatch)
    {
        var data = value is null ? null : new Dictionary<string, string>(StringComparer.Ordinal) { ["value"] = value };
        var answer = method == HttpMethod.Post
            ? await SendAsync(method, "v1/secrets", new { name = secret.Name, type = "opaque", data })
            : await SendAsync(method, "v1/secrets/" + secret.Name, data is null ? null : new { data }, ifMatch);
        if (answer.Status is { } status && (int)status is >= 200 and < 300)
        {
            Interlocked.Increment(ref _acknowledgedWrites);
            secret.Record(HistoryOutcome.Acknowledged, value, $"{(int)status}");
            secret.Superseded = secret.Revision;
            secret.Revision = value is null ? null : answer.Json().GetProperty("revision").GetInt64();
            return;
        }

        if (IsAmbiguous(answer))
        {
            secret.Record(HistoryOutcome.Ambiguous, value, answer.Summary);
            secret.Known = false;
            return;
        }

        secret.Record(HistoryOutcome.Refused, value, answer.Summary);
        if (answer.Status is HttpStatusCode.Conflict or HttpStatusCode.PreconditionFailed or HttpStatusCode.NotFound)
        {
            // The secret is not as its only writer left it: only a write that may have been applied explains that.
            if (!secret.MayHaveMoved())
            {
                _violations.Enqueue($"{method} {secret.Name} was answered {answer.Summary}, although every earlier write of it was acknowledged or refused outright");
            }

            secret.Known = false;
        }
    }

    /// <summary>An update whose <c>If-Match</c> names a revision the client's own later write superseded: it must be refused (412).</summary>
    private async Task StaleUpdateAsync(SecretHistory secret, string value, long superseded)
    {
        var answer = await SendAsync(HttpMethod.Put, "v1/secrets/" + secret.Name, new { data = new Dictionary<string, string>(StringComparer.Ordinal) { ["value"] = value } }, superseded);
        if (answer.Status == HttpStatusCode.OK)
        {
            _violations.Enqueue($"PUT {secret.Name} with If-Match \"{superseded}\", a revision a later acknowledged write superseded, was applied (a lost update)");
            secret.Record(HistoryOutcome.Acknowledged, value, "200");
            secret.Superseded = secret.Revision;
            secret.Revision = answer.Json().GetProperty("revision").GetInt64();
        }
        else
        {
            secret.Record(IsAmbiguous(answer) ? HistoryOutcome.Ambiguous : HistoryOutcome.Refused, value, answer.Summary);
            secret.Known = !IsAmbiguous(answer);
        }
    }

    /// <summary>Lists every secret under <see cref="Prefix"/> page by page; returns the names, or null when a page was refused.</summary>
    private async Task<List<string>?> ListAsync()
    {
        var names = new List<string>();
        string? next = null;
        do
        {
            var query = $"v1/secrets?prefix={Uri.EscapeDataString(Prefix)}&limit={ListPageSize}" + (next is null ? "" : "&continue=" + Uri.EscapeDataString(next));
            var answer = await SendAsync(HttpMethod.Get, query);
            if (answer.Status != HttpStatusCode.OK)
            {
                return null;
            }

            var page = answer.Json();
            names.AddRange(page.GetProperty("items").EnumerateArray().Select(item => item.GetProperty("name").GetString()!));
            next = page.TryGetProperty("continue", out var token) && token.ValueKind == JsonValueKind.String ? token.GetString() : null;
        }
        while (next is not null);

        foreach (var twice in names.GroupBy(n => n, StringComparer.Ordinal).Where(g => g.Count() > 1))
        {
            _violations.Enqueue($"a listing named {twice.Key} {twice.Count()} times");
        }

        return names;
    }

    /// <summary>Sends one request, counts its answer, and checks that a failure is a documented problem and not a 500.</summary>
    private async Task<ApiAnswer> SendAsync(HttpMethod method, string path, object? body = null, long? ifMatch = null)
    {
        using var request = SoakRequest.Create(method, path, body, ifMatch);

        ApiAnswer answer;
        try
        {
            using var response = await api.SendAsync(request);
            answer = new ApiAnswer(response.StatusCode, response.Content.Headers.ContentType?.MediaType, await response.Content.ReadAsStringAsync());
            Interlocked.Increment(ref _answered);
        }
        catch (Exception e) when (e is HttpRequestException or IOException or TaskCanceledException)
        {
            answer = new ApiAnswer(null, null, e.Message);
        }

        var status = answer.Status is { } code ? ((int)code).ToString(CultureInfo.InvariantCulture) : "none";
        _statuses.AddOrUpdate($"{method} {status}{(answer.ProblemType is { } type ? " " + type : "")}", 1, (_, n) => n + 1);
        if (answer.Status is not { } answered || (int)answered >= 500)
        {
            _failures.AddOrUpdate($"{method} {answer.Summary}", 1, (_, n) => n + 1);
        }

        if (answer.Status == HttpStatusCode.ServiceUnavailable)
        {
            Interlocked.Increment(ref _unavailable);
        }

        if (Defect(answer) is { } defect)
        {
            _violations.Enqueue($"{method} {path} {defect}");
        }

        return answer;
    }

    /// <summary>What is wrong with a failure's answer: none at all, a 500, not a problem, or a type or status the reference does not list.</summary>
    private string? Defect(ApiAnswer answer)
    {
        if (answer.Status is not { } status)
        {
            return $"got no answer: {answer.Body}";
        }

        var code = (int)status;
        if (code < 400)
        {
            return null;
        }

        if (code >= 500 && code != 503)
        {
            return $"was answered {code}: {answer.Body}";
        }

        if (answer.MediaType != "application/problem+json" || answer.ProblemType is not { } type)
        {
            return $"was answered {code} with a body that is no problem details ({answer.MediaType}): {answer.Body}";
        }

        return documentedProblems.TryGetValue(type, out var statuses) && statuses.Contains(code)
            ? null
            : $"was answered {code} {type}, which docs/reference.md does not list: {answer.Body}";
    }
}
