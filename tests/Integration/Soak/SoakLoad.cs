using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Security.Cryptography;
using Trousseau.Remote;
using Trousseau.Tests.Integration.Infrastructure;

namespace Trousseau.Tests.Integration.Soak;

/// <summary>
/// Steady mixed load on trousseaud, every answer checked: writers create secrets and update them with
/// <c>If-Match</c> (each secret has one writer, which keeps its <see cref="SecretHistory"/>: a write refused without
/// saying it may or may not have been applied must not be found applied), readers read acknowledged secrets back,
/// and kube-apiserver-like peers call KMS v2 Encrypt and Decrypt. At the end,
/// <see cref="VerifyAsync"/> reads every stored secret and decrypts every KMS ciphertext ever returned.
/// </summary>
internal sealed class SoakLoad(SoakSystem system, IReadOnlyList<KmsPeer> peers, SoakTimeline timeline, SoakFigures figures, int seed)
{
    private const int Writers = 3;
    private const int NamesPerWriter = 100;
    private const int Readers = 2;
    private const string Prefix = "soak/";
    private const string KmsEncrypt = "/v2.KeyManagementService/Encrypt";
    private const string KmsDecrypt = "/v2.KeyManagementService/Decrypt";
    private const string InvalidCiphertext = "urn:trousseau:problem:invalid-ciphertext";

    /// <summary>Each worker makes at most one call per tick.</summary>
    private static readonly TimeSpan Pace = TimeSpan.FromMilliseconds(50);

    /// <summary>Longer than kube-apiserver's 3 s, so that slow answers are measured rather than cut off.</summary>
    private static readonly TimeSpan KmsTimeout = TimeSpan.FromSeconds(10);

    /// <summary>How long the final check retries one listing, secret or ciphertext that the service says is unavailable.</summary>
    private static readonly TimeSpan VerifyPatience = TimeSpan.FromSeconds(60);

    private static readonly string Padding = Convert.ToBase64String(RandomNumberGenerator.GetBytes(192));

    private readonly List<SecretHistory> _entries = [];
    private readonly List<KmsRecord> _ciphertexts = [];
    private int _ciphertextsVerified;

    /// <summary>Secrets checked by <see cref="VerifyAsync"/>.</summary>
    public int SecretsVerified { get; private set; }

    /// <summary>KMS ciphertexts decrypted by <see cref="VerifyAsync"/>.</summary>
    public int CiphertextsVerified => Volatile.Read(ref _ciphertextsVerified);

    /// <summary>
    /// Why <see cref="VerifyAsync"/> stopped before it had checked everything: what it waited for in vain, or the
    /// request that timed out; null when it finished.
    /// </summary>
    public string? FinalCheckTimeout { get; private set; }

    /// <summary>Runs every worker until <paramref name="stop"/>, then returns once their last calls are answered.</summary>
    public Task RunAsync(CancellationToken stop) => Task.WhenAll(
    [
        .. Enumerable.Range(0, Writers).Select(w => Task.Run(() => WriteAsync(w, new Random(seed + w), stop), CancellationToken.None)),
        .. Enumerable.Range(0, Readers).Select(r => Task.Run(() => ReadAsync(new Random(seed + 100 + r), stop), CancellationToken.None)),
        .. peers.Select((peer, i) => Task.Run(() => KmsAsync(peer, new Random(seed + 200 + i), stop), CancellationToken.None)),
    ]);

    /// <summary>
    /// Once the load has stopped and trousseaud is ready: every stored secret reads back with its last acknowledged
    /// value (or a later attempted one), and every KMS ciphertext decrypts to its plaintext. A wait that runs out
    /// (readiness, a listing, secret or ciphertext still unavailable after a minute, a request without an answer)
    /// stops the check and is kept in <see cref="FinalCheckTimeout"/>, so that the summary still reports it.
    /// </summary>
    public async Task VerifyAsync()
    {
        try
        {
            await VerifyEverythingAsync();
        }
        catch (Exception e) when (e is Xunit.Sdk.XunitException or OperationCanceledException)
        {
            FinalCheckTimeout = e.Message;
        }
    }

