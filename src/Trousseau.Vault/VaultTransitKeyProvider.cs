using System.Buffers;
using System.Collections.Immutable;
using System.Globalization;
using System.Net;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using Microsoft.Extensions.Options;
using Trousseau.Vault.Internal;

namespace Trousseau.Vault;

/// <summary>
/// A key provider backed by a HashiCorp Vault Transit key: wrapping is Transit encrypt, unwrapping Transit decrypt,
/// rotation Transit rotate. The key id names the Transit key and its latest version, for example
/// <c>vault-5be1c0a2d4f3e6b7-v3</c>: the hex is a hash of the key's path in Vault (namespace, mount and name, with
/// the slashes around them dropped) and of the creation time Vault lists for that version. It never depends on how
/// Vault's address or the mount is written nor on which older versions Vault still lists, and a key deleted and
/// recreated does not repeat an id. Unwrapping trusts Vault, which authenticates its own ciphertext: a key id is
/// accepted when it has this form and names the version of the ciphertext (<c>vault:vN:</c>), as every key id this
/// provider ever issued does. Key facts are cached for 10 s; a wrap that reports a newer version, a rotation through
/// this provider and <see cref="RefreshCurrentKeyAsync"/> (key status, rewrap) read them from Vault at once. Of reads
/// that overlap, the answer to the one started last is kept, whichever arrives last: an answer given before a rotation
/// never replaces a newer one, and a key deleted and recreated in Vault shows with its version 1 at the next read.
/// A read that finds the key gone (Vault answers 404) tells <see cref="IKeyLossNotifier"/>'s registrations, and from
/// then on every call reads the key first and is refused with a <see cref="DependencyUnavailableException"/> naming
/// it until Vault has a key of that name again: no wrap makes Vault create an empty key on the spot. A read that finds
/// the key made again since the last read (its latest version went back, or a version was created at another time)
/// tells those registrations too, so that no data key the deleted key wrapped seals a new write.
/// </summary>
public sealed class VaultTransitKeyProvider : IKeyProvider, ITimeLimitedKeyProvider, IKeyLossNotifier, IDisposable
{
    /// <summary>The provider id written into envelopes.</summary>
    public const string ProviderName = "vault";

    private const string KeyIdPrefix = "vault-";
    private const int KeyIdHexLength = 16;
    private static readonly TimeSpan KeyCacheDuration = TimeSpan.FromSeconds(10);
    private static readonly SearchValues<char> LowerHexDigits = SearchValues.Create("0123456789abcdef");

    private readonly VaultHttp _http;
    private readonly VaultTokenSource _tokens;
    private readonly VaultOptions _options;
    private readonly TimeProvider _time;
    private readonly string _keyPath;
    private readonly string _identityPath;
    private static readonly TimeSpan HealthReuse = TimeSpan.FromSeconds(10);

    private KeyFacts? _facts;
    private long _factReads;
    private HealthAt? _healthy;

    // Counts what made Vault's health doubtful (a call that failed, the key found gone, an unhealthy answer): a healthy
    // answer is reused only while no such thing happened since its check began.
    private long _healthDoubts;
    private int _keyGone;
    private ImmutableArray<Action> _onKeyLost = [];
    private volatile bool _disposed;

    internal VaultTransitKeyProvider(VaultHttp http, VaultTokenSource tokens, IOptions<VaultOptions> options, TimeProvider time, string timeoutKey)
    {
        CallTimeLimitKey = timeoutKey;
        _http = http;
        _tokens = tokens;
        _options = options.Value;
        _time = time;
        _keyPath = $"v1/{_options.TransitMount.Trim('/')}";

        // The key's path as Vault resolves it: a namespace header and a mount prefix name the same place.
        var mountPath = $"{_options.Namespace}/{_options.TransitMount}".Split('/', StringSplitOptions.RemoveEmptyEntries);
        _identityPath = $"{string.Join('/', mountPath)}/keys/{_options.KeyName}";
    }

    /// <inheritdoc />
    public string Name => ProviderName;

    /// <inheritdoc />
    public TimeSpan CallTimeLimit => _options.Timeout;

