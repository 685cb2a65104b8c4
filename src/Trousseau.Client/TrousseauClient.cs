using System.Globalization;
using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Runtime.CompilerServices;
using System.Text;
using System.Text.Json;
using System.Text.Json.Serialization.Metadata;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;
using Trousseau.Remote.Internal;

namespace Trousseau.Remote;

/// <summary>
/// <see cref="ITrousseau"/> and <see cref="IKeyAdministration"/> over the HTTP API of a trousseaud, raising the same
/// typed exceptions as the in-process library. Thread-safe; reuse one instance.
/// </summary>
public sealed class TrousseauClient : ITrousseau, IKeyAdministration
{
    internal const string Dependency = "trousseaud";
    private const string MergePatchMediaType = "application/merge-patch+json";

    /// <summary>
    /// The largest answer the client reads, in bytes: 16 MiB. trousseaud's largest answer, a secret of 1 MiB
    /// (<see cref="TrousseauLimits.MaxSecretDataBytes"/>) whose every byte is escaped in JSON, stays under 7 MiB; an
    /// answer running past this limit (a broken or hostile server, or another one at that address) fails the call as
    /// <see cref="DependencyUnavailableException"/> once this much has arrived, rather than growing without bound.
    /// </summary>
    public const int MaxAnswerBytes = 16 * 1024 * 1024;

    /// <summary>
    /// The header of trousseaud's answer to a <c>PATCH</c> that removes keys: the keys it was asked to remove that the
    /// secret did not hold, comma-separated (a merge patch removing an absent key changes nothing, so a mistyped key
    /// would otherwise go unnoticed). Absent when every key removed was there.
    /// </summary>
    public const string AbsentKeysHeader = "Trousseau-Absent-Keys";

    /// <summary>
    /// The wire contract as answers are read: a property the contract never leaves out (a name, a type, a date, the
    /// data) that is missing or null makes the answer not trousseaud's, so that a stranger's <c>{}</c> fails the call
    /// rather than turning into a secret with no name or revision 0.
    /// </summary>
    private static readonly WireJson Answers = new(new JsonSerializerOptions(WireJson.Default.Options)
    {
        RespectNullableAnnotations = true,
        RespectRequiredConstructorParameters = true,
    });

    private readonly HttpClient _http;
    private readonly Func<AuthenticationHeaderValue?> _authorization;
    private readonly TimeProvider _timeProvider;

    /// <summary>Creates a client.</summary>
    /// <param name="http">
    /// An <see cref="HttpClient"/> whose <see cref="HttpClient.BaseAddress"/> is the trousseaud URL; the caller
    /// owns it (for example from <c>IHttpClientFactory</c>).
    /// </param>
    /// <param name="token">The API bearer token, or <see langword="null"/> when the server needs none.</param>
    /// <exception cref="ArgumentException">
    /// The <see cref="HttpClient"/> has no <see cref="HttpClient.BaseAddress"/>; or a token is given for a plain
    /// <c>http://</c> address not on this machine, where it would cross the network in clear text (see
    /// <see cref="TrousseauClientOptions.AllowInsecureHttp"/>).
    /// </exception>
    public TrousseauClient(HttpClient http, string? token = null)
        : this(http, token, new TrousseauClientOptions())
    {
    }

    /// <summary>Creates a client with options.</summary>
    /// <param name="http">
    /// An <see cref="HttpClient"/> whose <see cref="HttpClient.BaseAddress"/> is the trousseaud URL; the caller
    /// owns it (for example from <c>IHttpClientFactory</c>).
    /// </param>
    /// <param name="token">The API bearer token, or <see langword="null"/> when the server needs none.</param>
    /// <param name="options">Whether the token may cross the network in clear text, and the clock.</param>
    /// <exception cref="ArgumentException">
    /// The <see cref="HttpClient"/> has no <see cref="HttpClient.BaseAddress"/>; or it is a plain <c>http://</c> address
    /// not on this machine, a token is given and <see cref="TrousseauClientOptions.AllowInsecureHttp"/> is not set.
    /// </exception>
    public TrousseauClient(HttpClient http, string? token, TrousseauClientOptions options)
        : this(http, !string.IsNullOrEmpty(token), Fixed(token), options)
    {
    }