    private async Task VerifyEverythingAsync()
    {
        await system.Server.WaitForReadinessAsync(HttpStatusCode.OK);
        using var http = new HttpClient { BaseAddress = system.Server.BaseAddress, Timeout = TimeSpan.FromSeconds(30) };
        var client = new TrousseauClient(http, system.ApiToken);
        var stored = await PatientlyAsync(
            async () =>
            {
                var names = new HashSet<string>(StringComparer.Ordinal);
                await foreach (var item in client.ListSecretsAsync(Prefix))
                {
                    names.Add(item.Name);
                }

                return names;
            },
            $"the secrets under {Prefix} to be listed (final check)");

        List<SecretHistory> entries;
        lock (_entries)
        {
            entries = [.. _entries];
        }

        foreach (var entry in entries)
        {
            await VerifySecretAsync(client, entry, stored.Contains(entry.Name));
        }

        foreach (var stray in stored.Except(entries.Select(e => e.Name)))
        {
            figures.UnexpectedAnswer("a stored secret no writer created", stray);
        }

        List<KmsRecord> records;
        lock (_ciphertexts)
        {
            records = [.. _ciphertexts];
        }

        await Task.WhenAll(peers.Select((peer, i) => VerifyCiphertextsAsync(peer, records.Where((_, r) => r % peers.Count == i).ToList())));
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

    private static string SecretPath(string name) => "v1/secrets/" + name;

    /// <summary>
    /// Retries <paramref name="call"/> while trousseaud says a dependency is unavailable; after a minute the test
    /// fails naming <paramref name="awaited"/> and the last refusal. Any other exception is thrown at once.
    /// </summary>
    private static Task<T> PatientlyAsync<T>(Func<Task<T>> call, string awaited) =>
        Eventually.ReturnsAsync(call, _ => true, VerifyPatience, awaited, transient: e => e is DependencyUnavailableException);

    private async Task WriteAsync(int writer, Random random, CancellationToken stop)
    {
        var owned = new List<SecretHistory>();
        var sequence = 0L;
        using var pace = new PeriodicTimer(Pace);
        while (await NextAsync(pace, stop))
        {
            SecretHistory entry;
            if (owned.Count < NamesPerWriter && (owned.Count == 0 || random.Next(4) == 0))
            {
                entry = new SecretHistory(string.Create(CultureInfo.InvariantCulture, $"{Prefix}w{writer}/s{owned.Count:D3}"));
                owned.Add(entry);
                lock (_entries)
                {
                    _entries.Add(entry);
                }
            }
            else
            {
                entry = owned[random.Next(owned.Count)];
            }

            if (!entry.Known)
            {
                await ResyncAsync(entry);
            }
            else
            {
                await WriteOnceAsync(entry, ++sequence);
            }
        }
    }

    /// <summary>Creates the secret, or updates it with <c>If-Match</c> on the revision its writer last saw.</summary>
    private async Task WriteOnceAsync(SecretHistory entry, long sequence)
    {
        var value = entry.Value(sequence);
        var data = new Dictionary<string, string>(StringComparer.Ordinal) { ["value"] = value, ["padding"] = Padding };
        var started = Stopwatch.GetTimestamp();
        entry.Record(HistoryOutcome.Sending, value, "sent");
        var answer = entry.Revision is { } revision
            ? await SendAsync(HttpMethod.Put, SecretPath(entry.Name), new { data }, revision)
            : await SendAsync(HttpMethod.Post, "v1/secrets", new { name = entry.Name, type = "opaque", data });
        switch (answer.Status)
        {
            case HttpStatusCode.Created or HttpStatusCode.OK:
                entry.Record(HistoryOutcome.Acknowledged, value, answer.Summary);
                entry.Revision = answer.Json().GetProperty("revision").GetInt64();
                if (answer.Status == HttpStatusCode.Created)
                {
                    figures.Created();
                }
                else
                {
                    figures.Updated();
                }

                timeline.Succeeded(SoakOperation.SecretWrite, started);
                return;
            case HttpStatusCode.Conflict or HttpStatusCode.PreconditionFailed:
                // A rewrap moved the record, or a write whose answer was lost did land: read, then write again.
                entry.Record(HistoryOutcome.Refused, value, answer.Summary);
                figures.Conflicted();
                break;
            case HttpStatusCode.NotFound:
                entry.Record(HistoryOutcome.Refused, value, answer.Summary);
                figures.Lost.Add(entry.Name, $"{entry.Name}: an update answered 404 after its writer had seen it stored at revision {entry.Revision}");
                break;
            default:
                var ambiguous = SecretHistory.MayHaveApplied(answer.Status, answer.ProblemType, answer.Detail);
                entry.Record(ambiguous ? HistoryOutcome.Ambiguous : HistoryOutcome.Refused, value, answer.Summary);
                Failed(answer, entry.Revision is null ? "POST" : "PUT", figures.WriteFailed);
                break;
        }

        entry.Known = false;
    }

    /// <summary>
    /// After a lost or refused answer: reads the secret to learn what landed and its revision, which must be what it
    /// held or a write that may have been applied, never one refused outright.
    /// </summary>
    private async Task ResyncAsync(SecretHistory entry)
    {
        var started = Stopwatch.GetTimestamp();
        var answer = await SendAsync(HttpMethod.Get, SecretPath(entry.Name));
        if (answer.Status == HttpStatusCode.NotFound)
        {
            if (entry.Check(null) is { } problem)
            {
                figures.Lost.Add(entry.Name, problem);
            }

            // The create did not land (or the secret is gone): create it again.
            entry.Record(HistoryOutcome.Observed, null, "404");
            entry.Revision = null;
            entry.Known = true;
            return;
        }

        if (Found(entry, answer, started) is { } found)
        {
            CheckFound(entry, found, entry.Check(found.Value), entry.Revision, "");
            entry.Record(HistoryOutcome.Observed, found.Value, "200");
            entry.Revision = found.Revision;
            entry.Known = true;
        }
    }

    private async Task ReadAsync(Random random, CancellationToken stop)
    {
        using var pace = new PeriodicTimer(Pace);
        while (await NextAsync(pace, stop))
        {
            SecretHistory entry;
            lock (_entries)
            {
                if (_entries.Count == 0)
                {
                    continue;
                }

                entry = _entries[random.Next(_entries.Count)];
            }

            // The writer goes on meanwhile: the read may find what the secret held here, or any write sent since.
            var mark = entry.Mark();
            if (entry.Check(null, mark) is null)
            {
                continue;
            }

            var started = Stopwatch.GetTimestamp();
            var answer = await SendAsync(HttpMethod.Get, SecretPath(entry.Name));
            if (answer.Status == HttpStatusCode.NotFound)
            {
                if (entry.Check(null, mark) is { } problem)
                {
                    figures.Lost.Add(entry.Name, problem);
                }

                continue;
            }

            if (Found(entry, answer, started) is { } found)
            {
                CheckFound(entry, found, entry.Check(found.Value, mark), null, "");
            }
        }
    }

    /// <summary>The value and revision a read found, or null (counted) when it was refused or did not decrypt.</summary>
    private (string? Value, long Revision)? Found(SecretHistory entry, ApiAnswer answer, long started)
    {
        if (answer.Status == HttpStatusCode.OK)
        {
            var secret = answer.Json();
            figures.Read();
            timeline.Succeeded(SoakOperation.SecretRead, started);
            return (secret.GetProperty("data").GetProperty("value").GetString(), secret.GetProperty("revision").GetInt64());
        }

        if (answer.Status == HttpStatusCode.BadRequest && answer.ProblemType == InvalidCiphertext)
        {
            figures.Undecryptable.Add(entry.Name, $"{entry.Name}: {answer.Detail}");
        }
        else
        {
            Failed(answer, "GET", figures.ReadFailed);
        }

        return null;
    }

    /// <summary>
    /// Counts what is wrong with a value found (<paramref name="problem"/>, from its history), or with its revision:
    /// lower than <paramref name="seen"/>, the revision its writer last saw stored.
    /// </summary>
    private void CheckFound(SecretHistory entry, (string? Value, long Revision) found, string? problem, long? seen, string when)
    {
        if (problem is not null)
        {
            figures.Lost.Add(entry.Name, problem + when);
        }
        else if (found.Revision < seen)
        {
            figures.Lost.Add(entry.Name, $"{entry.Name} read back revision {found.Revision} after its writer saw revision {seen}{when}");
        }
    }

    /// <summary>A refusal the faults explain (503, no answer) is counted; anything else is an unexpected answer.</summary>
    private void Failed(ApiAnswer answer, string method, Action count)
    {
        if (answer.Status is null or HttpStatusCode.ServiceUnavailable)
        {
            count();
            timeline.Failed();
        }
        else
        {
            figures.UnexpectedAnswer($"{method} /v1/secrets answered {(int)answer.Status} {answer.ProblemType}", answer.Detail);
        }
    }

    private async Task<ApiAnswer> SendAsync(HttpMethod method, string path, object? body = null, long? ifMatch = null)
    {
        using var request = SoakRequest.Create(method, path, body, ifMatch);

        try
        {
            using var response = await system.Api.SendAsync(request);
            return new ApiAnswer(response.StatusCode, response.Content.Headers.ContentType?.MediaType, await response.Content.ReadAsStringAsync());
        }
        catch (Exception e) when (e is HttpRequestException or IOException)
        {
            return new ApiAnswer(null, null, e.Message);
        }
        catch (TaskCanceledException)
        {
            return new ApiAnswer(null, null, "no answer in time");
        }
    }

    private async Task KmsAsync(KmsPeer peer, Random random, CancellationToken stop)
    {
        using var pace = new PeriodicTimer(Pace);
        var encrypt = true;
        while (await NextAsync(pace, stop))
        {
            KmsRecord? record = null;
            if (!encrypt)
            {
                lock (_ciphertexts)
                {
                    record = _ciphertexts.Count == 0 ? null : _ciphertexts[random.Next(_ciphertexts.Count)];
                }
            }

            if (record is null)
            {
                await EncryptAsync(peer);
            }
            else
            {
                await DecryptAsync(peer, record, countAnswer: true);
            }

            encrypt = !encrypt;
        }
    }

    private async Task EncryptAsync(KmsPeer peer)
    {
        var plaintext = Convert.ToBase64String(RandomNumberGenerator.GetBytes(32));
        var started = Stopwatch.GetTimestamp();
        var answer = await peer.CallAsync(KmsEncrypt, new { plaintext }, KmsTimeout.TotalSeconds);
        var code = answer.GetProperty("code").GetString()!;
        figures.KmsAnswered(code, Stopwatch.GetElapsedTime(started));
        if (code == "OK")
        {
            var response = answer.GetProperty("response");
            lock (_ciphertexts)
            {
                _ciphertexts.Add(new KmsRecord(plaintext, response.GetProperty("ciphertext").GetString()!, response.GetProperty("key_id").GetString()!));
            }

            timeline.Succeeded(SoakOperation.KmsEncrypt, started);
        }
        else
        {
            timeline.Failed();
            if (code != "UNAVAILABLE")
            {
                figures.UnexpectedAnswer($"KMS Encrypt answered {code}", answer.GetProperty("details").GetString() ?? "");
            }
        }
    }

    /// <summary>Decrypts one ciphertext and checks the plaintext; returns the gRPC code.</summary>
    private async Task<string> DecryptAsync(KmsPeer peer, KmsRecord record, bool countAnswer)
    {
        var started = Stopwatch.GetTimestamp();
        var answer = await peer.CallAsync(KmsDecrypt, new { ciphertext = record.Ciphertext, key_id = record.KeyId }, KmsTimeout.TotalSeconds);
        var code = answer.GetProperty("code").GetString()!;
        if (countAnswer)
        {
            figures.KmsAnswered(code, Stopwatch.GetElapsedTime(started));
        }

        switch (code)
        {
            case "OK" when answer.GetProperty("response").GetProperty("plaintext").GetString() == record.Plaintext:
                timeline.Succeeded(SoakOperation.KmsDecrypt, started);
                break;
            case "OK":
                figures.Undecryptable.Add(record.Ciphertext, $"a KMS ciphertext under {record.KeyId} decrypted to other bytes");
                break;
            case "INVALID_ARGUMENT":
                figures.Undecryptable.Add(record.Ciphertext, $"a KMS ciphertext under {record.KeyId}: {answer.GetProperty("details").GetString()}");
                break;
            case "UNAVAILABLE":
                timeline.Failed();
                break;
            default:
                timeline.Failed();
                figures.UnexpectedAnswer($"KMS Decrypt answered {code}", answer.GetProperty("details").GetString() ?? "");
                break;
        }

        return code;
    }

    private async Task VerifySecretAsync(TrousseauClient client, SecretHistory entry, bool listed)
    {
        if (!listed)
        {
            if (entry.Check(null) is { } problem)
            {
                figures.Lost.Add(entry.Name, problem + " (not listed at the end)");
            }

            return;
        }

        try
        {
            var secret = await PatientlyAsync(async () => await client.GetSecretAsync(entry.Name), $"{entry.Name} to be read back (final check)");
            var value = secret.Data.GetValueOrDefault("value");
            CheckFound(entry, (value, secret.Revision), entry.Check(value), entry.Revision, " (final read)");
            SecretsVerified++;
        }
        catch (SecretNotFoundException)
        {
            figures.Lost.Add(entry.Name, $"{entry.Name}: listed but not found at the end");
        }
        catch (InvalidCiphertextException e)
        {
            figures.Undecryptable.Add(entry.Name, $"{entry.Name}: {e.Message} (final read)");
        }
    }

    private async Task VerifyCiphertextsAsync(KmsPeer peer, List<KmsRecord> records)
    {
        foreach (var record in records)
        {
            await Eventually.ReturnsAsync(
                () => DecryptAsync(peer, record, countAnswer: false),
                code => code != "UNAVAILABLE",
                VerifyPatience,
                awaited: $"a KMS ciphertext under {record.KeyId} to be answered other than UNAVAILABLE (final check)");
            Interlocked.Increment(ref _ciphertextsVerified);
        }
    }

    /// <summary>A KMS v2 Encrypt's input and answer (base64, as the peer gives them).</summary>
    private sealed record KmsRecord(string Plaintext, string Ciphertext, string KeyId);
}