    /// <inheritdoc />
    public string CallTimeLimitKey { get; }

    /// <inheritdoc />
    /// <remarks>Answered from key facts read at most 10 s ago; a rotation made in Vault directly may show only then.</remarks>
    public async ValueTask<KeyInfo> GetCurrentKeyAsync(CancellationToken cancellationToken = default) =>
        (await FactsAsync(cancellationToken).ConfigureAwait(false)).Current;

    /// <inheritdoc />
    /// <remarks>Reads the Transit key from Vault now, whatever is cached, and caches what Vault answered.</remarks>
    public async ValueTask<KeyInfo> RefreshCurrentKeyAsync(CancellationToken cancellationToken = default) =>
        (await ReadFactsAsync(cancellationToken).ConfigureAwait(false)).Current;

    /// <inheritdoc />
    public async ValueTask<WrappedKey> WrapAsync(ReadOnlyMemory<byte> plaintext, CancellationToken cancellationToken = default)
    {
        var answer = await SealAsync(
            token => _http.SendAsync(HttpMethod.Post, $"{_keyPath}/encrypt/{_options.KeyName}", new TransitEncrypt(Convert.ToBase64String(plaintext.Span)), VaultJson.Default.TransitEncrypt, VaultJson.Default.TransitCiphertextResponse, token, cancellationToken, repeatable: true),
            cancellationToken).ConfigureAwait(false);
        var ciphertext = answer.Value?.Data?.Ciphertext ?? throw Malformed("encrypt");
        var version = ParseVersion(ciphertext) ?? throw Malformed("encrypt");
        var facts = await FactsAsync(cancellationToken, refreshBelow: version).ConfigureAwait(false);
        return new WrappedKey(KeyId(facts.Created, version), version, Encoding.ASCII.GetBytes(ciphertext));
    }

    /// <inheritdoc />
    public async ValueTask<byte[]> UnwrapAsync(WrappedKey wrapped, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(wrapped);
        var ciphertext = Encoding.ASCII.GetString(wrapped.Ciphertext.Span);
        if (ParseVersion(ciphertext) is not { } version)
        {
            throw new InvalidCiphertextException("The wrapped key is not Vault Transit ciphertext (vault:vN:...).");
        }

        // Vault authenticates the ciphertext and the version in its prefix: the key id only has to agree with them.
        if (version != wrapped.KeyVersion || !NamesVersion(wrapped.KeyId, version))
        {
            throw new InvalidCiphertextException($"The key id '{Printable(wrapped.KeyId)}' (version {wrapped.KeyVersion}) is not a Vault Transit key id for version {version}, the version that made this ciphertext.");
        }

        await ThrowIfKeyGoneAsync(cancellationToken).ConfigureAwait(false);
        var answer = await CallAsync(
            token => _http.SendAsync(HttpMethod.Post, $"{_keyPath}/decrypt/{_options.KeyName}", new TransitDecrypt(ciphertext), VaultJson.Default.TransitDecrypt, VaultJson.Default.TransitPlaintextResponse, token, cancellationToken, badRequest: static errors => new InvalidCiphertextException($"Vault Transit refused the wrapped key: {errors}"), repeatable: true),
            cancellationToken).ConfigureAwait(false);

        return FromBase64(answer.Value?.Data?.Plaintext, "decrypt");
    }