    /// <summary>
    /// Creates the client that <c>AddTrousseauClient</c> registers, as <c>IHttpClientFactory</c> makes its typed
    /// clients: with the token and settings of its <see cref="TrousseauClientConnectionOptions"/>, and the clock of
    /// <paramref name="services"/> (a registered <see cref="TimeProvider"/>, else the system's).
    /// </summary>
    /// <param name="http">The <see cref="HttpClient"/> that <c>IHttpClientFactory</c> made for this client.</param>
    /// <param name="services">The application's services, where <c>AddTrousseauClient</c> registered the client.</param>
    /// <exception cref="InvalidOperationException">
    /// <c>AddTrousseauClient</c> was not called: <c>AddHttpClient&lt;TrousseauClient&gt;()</c> alone gives the client
    /// no token, and an <see cref="HttpClient"/> that follows redirects.
    /// </exception>
    /// <exception cref="Microsoft.Extensions.Options.OptionsValidationException">The options are not valid; the message names each key at fault.</exception>
    [ActivatorUtilitiesConstructor]
    public TrousseauClient(HttpClient http, IServiceProvider services)
        : this(http, Registered(services), services)
    {
    }

    private TrousseauClient(HttpClient http, ConnectionToken token, IServiceProvider services)
        : this(
            http,
            token.IsSet,
            () => token.Current is { Length: > 0 } current ? new AuthenticationHeaderValue("Bearer", current) : null,
            new TrousseauClientOptions
            {
                AllowInsecureHttp = services.GetRequiredService<IOptions<TrousseauClientConnectionOptions>>().Value.AllowInsecureHttp,
                TimeProvider = services.GetService<TimeProvider>() ?? TimeProvider.System,
            })
    {
    }

    private TrousseauClient(HttpClient http, bool hasToken, Func<AuthenticationHeaderValue?> authorization, TrousseauClientOptions options)
    {
        ArgumentNullException.ThrowIfNull(http);
        ArgumentNullException.ThrowIfNull(options);
        if (http.BaseAddress is not { } server)
        {
            throw new ArgumentException("The HttpClient needs a BaseAddress: the trousseaud URL.", nameof(http));
        }

        if (hasToken && !options.AllowInsecureHttp && server.Scheme == Uri.UriSchemeHttp && !server.IsLoopback)
        {
            throw new ArgumentException(
                $"The HttpClient's BaseAddress {server.AbsoluteUri} is plain HTTP to a server that is not on this machine: the API token would cross the network in clear text. "
                + $"Use an https:// address, or, on a network where clear text is acceptable, set {nameof(TrousseauClientOptions)}.{nameof(TrousseauClientOptions.AllowInsecureHttp)}.",
                nameof(http));
        }

        _http = http;
        _authorization = authorization;
        _timeProvider = options.TimeProvider ?? throw new ArgumentException($"{nameof(TrousseauClientOptions)}.{nameof(TrousseauClientOptions.TimeProvider)} is null; leave it unset for the system clock.", nameof(options));
    }

    /// <inheritdoc />
    public async ValueTask<EncryptResult> EncryptAsync(ReadOnlyMemory<byte> plaintext, ReadOnlyMemory<byte> context = default, CancellationToken cancellationToken = default)
    {
        var body = new EncryptBody(Convert.ToBase64String(plaintext.Span), context.IsEmpty ? null : Convert.ToBase64String(context.Span));
        return await SendAsync(HttpMethod.Post, "v1/encrypt", Content(body, WireJson.Default.EncryptBody), Answers.EncryptedBody, null, null,
            result => new EncryptResult(Convert.FromBase64String(result.Ciphertext), result.Provider, result.KeyId, result.KeyVersion),
            cancellationToken).ConfigureAwait(false);
    }