    /// <summary>
    /// Wraps many values in one Transit call (<c>batch_input</c>). Vault reports errors per item, so one bad item
    /// does not fail the others.
    /// </summary>
    /// <param name="plaintexts">The values to wrap.</param>
    /// <param name="cancellationToken">Cancels the call.</param>
    /// <returns>One result per input, in order: the wrapped value, or Vault's error for that item; none, without a call, for no input.</returns>
    public async Task<IReadOnlyList<VaultBatchResult<WrappedKey>>> WrapBatchAsync(IReadOnlyList<ReadOnlyMemory<byte>> plaintexts, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(plaintexts);
        if (plaintexts.Count == 0)
        {
            // Vault refuses an empty batch_input (400 "missing batch input to process"): nothing to wrap, no call.
            return [];
        }

        var items = plaintexts.Select(p => new TransitBatchItem(Plaintext: Convert.ToBase64String(p.Span))).ToList();
        var results = await BatchAsync("encrypt", items, plaintexts.Count, cancellationToken).ConfigureAwait(false);
        var facts = await FactsAsync(cancellationToken, refreshBelow: results.Select(r => r.Ciphertext is null ? 0 : ParseVersion(r.Ciphertext) ?? 0).DefaultIfEmpty(0u).Max()).ConfigureAwait(false);
        return results.Select(r => r.Error is { } error || r.Ciphertext is null || ParseVersion(r.Ciphertext) is not { } version
            ? new VaultBatchResult<WrappedKey>(default, r.Error ?? "Vault returned no ciphertext for this item")
            : new VaultBatchResult<WrappedKey>(new WrappedKey(KeyId(facts.Created, version), version, Encoding.ASCII.GetBytes(r.Ciphertext)), null)).ToList();
    }

    /// <summary>Unwraps many values in one Transit call, with Vault's errors per item (a tampered item fails alone).</summary>
    /// <param name="wrapped">Values <see cref="WrapAsync"/> or <see cref="WrapBatchAsync"/> returned.</param>
    /// <param name="cancellationToken">Cancels the call.</param>
    /// <returns>One result per input, in order: the plaintext, or the reason it could not be unwrapped; none, without a call, for no input.</returns>
    public async Task<IReadOnlyList<VaultBatchResult<byte[]>>> UnwrapBatchAsync(IReadOnlyList<WrappedKey> wrapped, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(wrapped);
        if (wrapped.Count == 0)
        {
            return [];
        }

        var items = wrapped.Select(w => new TransitBatchItem(Ciphertext: Encoding.ASCII.GetString(w.Ciphertext.Span))).ToList();
        var results = await BatchAsync("decrypt", items, wrapped.Count, cancellationToken).ConfigureAwait(false);
        return results.Select(r => r.Error is null && r.Plaintext is not null
            ? new VaultBatchResult<byte[]>(FromBase64(r.Plaintext, "decrypt (batch)"), null)
            : new VaultBatchResult<byte[]>(null, r.Error ?? "Vault returned no plaintext for this item")).ToList();
    }

    /// <summary>
    /// Re-encrypts a wrapped value under the key's latest version inside Vault (Transit rewrap): the plaintext
    /// never leaves Vault.
    /// </summary>
    /// <param name="wrapped">A value wrapped under any still-decryptable version.</param>
    /// <param name="cancellationToken">Cancels the call.</param>
    /// <returns>The same value wrapped under the latest version.</returns>
    public async Task<WrappedKey> RewrapAsync(WrappedKey wrapped, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(wrapped);
        var answer = await SealAsync(
            token => _http.SendAsync(HttpMethod.Post, $"{_keyPath}/rewrap/{_options.KeyName}", new TransitDecrypt(Encoding.ASCII.GetString(wrapped.Ciphertext.Span)), VaultJson.Default.TransitDecrypt, VaultJson.Default.TransitCiphertextResponse, token, cancellationToken, badRequest: static errors => new InvalidCiphertextException($"Vault Transit refused to rewrap the value: {errors}"), repeatable: true),
            cancellationToken).ConfigureAwait(false);

        var ciphertext = answer.Value?.Data?.Ciphertext ?? throw Malformed("rewrap");
        var version = ParseVersion(ciphertext) ?? throw Malformed("rewrap");
        var facts = await FactsAsync(cancellationToken, refreshBelow: version).ConfigureAwait(false);
        return new WrappedKey(KeyId(facts.Created, version), version, Encoding.ASCII.GetBytes(ciphertext));
    }