    /// <inheritdoc />
    public async ValueTask<byte[]> DecryptAsync(ReadOnlyMemory<byte> ciphertext, ReadOnlyMemory<byte> context = default, CancellationToken cancellationToken = default)
    {
        var body = new DecryptBody(Convert.ToBase64String(ciphertext.Span), context.IsEmpty ? null : Convert.ToBase64String(context.Span));
        return await SendAsync(HttpMethod.Post, "v1/decrypt", Content(body, WireJson.Default.DecryptBody), Answers.DecryptedBody, null, null,
            result => Convert.FromBase64String(result.Plaintext),
            cancellationToken).ConfigureAwait(false);
    }

    /// <inheritdoc />
    public async ValueTask<SecretMetadata> CreateSecretAsync(string name, SecretType type, IReadOnlyDictionary<string, string> data, CancellationToken cancellationToken = default)
    {
        SecretNames.Validate(name);
        ArgumentNullException.ThrowIfNull(data);
        SecretData.Validate(type, data);
        var body = new CreateSecretBody(name, type.Value, new Dictionary<string, string>(data, StringComparer.Ordinal));
        return await SendAsync(HttpMethod.Post, "v1/secrets", Content(body, WireJson.Default.CreateSecretBody), Answers.SecretMetadataBody, name, null,
            result => result.ToMetadata(),
            cancellationToken).ConfigureAwait(false);
    }

    /// <inheritdoc />
    public async ValueTask<Secret> GetSecretAsync(string name, CancellationToken cancellationToken = default)
    {
        SecretNames.Validate(name);
        return await SendAsync(HttpMethod.Get, SecretPath(name), null, Answers.SecretBody, name, null,
            result => result.Data.Values.Contains(null)
                ? throw new JsonException("A data value is null.")
                : new Secret(new SecretMetadata(result.Name, new SecretType(result.Type), result.Revision, result.CreatedAt, result.UpdatedAt), result.Data),
            cancellationToken).ConfigureAwait(false);
    }

    /// <inheritdoc />
    public async ValueTask<SecretMetadata> UpdateSecretAsync(
        string name,
        IReadOnlyDictionary<string, string> data,
        SecretType? type = null,
        long? expectedRevision = null,
        CancellationToken cancellationToken = default)
    {
        SecretNames.Validate(name);
        ArgumentNullException.ThrowIfNull(data);

        // Without a type the server keeps the stored one and checks its rules; keys and size are checked here.
        SecretData.Validate(type ?? SecretType.Opaque, data);
        var body = new UpdateSecretBody(type?.Value, new Dictionary<string, string>(data, StringComparer.Ordinal));
        return await SendAsync(HttpMethod.Put, SecretPath(name), Content(body, WireJson.Default.UpdateSecretBody), Answers.SecretMetadataBody, name, expectedRevision,
            result => result.ToMetadata(),
            cancellationToken).ConfigureAwait(false);
    }

    /// <inheritdoc />
    /// <remarks>
    /// Sends <c>PATCH /v1/secrets/{name}</c> with only the changes: the values kept are never read. The absent keys are
    /// those the answer's <see cref="AbsentKeysHeader"/> names among the keys this patch removes.
    /// </remarks>
    public async ValueTask<SecretPatchResult> PatchSecretAsync(
        string name,
        IReadOnlyDictionary<string, string?> changes,
        long? expectedRevision = null,
        CancellationToken cancellationToken = default)
    {
        SecretNames.Validate(name);
        ArgumentNullException.ThrowIfNull(changes);
        if (changes.Count == 0)
        {
            throw new InvalidInputException("data", "A patch needs at least one data key: a string value sets it, null removes it.");
        }

        foreach (var key in changes.Keys)
        {
            SecretData.ValidateKey(key);
        }

        var patch = new Dictionary<string, string?>(changes, StringComparer.Ordinal);
        var content = JsonContent.Create(new PatchSecretBody(patch), WireJson.Default.PatchSecretBody, new MediaTypeHeaderValue(MergePatchMediaType));
        return await SendAsync(HttpMethod.Patch, SecretPath(name), content, Answers.SecretMetadataBody, name, expectedRevision,
            (result, headers) => new SecretPatchResult(result.ToMetadata(), AbsentKeys(headers, patch)),
            cancellationToken).ConfigureAwait(false);
    }