    /// <summary>Has Vault generate a 256-bit data key (Transit datakey/plaintext): the key and its wrapped form.</summary>
    /// <param name="cancellationToken">Cancels the call.</param>
    /// <returns>The plaintext key (the caller zeroes it after use) and the key wrapped under the latest version.</returns>
    public async Task<(byte[] Plaintext, WrappedKey Wrapped)> GenerateDataKeyAsync(CancellationToken cancellationToken = default)
    {
        var answer = await SealAsync(
            token => _http.SendAsync(HttpMethod.Post, $"{_keyPath}/datakey/plaintext/{_options.KeyName}", new TransitDataKeyRequest(256), VaultJson.Default.TransitDataKeyRequest, VaultJson.Default.TransitDataKeyResponse, token, cancellationToken, repeatable: true),
            cancellationToken).ConfigureAwait(false);
        var data = answer.Value?.Data ?? throw Malformed("datakey");
        var version = ParseVersion(data.Ciphertext) ?? throw Malformed("datakey");
        var facts = await FactsAsync(cancellationToken, refreshBelow: version).ConfigureAwait(false);
        return (FromBase64(data.Plaintext, "datakey"), new WrappedKey(KeyId(facts.Created, version), version, Encoding.ASCII.GetBytes(data.Ciphertext)));
    }

    /// <inheritdoc />
    public async ValueTask<KeyInfo> RotateAsync(CancellationToken cancellationToken = default)
    {
        await ThrowIfKeyGoneAsync(cancellationToken).ConfigureAwait(false);
        await CallAsync(
            token => _http.SendAsync<object, object>(HttpMethod.Post, $"{_keyPath}/keys/{_options.KeyName}/rotate", null, null, null, token, cancellationToken, repeatable: false),
            cancellationToken).ConfigureAwait(false);
        return await RefreshCurrentKeyAsync(cancellationToken).ConfigureAwait(false);
    }

    /// <summary>
    /// The provider's health: a healthy answer less than 10 s old (the background monitor refreshes it every 5 s)
    /// is reused while the key it names is still the current key as cached (a wrap that reported a newer version has
    /// the key read again, and the next check names that version); otherwise Vault is asked now. An unhealthy answer
    /// is never reused, so recovery shows at once.
    /// </summary>
    /// <param name="cancellationToken">Cancels the call.</param>
    /// <returns>The provider's health.</returns>
    public async ValueTask<DependencyHealth> CheckHealthAsync(CancellationToken cancellationToken = default)
    {
        cancellationToken.ThrowIfCancellationRequested();
        ThrowIfDisposed();
        if (Volatile.Read(ref _healthy) is { } healthy
            && healthy.Doubts == Interlocked.Read(ref _healthDoubts)
            && _time.GetElapsedTime(healthy.At) < HealthReuse
            && healthy.Key == Volatile.Read(ref _facts)?.Current)
        {
            return healthy.Health;
        }

        return await RefreshHealthAsync(cancellationToken).ConfigureAwait(false);
    }

    /// <summary>
    /// Asks Vault for its health now and remembers a healthy answer, for reuse only while nothing made the health
    /// doubtful since this check began: checks overlap (the monitor's, KMS Status), and a healthy answer Vault gave
    /// before it sealed may arrive after a call, or a later check, found it sealed.
    /// </summary>
    internal async ValueTask<DependencyHealth> RefreshHealthAsync(CancellationToken cancellationToken)
    {
        var doubts = Interlocked.Read(ref _healthDoubts);
        var (health, key) = await CheckHealthNowAsync(cancellationToken).ConfigureAwait(false);
        if (health.IsHealthy)
        {
            Volatile.Write(ref _healthy, new HealthAt(health, _time.GetTimestamp(), key, doubts));
        }
        else
        {
            DoubtHealth();
        }

        return health;
    }

    /// <summary>Stops reusing any healthy answer, those of checks still under way included.</summary>
    private void DoubtHealth()
    {
        Interlocked.Increment(ref _healthDoubts);
        Volatile.Write(ref _healthy, null);
    }

    /// <summary>Vault's health and, when healthy, the current key that the answer names.</summary>
    private async ValueTask<(DependencyHealth Health, KeyInfo? Key)> CheckHealthNowAsync(CancellationToken cancellationToken)
    {
        try
        {
            // Sent once: sys/health's 5xx (sealed, not initialized) are its answer, not a failure to retry.
            var answer = await _http.SendAsync<object, HealthResponse>(HttpMethod.Get, "v1/sys/health", null, null, VaultJson.Default.HealthResponse, null, cancellationToken, isAnswer: _ => true, repeatable: false).ConfigureAwait(false);
            var state = (int)answer.Status switch
            {
                200 => null,
                429 or 473 => null,
                501 => "Vault is not initialized",
                503 => "Vault is sealed",
                472 => "Vault is a disaster-recovery secondary",
                var other => $"Vault health answered {other}",
            };
            if (state is not null)
            {
                return (DependencyHealth.Unhealthy(state), null);
            }

            var key = await GetCurrentKeyAsync(cancellationToken).ConfigureAwait(false);
            return (DependencyHealth.Healthy($"Vault Transit key {_options.KeyName}, current key {key.KeyId}"), key);
        }
        catch (TrousseauException e)
        {
            return (DependencyHealth.Unhealthy(e.Message), null);
        }
    }

    private async Task<IReadOnlyList<TransitBatchResult>> BatchAsync(string operation, List<TransitBatchItem> items, int count, CancellationToken cancellationToken)
    {
        // Vault answers a batch in which an item failed with every item's result: 400 when an item's input was refused,
        // else 500 when an item failed inside Vault, as a ciphertext its RSA key does not decrypt does.
        var decrypts = operation == "decrypt";
        var path = $"{_keyPath}/{operation}/{_options.KeyName}";
        var answer = await SealAsync(
            token => _http.SendAsync(HttpMethod.Post, path, new TransitBatchRequest(items), VaultJson.Default.TransitBatchRequest, VaultJson.Default.TransitBatchResponse, token, cancellationToken, isAnswer: status => status == HttpStatusCode.BadRequest || (decrypts && status == HttpStatusCode.InternalServerError), repeatable: true),
            cancellationToken).ConfigureAwait(false);

        var results = answer.Value?.Data?.BatchResults;
        if (answer.Status == HttpStatusCode.InternalServerError && results?.Any(r => r.Error is { } error && VaultHttp.RefusesCiphertext(error)) != true)
        {
            throw new DependencyUnavailableException(VaultHttp.Dependency, $"Vault answered 500 to {path}: {string.Join("; ", answer.Value?.Errors ?? [VaultHttp.NoDetail])}");
        }

        if (results is null || results.Count != count)
        {
            throw Malformed(operation + " (batch)");
        }

        return results;
    }

    /// <summary>The key's latest version and each listed version's creation time, read at most every 10 s.</summary>
    private async ValueTask<KeyFacts> FactsAsync(CancellationToken cancellationToken, uint refreshBelow = 0)
    {
        cancellationToken.ThrowIfCancellationRequested();
        ThrowIfDisposed();
        var cached = Volatile.Read(ref _facts);
        if (cached is not null && cached.Current.Version >= refreshBelow && _time.GetElapsedTime(cached.At) < KeyCacheDuration && Volatile.Read(ref _keyGone) == 0)
        {
            return cached;
        }

        return await ReadFactsAsync(cancellationToken).ConfigureAwait(false);
    }

    /// <summary>
    /// Reads the key's facts from Vault now and caches them, unless a read started after this one has already cached
    /// its answer; returns the newer of the two.
    /// </summary>
    private async Task<KeyFacts> ReadFactsAsync(CancellationToken cancellationToken)
    {
        var read = Interlocked.Increment(ref _factReads);
        var answer = await CallAsync(
            token => _http.SendAsync<object, TransitKeyResponse>(HttpMethod.Get, $"{_keyPath}/keys/{_options.KeyName}", null, null, VaultJson.Default.TransitKeyResponse, token, cancellationToken, isAnswer: static status => status == HttpStatusCode.NotFound, repeatable: true),
            cancellationToken).ConfigureAwait(false);
        if (answer.Status == HttpStatusCode.NotFound)
        {
            throw KeyGone();
        }

        Volatile.Write(ref _keyGone, 0);
        var key = answer.Value?.Data ?? throw Malformed("keys");
        if (Unusable(key) is { } problem)
        {
            throw new DependencyUnavailableException(VaultHttp.Dependency, problem);
        }

        var created = new Dictionary<uint, string>();
        foreach (var (name, entry) in key.Keys ?? [])
        {
            if (uint.TryParse(name, NumberStyles.None, CultureInfo.InvariantCulture, out var version))
            {
                created[version] = CreationTime(entry);
            }
        }

        var previous = Volatile.Read(ref _facts);
        var facts = new KeyFacts(new KeyInfo(KeyId(created, key.LatestVersion), key.LatestVersion), created, _time.GetTimestamp(), read);
        var remembered = Remember(facts);
        if (ReferenceEquals(remembered, facts) && previous is not null && Recreated(previous, facts))
        {
            // The key was deleted and made again between two reads, without a read finding it gone: what the deleted
            // key wrapped (the current data keys too) can no longer be unwrapped, so none of it may seal a new write.
            TellKeyLost();
        }

        return remembered;
    }