    /// <summary>
    /// The keys <see cref="AbsentKeysHeader"/> names that <paramref name="changes"/> removes, in the order the header
    /// gives them: a name the patch did not remove is not the server's answer to it, and is left out.
    /// </summary>
    private static string[] AbsentKeys(HttpResponseHeaders headers, Dictionary<string, string?> changes) =>
        headers.TryGetValues(AbsentKeysHeader, out var values)
            ? [.. values
                .SelectMany(v => v.Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries))
                .Where(key => changes.TryGetValue(key, out var value) && value is null)
                .Distinct(StringComparer.Ordinal)]
            : [];

    /// <inheritdoc />
    public async ValueTask DeleteSecretAsync(string name, long? expectedRevision = null, CancellationToken cancellationToken = default)
    {
        SecretNames.Validate(name);
        using var response = await SendRawAsync(HttpMethod.Delete, SecretPath(name), null, name, expectedRevision, cancellationToken).ConfigureAwait(false);
    }

    /// <inheritdoc />
    /// <remarks>
    /// A page that would keep the listing going for ever (<see cref="ListingPages"/>) ends it, before that page's secrets
    /// are taken, with <see cref="DependencyUnavailableException"/>.
    /// </remarks>
    public async IAsyncEnumerable<SecretMetadata> ListSecretsAsync(string prefix = "", [EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        var pages = new ListingPages();
        string? continuationToken = null;
        for (var number = 1; ; number++)
        {
            var page = await ListSecretsPageAsync(prefix, continuationToken, TrousseauLimits.DefaultListPageSize, cancellationToken).ConfigureAwait(false);
            continuationToken = page.ContinuationToken;
            if (pages.WhyEndless(page) is { } gave)
            {
                throw new DependencyUnavailableException(
                    Dependency,
                    $"trousseaud at {_http.BaseAddress} answered page {number} of the listing of '{prefix}' with {gave}, which trousseaud never does: the listing would not end.");
            }

            foreach (var item in page.Items)
            {
                yield return item;
            }

            if (continuationToken is null)
            {
                yield break;
            }
        }
    }

    /// <inheritdoc />
    public async ValueTask<SecretPage> ListSecretsPageAsync(
        string prefix = "",
        string? continuationToken = null,
        int limit = TrousseauLimits.DefaultListPageSize,
        CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(prefix);
        var path = new StringBuilder("v1/secrets?limit=").Append(limit.ToString(CultureInfo.InvariantCulture));
        if (prefix.Length > 0)
        {
            path.Append("&prefix=").Append(Uri.EscapeDataString(prefix));
        }

        if (!string.IsNullOrEmpty(continuationToken))
        {
            path.Append("&continue=").Append(Uri.EscapeDataString(continuationToken));
        }

        return await SendAsync(HttpMethod.Get, path.ToString(), null, Answers.SecretListBody, null, null,
            result => new SecretPage([.. result.Items.Select(item => (item ?? throw new JsonException("A listed secret is null.")).ToMetadata())], result.Continue),
            cancellationToken).ConfigureAwait(false);
    }

    /// <inheritdoc />
    public async ValueTask<SecretMetadata> GenerateSecretAsync(string name, SecretGenerationOptions? options = null, CancellationToken cancellationToken = default)
    {
        SecretNames.Validate(name);
        options ??= new SecretGenerationOptions();
        var body = new GenerateSecretBody(
            options.Type.Value,
            options.Key,
            options.Length,
            options.Alphabet == SecretGenerationOptions.DefaultAlphabet ? null : options.Alphabet,
            options.Username,
            options.Endpoint);
        return await SendAsync(HttpMethod.Post, SecretPath(name) + "/generate", Content(body, WireJson.Default.GenerateSecretBody), Answers.SecretMetadataBody, name, null,
            result => result.ToMetadata(),
            cancellationToken).ConfigureAwait(false);
    }

    /// <inheritdoc />
    /// <remarks>Sends <c>POST /v1/secrets/{name}/regenerate</c>; the answer holds the metadata only, never the value.</remarks>
    public async ValueTask<SecretMetadata> RegenerateSecretAsync(
        string name,
        SecretRegenerationOptions? options = null,
        long? expectedRevision = null,
        CancellationToken cancellationToken = default)
    {
        SecretNames.Validate(name);
        options ??= new SecretRegenerationOptions();
        var body = new RegenerateSecretBody(
            options.Key,
            options.Length,
            options.Alphabet == SecretGenerationOptions.DefaultAlphabet ? null : options.Alphabet);
        return await SendAsync(HttpMethod.Post, SecretPath(name) + "/regenerate", Content(body, WireJson.Default.RegenerateSecretBody), Answers.SecretMetadataBody, name, expectedRevision,
            result => result.ToMetadata(),
            cancellationToken).ConfigureAwait(false);
    }

    /// <inheritdoc />
    public async ValueTask<KeyStatus> GetKeyStatusAsync(CancellationToken cancellationToken = default)
    {
        return await SendAsync(HttpMethod.Get, "v1/keys", null, Answers.KeyStatusBody, null, null,
            result => new KeyStatus(result.Provider, result.KeyId, result.Version),
            cancellationToken).ConfigureAwait(false);
    }

    /// <inheritdoc />
    public async ValueTask<KeyStatus> RotateKeyAsync(CancellationToken cancellationToken = default)
    {
        return await SendAsync(HttpMethod.Post, "v1/keys/rotate", EmptyJsonObject(), Answers.KeyStatusBody, null, null,
            result => new KeyStatus(result.Provider, result.KeyId, result.Version),
            cancellationToken).ConfigureAwait(false);
    }

    /// <inheritdoc />
    public async ValueTask<RewrapResult> RewrapSecretsAsync(CancellationToken cancellationToken = default)
    {
        return await SendAsync(HttpMethod.Post, "v1/keys/rewrap", EmptyJsonObject(), Answers.RewrapBody, null, null,
            result => new RewrapResult(result.Rewrapped, result.Skipped, result.Failed) { KeyId = result.KeyId },
            cancellationToken).ConfigureAwait(false);
    }

    /// <summary>Who the server takes this client for, and what its policies allow it (<c>GET /v1/auth/whoami</c>).</summary>
    /// <param name="cancellationToken">Cancels the call.</param>
    /// <returns>The caller's identity, its actions and the policies that name it.</returns>
    /// <exception cref="AccessForbiddenException">The server refused the token.</exception>
    /// <exception cref="DependencyUnavailableException">The server cannot be reached or cannot answer now.</exception>
    public async ValueTask<WhoAmIBody> WhoAmIAsync(CancellationToken cancellationToken = default) =>
        await SendAsync(HttpMethod.Get, "v1/auth/whoami", null, Answers.WhoAmIBody, null, null, cancellationToken).ConfigureAwait(false);

    /// <summary>The header sending <paramref name="token"/>, made once; none without a token.</summary>
    private static Func<AuthenticationHeaderValue?> Fixed(string? token)
    {
        var header = string.IsNullOrEmpty(token) ? null : new AuthenticationHeaderValue("Bearer", token);
        return () => header;
    }

    private static ConnectionToken Registered(IServiceProvider services)
    {
        ArgumentNullException.ThrowIfNull(services);
        return services.GetService<ConnectionToken>() ?? throw new InvalidOperationException(
            "TrousseauClient is registered with services.AddTrousseauClient(...), which gives it the server's address, its token and an HttpClient that follows no redirect; "
            + "AddHttpClient<TrousseauClient>() alone gives it none of them. Call AddTrousseauClient, and customise its HttpClient through the builder it returns.");
    }

    private static string SecretPath(string name) => "v1/secrets/" + string.Join('/', name.Split('/').Select(Uri.EscapeDataString));

    private static JsonContent Content<T>(T body, JsonTypeInfo<T> typeInfo) => JsonContent.Create(body, typeInfo);

    /// <summary><c>{}</c> as JSON, for a POST that takes no input: the API refuses a POST without a JSON content type.</summary>
    private static StringContent EmptyJsonObject() => new("{}", Encoding.UTF8, "application/json");

    private Task<T> SendAsync<T>(
        HttpMethod method,
        string path,
        HttpContent? content,
        JsonTypeInfo<T> responseType,
        string? name,
        long? expectedRevision,
        CancellationToken cancellationToken) =>
        SendAsync(method, path, content, responseType, name, expectedRevision, static answer => answer, cancellationToken);

    /// <summary>
    /// As <see cref="SendAsync{TAnswer, TResult}(HttpMethod, string, HttpContent?, JsonTypeInfo{TAnswer}, string?, long?, Func{TAnswer, HttpResponseHeaders, TResult}, CancellationToken)"/>,
    /// for an answer whose headers say nothing the caller returns.
    /// </summary>
    private Task<TResult> SendAsync<TAnswer, TResult>(
        HttpMethod method,
        string path,
        HttpContent? content,
        JsonTypeInfo<TAnswer> responseType,
        string? name,
        long? expectedRevision,
        Func<TAnswer, TResult> convert,
        CancellationToken cancellationToken) =>
        SendAsync(method, path, content, responseType, name, expectedRevision, (answer, _) => convert(answer), cancellationToken);

    /// <summary>
    /// Sends the request and reads its answer as <paramref name="responseType"/>, then turns it and the answer's headers
    /// into what the caller returns with <paramref name="convert"/>: an answer that is not trousseaud's (not JSON, a
    /// field missing, a type or base64 text no secret or key has) fails the call as
    /// <see cref="DependencyUnavailableException"/>, naming the server, rather than with whatever the conversion would
    /// throw.
    /// </summary>
    private async Task<TResult> SendAsync<TAnswer, TResult>(
        HttpMethod method,
        string path,
        HttpContent? content,
        JsonTypeInfo<TAnswer> responseType,
        string? name,
        long? expectedRevision,
        Func<TAnswer, HttpResponseHeaders, TResult> convert,
        CancellationToken cancellationToken)
    {
        using var response = await SendRawAsync(method, path, content, name, expectedRevision, cancellationToken).ConfigureAwait(false);
        try
        {
            var answer = await response.Content.ReadFromJsonAsync(responseType, cancellationToken).ConfigureAwait(false)
                ?? throw new DependencyUnavailableException(Dependency, $"trousseaud at {ServerOf(response.RequestMessage, path)} answered {method} {path} with an empty body.");
            return convert(answer, response.Headers);
        }
        catch (Exception ex) when (ex is JsonException or InvalidOperationException or ArgumentException or FormatException)
        {
            // InvalidOperationException: a charset in the Content-Type that .NET does not know. ArgumentException and
            // FormatException: a field no secret or key has (an empty type, base64 that is not).
            throw new DependencyUnavailableException(Dependency, $"trousseaud at {ServerOf(response.RequestMessage, path)} answered {method} {path} with a body that is not the expected JSON.", ex);
        }
    }

    private async Task<HttpResponseMessage> SendRawAsync(
        HttpMethod method,
        string path,
        HttpContent? content,
        string? name,
        long? expectedRevision,
        CancellationToken cancellationToken)
    {
        using var request = new HttpRequestMessage(method, new Uri(path, UriKind.Relative)) { Content = content };
        request.Headers.Authorization = _authorization();
        request.Headers.Accept.Add(new MediaTypeWithQualityHeaderValue("application/json"));
        if (expectedRevision is >= 1 and var revision)
        {
            request.Headers.IfMatch.Add(new EntityTagHeaderValue($"\"{revision}\""));
        }
        else if (expectedRevision is not null)
        {
            // No secret is ever at a revision below 1, and the API refuses one in If-Match as malformed. "Only if no
            // revision is current" gives what the in-process library answers: a mismatch, or not found.
            request.Headers.IfNoneMatch.Add(EntityTagHeaderValue.Any);
        }

        // HttpClient.Timeout bounds only the head of an answer read with ResponseHeadersRead; this deadline, started
        // with the request, bounds its body too, as the timeout does for a call that reads the whole answer.
        using var deadline = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        if (_http.Timeout != Timeout.InfiniteTimeSpan)
        {
            deadline.CancelAfter(_http.Timeout);
        }

        HttpResponseMessage response;
        try
        {
            response = await _http.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, cancellationToken).ConfigureAwait(false);
        }
        catch (HttpRequestException ex)
        {
            throw new DependencyUnavailableException(Dependency, $"Cannot reach trousseaud at {_http.BaseAddress}: {Describe(ex)}", ex);
        }
        catch (TaskCanceledException ex) when (!cancellationToken.IsCancellationRequested)
        {
            throw new DependencyUnavailableException(Dependency, NoAnswerInTime(ServerOf(request, path), method, path), ex);
        }

        try
        {
            await response.Content.LoadIntoBufferAsync(MaxAnswerBytes, deadline.Token).ConfigureAwait(false);
        }
        catch (Exception ex) when (deadline.IsCancellationRequested)
        {
            response.Dispose();
            cancellationToken.ThrowIfCancellationRequested();
            throw new DependencyUnavailableException(Dependency, NoAnswerInTime(ServerOf(request, path), method, path), ex);
        }
        catch (HttpRequestException ex) when (ex.HttpRequestError == HttpRequestError.ConfigurationLimitExceeded)
        {
            response.Dispose();
            throw new DependencyUnavailableException(
                Dependency,
                $"The answer of trousseaud at {ServerOf(request, path)} runs past {MaxAnswerBytes / (1024 * 1024)} MiB, more than trousseaud ever sends; "
                + "it was not read further: is this the address trousseaud serves its API on?",
                ex);
        }
        catch (Exception ex) when (ex is HttpRequestException or IOException || (ex is OperationCanceledException && !cancellationToken.IsCancellationRequested))
        {
            // The connection ended (or a handler's timeout ran out) before the whole answer had arrived.
            response.Dispose();
            throw new DependencyUnavailableException(
                Dependency,
                $"trousseaud at {ServerOf(request, path)} cut its answer to {method} {path} short: {ex.GetBaseException().Message}",
                ex);
        }

        if (response.IsSuccessStatusCode)
        {
            return response;
        }

        using (response)
        {
            throw await ToExceptionAsync(response, ServerOf(request, path), name, cancellationToken).ConfigureAwait(false);
        }
    }

    /// <summary>
    /// The server <paramref name="request"/> went to: its URI without <paramref name="path"/>, which is the base
    /// address unless a handler (a failover among servers) sent it elsewhere.
    /// </summary>
    private string ServerOf(HttpRequestMessage? request, string path) =>
        request?.RequestUri is { IsAbsoluteUri: true, AbsoluteUri: var sent } && sent.EndsWith(path, StringComparison.Ordinal)
            ? sent[..^path.Length]
            : _http.BaseAddress!.AbsoluteUri;

    /// <summary>The message of a call that <see cref="HttpClient.Timeout"/> ended, naming the server, the request and the timeout.</summary>
    private string NoAnswerInTime(string server, HttpMethod method, string path) =>
        $"trousseaud at {server} did not answer {method} {path} within {_http.Timeout.TotalSeconds.ToString("0.###", CultureInfo.InvariantCulture)} s (the HttpClient's Timeout).";

    /// <summary>The message of a 429 (from trousseaud or a proxy in front of it): a limit, not an error of the request.</summary>
    private static string RateLimited(string answered, string? explained, TimeSpan? retryAfter) =>
        (explained is null ? answered : $"{answered}: {explained.TrimEnd('.')}")
        + (retryAfter is { } wait ? RetryAfterWait.Asked(wait) + "." : "; try again later.");

    /// <summary>
    /// The message of a 5xx: what the server said, and for a 503 the wait its <c>Retry-After</c> asks for (trousseaud
    /// sends one with each), as clectl names it for each server of a list.
    /// </summary>
    private static string Unavailable(string answered, string? explained, HttpStatusCode status, TimeSpan? retryAfter) =>
        (status, retryAfter) switch
        {
            (HttpStatusCode.ServiceUnavailable, { } wait) => (explained is null ? answered : $"{answered}: {explained.TrimEnd('.')}") + RetryAfterWait.Asked(wait) + ".",
            _ => explained is null ? answered + "." : $"{answered}: {explained}",
        };

    /// <summary>
    /// Why a request could not be sent: for a failed TLS handshake, what the handshake said (for example why the
    /// server's certificate was refused) rather than "see inner exception".
    /// </summary>
    private static string Describe(HttpRequestException exception) =>
        exception.HttpRequestError == HttpRequestError.SecureConnectionError
            ? $"the TLS handshake failed: {exception.GetBaseException().Message}"
            : exception.Message;

    private async Task<Exception> ToExceptionAsync(HttpResponseMessage response, string server, string? name, CancellationToken cancellationToken)
    {
        ProblemBody? problem = null;
        try
        {
            problem = await response.Content.ReadFromJsonAsync(WireJson.Default.ProblemBody, cancellationToken).ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is JsonException or NotSupportedException or InvalidOperationException)
        {
            // Not problem details (a proxy's page, say): the status code alone decides.
        }

        var status = (int)response.StatusCode;
        var answered = $"trousseaud at {server} answered {status} {response.ReasonPhrase}";
        var explained = problem?.Detail ?? problem?.Title;
        var detail = explained ?? answered + ".";
        var retryAfter = RetryAfterWait.Of(response.Headers, _timeProvider);
        var secretName = name ?? "";
        return (problem?.Type, response.StatusCode) switch
        {
            (_, >= HttpStatusCode.MultipleChoices and < HttpStatusCode.BadRequest) => new InvalidInputException(
                "server",
                $"{answered}, a redirect to {response.Headers.Location?.ToString() ?? "no location"}, which is not followed: it would carry the request, "
                + "secret values included, to an address not given. Give the address trousseaud serves its API on."),
            (ProblemTypes.NotFound, _) when name is not null => new SecretNotFoundException(name),

            // A call about no secret (keys, encrypt, whoami) is not found only where no route serves it: an older server.
            (ProblemTypes.NotFound, _) => new DependencyUnavailableException(Dependency, explained is null ? answered + "." : $"{answered}: {explained}"),

            // trousseaud says "not found" with problem details; a bare 404 is another server's (a wrong address or path).
            (null, HttpStatusCode.NotFound) => new DependencyUnavailableException(
                Dependency, $"{answered} without trousseaud's problem details: is this the address trousseaud serves its API on?"),
            (ProblemTypes.AlreadyExists, _) or (null, HttpStatusCode.Conflict) => new SecretConflictException(secretName, SecretConflictReason.AlreadyExists),
            (ProblemTypes.RevisionMismatch, _) or (null, HttpStatusCode.PreconditionFailed) => new SecretConflictException(secretName, SecretConflictReason.RevisionMismatch),
            (ProblemTypes.TooLarge, _) => new SecretTooLargeException(problem?.Size ?? 0, detail),
            (ProblemTypes.InvalidCiphertext, _) => new InvalidCiphertextException(detail),
            (ProblemTypes.Unauthenticated or ProblemTypes.Forbidden or ProblemTypes.CrossSite, _) or (null, HttpStatusCode.Unauthorized or HttpStatusCode.Forbidden) => new AccessForbiddenException(detail),
            (_, HttpStatusCode.TooManyRequests) => new DependencyUnavailableException(Dependency, RateLimited(answered, explained, retryAfter), retryAfter),
            (_, >= HttpStatusCode.InternalServerError) => new DependencyUnavailableException(Dependency, Unavailable(answered, explained, response.StatusCode, retryAfter), retryAfter),
            _ => new InvalidInputException("request", detail),
        };
    }
}