    /// <summary>
    /// Whether <paramref name="later"/> describes another key than <paramref name="earlier"/> under the same name: its
    /// latest version went back, or a version both list was created at another time.
    /// </summary>
    private static bool Recreated(KeyFacts earlier, KeyFacts later) =>
        later.Current.Version < earlier.Current.Version
        || later.Created.Any(v => earlier.Created.TryGetValue(v.Key, out var before) && before != v.Value);

    /// <summary>
    /// Why Trousseau cannot wrap with <paramref name="key"/>, or null when it can: Transit encrypt and decrypt without a
    /// context need a key type that encrypts (Vault's <c>supports_encryption</c> and <c>supports_decryption</c>) and a
    /// key that is not derived. Vault would refuse each call otherwise; this says so at the key read that readiness
    /// and KMS Status make, naming the key and its type.
    /// </summary>
    private string? Unusable(TransitKey key)
    {
        var type = key.Type ?? "(unknown)";
        var refusal = key switch
        {
            { SupportsEncryption: false } or { SupportsDecryption: false } => "a type Transit cannot encrypt and decrypt with",
            { Derived: true } => "derived (convergent or not): Vault refuses every encrypt and decrypt without a per-call context, which Trousseau never sends",
            _ => null,
        };
        return refusal is null
            ? null
            : $"Vault Transit key '{_options.KeyName}' at mount '{_options.TransitMount.Trim('/')}' is of type {type}, {refusal}. Trousseau needs a key that is not derived, of type aes256-gcm96 (what vault write -f {_options.TransitMount.Trim('/')}/keys/NAME creates), aes128-gcm96, chacha20-poly1305 or rsa-2048, rsa-3072 or rsa-4096: set Trousseau:Vault:KeyName to one.";
    }

    /// <summary>
    /// Caches <paramref name="facts"/> unless the cache holds the answer to a read started later, and returns what the
    /// cache holds then. Reads overlap (a check, a wrap, key status): an answer that Vault gave before a rotation may
    /// arrive after the answer to a read started since. Which read started last decides, not which version is higher,
    /// since a key deleted and recreated in Vault legitimately goes back to version 1.
    /// </summary>
    private KeyFacts Remember(KeyFacts facts)
    {
        var cached = Volatile.Read(ref _facts);
        while (cached is null || cached.Read < facts.Read)
        {
            var seen = Interlocked.CompareExchange(ref _facts, facts, cached);
            if (ReferenceEquals(seen, cached))
            {
                return facts;
            }

            cached = seen;
        }

        return cached;
    }

    /// <summary>
    /// Runs a call with the current token; when Vault refuses the token (401, 403) drops it, logs in again and retries
    /// once. Refused again with a token Vault has just issued, the refusal stands: Vault's policy forbids Trousseau
    /// the call (<see cref="AccessForbiddenException"/>), which an operator must grant. Calls that token meets refused
    /// within a backoff after that (<see cref="VaultTokenSource.DeniedAfterLoginAsync"/>) are forbidden without a login,
    /// unless Vault no longer knows that token (revoked, expired): then the next call logs in again.
    /// </summary>
    private async Task<T> CallAsync<T>(Func<string, Task<T>> call, CancellationToken cancellationToken)
    {
        try
        {
            return await CallWithTokenAsync(call, cancellationToken).ConfigureAwait(false);
        }
        catch (DependencyUnavailableException)
        {
            // Vault just failed us: readiness and KMS Status must not keep saying healthy.
            DoubtHealth();
            throw;
        }
    }

    private async Task<T> CallWithTokenAsync<T>(Func<string, Task<T>> call, CancellationToken cancellationToken)
    {
        ThrowIfDisposed();
        var token = await _tokens.GetTokenAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            return await call(token).ConfigureAwait(false);
        }
        catch (AccessForbiddenException refused)
        {
            if (!await _tokens.RejectAsync(token, cancellationToken).ConfigureAwait(false))
            {
                throw PolicyDenies(refused);
            }

            var fresh = await _tokens.GetTokenAsync(cancellationToken).ConfigureAwait(false);
            try
            {
                return await call(fresh).ConfigureAwait(false);
            }
            catch (AccessForbiddenException again)
            {
                await _tokens.DeniedAfterLoginAsync(fresh, cancellationToken).ConfigureAwait(false);
                throw PolicyDenies(again);
            }
        }
    }

    private AccessForbiddenException PolicyDenies(AccessForbiddenException refusal) =>
        new($"Vault refused Trousseau's token the Transit key '{_options.KeyName}' at mount '{_options.TransitMount.Trim('/')}', even after logging in again: its policy denies the call, or the key does not exist (for a key that is missing, Vault answers an encrypt 403 under a policy that may update the key but not create it). {refusal.Message}", refusal);

    /// <summary>
    /// Marks the provider disposed, as the service provider (host) that made it does when it stops: every later call
    /// throws <see cref="ObjectDisposedException"/>, and none is answered from what the provider remembers.
    /// </summary>
    public void Dispose() => _disposed = true;

    private void ThrowIfDisposed()
    {
        if (_disposed)
        {
            throw Disposed();
        }
    }

    private ObjectDisposedException Disposed() => new(
        $"The Vault key provider ({_options.Address}, Transit key '{_options.KeyName}') has been disposed: the service provider (host) that made it has stopped.",
        innerException: null);

    /// <inheritdoc />
    public IDisposable OnKeyLost(Action onKeyLost)
    {
        ArgumentNullException.ThrowIfNull(onKeyLost);
        ImmutableInterlocked.Update(ref _onKeyLost, static (list, added) => list.Add(added), onKeyLost);
        return new KeyLossRegistration(this, onKeyLost);
    }

    /// <summary>
    /// Runs a call that may encrypt under the key (encrypt, datakey, rewrap, a batch). Once a read has found the key gone, the key
    /// is read first, so that Vault, for a token that may create the key, does not create an empty one on the spot. A
    /// 403 has the key read: a key Vault no longer has is refused as missing, not as a policy that denies.
    /// </summary>
    private async Task<T> SealAsync<T>(Func<string, Task<T>> call, CancellationToken cancellationToken)
    {
        await ThrowIfKeyGoneAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            return await CallAsync(call, cancellationToken).ConfigureAwait(false);
        }
        catch (AccessForbiddenException)
        {
            await ReadFactsAsync(cancellationToken).ConfigureAwait(false);
            throw;
        }
    }

    /// <summary>Once the key was found gone, reads it again: refused while Vault still has no key of that name.</summary>
    private async ValueTask ThrowIfKeyGoneAsync(CancellationToken cancellationToken)
    {
        if (Volatile.Read(ref _keyGone) != 0)
        {
            await ReadFactsAsync(cancellationToken).ConfigureAwait(false);
        }
    }

    /// <summary>
    /// Remembers that Vault no longer has the key, forgets its facts and its health, tells the registrations the first
    /// time, and returns the refusal that names the key.
    /// </summary>
    private DependencyUnavailableException KeyGone()
    {
        DoubtHealth();
        if (Interlocked.Exchange(ref _keyGone, 1) == 0)
        {
            TellKeyLost();
        }

        var mount = _options.TransitMount.Trim('/');
        return new DependencyUnavailableException(
            VaultHttp.Dependency,
            $"Vault Transit key '{_options.KeyName}' at mount '{mount}' does not exist: Vault answered 404 to reading it (deleted, never created, or the mount is gone). Trousseau wraps nothing under that name until Vault has the key again; what the deleted key wrapped cannot be unwrapped, not even by a new key of the same name.");
    }

    /// <summary>Tells every <see cref="OnKeyLost"/> registration that what the key wrapped can no longer be unwrapped.</summary>
    private void TellKeyLost()
    {
        foreach (var onKeyLost in _onKeyLost)
        {
            onKeyLost();
        }
    }

    /// <summary>
    /// <c>vault-</c>, 16 hex digits of SHA-256 over the key's path and the version's creation time (empty when Vault
    /// lists none, as for versions it archived), <c>-v</c> and the version.
    /// </summary>
    private string KeyId(IReadOnlyDictionary<uint, string> creationTimes, uint version)
    {
        var created = creationTimes.GetValueOrDefault(version, "");
        var hash = SHA256.HashData(Encoding.UTF8.GetBytes($"{_identityPath}@{created}"));
        return string.Create(CultureInfo.InvariantCulture, $"{KeyIdPrefix}{Convert.ToHexStringLower(hash)[..KeyIdHexLength]}-v{version}");
    }

    /// <summary>Whether <paramref name="keyId"/> has the form of every key id this provider issued, for <paramref name="version"/>.</summary>
    private static bool NamesVersion(string keyId, uint version)
    {
        var suffix = string.Create(CultureInfo.InvariantCulture, $"-v{version}");
        return keyId.Length == KeyIdPrefix.Length + KeyIdHexLength + suffix.Length
            && keyId.StartsWith(KeyIdPrefix, StringComparison.Ordinal)
            && keyId.EndsWith(suffix, StringComparison.Ordinal)
            && !keyId.AsSpan(KeyIdPrefix.Length, KeyIdHexLength).ContainsAnyExcept(LowerHexDigits);
    }

    /// <summary>A version's creation time as Vault lists it: seconds for symmetric keys, <c>creation_time</c> for asymmetric ones.</summary>
    private static string CreationTime(JsonElement entry) => entry.ValueKind switch
    {
        JsonValueKind.Object => entry.TryGetProperty("creation_time", out var time) ? time.GetRawText() : "",
        _ => entry.GetRawText(),
    };

    /// <summary>The N of <c>vault:vN:...</c>.</summary>
    private static uint? ParseVersion(string ciphertext)
    {
        if (!ciphertext.StartsWith("vault:v", StringComparison.Ordinal))
        {
            return null;
        }

        var end = ciphertext.IndexOf(':', 7);
        return end > 7 && uint.TryParse(ciphertext.AsSpan(7, end - 7), NumberStyles.None, CultureInfo.InvariantCulture, out var version) && version > 0 ? version : null;
    }

    /// <summary>Vault's base64 plaintext, decoded; anything else is an answer its API does not document.</summary>
    private static byte[] FromBase64(string? base64, string operation)
    {
        try
        {
            return Convert.FromBase64String(base64 ?? throw Malformed(operation));
        }
        catch (FormatException)
        {
            throw Malformed(operation);
        }
    }

    private static DependencyUnavailableException Malformed(string operation) =>
        new(VaultHttp.Dependency, $"Vault's answer to Transit {operation} is not what its API documents.");

    /// <summary>
    /// What the read-key answer said: the current key, and each listed version's creation time; when it arrived, and
    /// the read's place in the order reads were started.
    /// </summary>
    private sealed record KeyFacts(KeyInfo Current, IReadOnlyDictionary<uint, string> Created, long At, long Read);

    /// <summary>One <see cref="OnKeyLost"/> registration, removed when disposed.</summary>
    private sealed class KeyLossRegistration(VaultTransitKeyProvider provider, Action onKeyLost) : IDisposable
    {
        public void Dispose() =>
            ImmutableInterlocked.Update(ref provider._onKeyLost, static (list, removed) => list.Remove(removed), onKeyLost);
    }

    /// <summary>A healthy answer, when it was given, the cached current key it named, and the doubts counted when its check began.</summary>
    private sealed record HealthAt(DependencyHealth Health, long At, KeyInfo? Key, long Doubts);

    private static string Printable(string keyId) =>
        Excerpt.IsPrintable(keyId, 80) ? keyId : "(unprintable)";
}
