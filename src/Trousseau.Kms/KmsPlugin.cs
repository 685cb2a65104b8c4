using System.Reflection;
using System.Security.Cryptography;
using System.Text;
using Google.Protobuf;
using Grpc.Core;
using Microsoft.Extensions.Options;

namespace Trousseau.Kms;

/// <summary>
/// The KMS v2 and v1 services over one key provider: kube-apiserver's DEKs (or, in v2, its key seeds) are wrapped
/// and unwrapped by the provider's key-encryption key. Every rule kube-apiserver checks is enforced here; a broken
/// rule ends the call with INVALID_ARGUMENT, and the provider's typed errors reach the caller through
/// <see cref="Internal.KmsCallInterceptor"/>.
/// </summary>
/// <remarks>
/// The plugin unwraps only what it wrapped: it wraps the KMS purpose label followed by kube-apiserver's key, and
/// Decrypt hands back a key only from behind that label. The provider's own authentication binds the label, so the
/// wrapped data key of a Trousseau envelope (a stored record, an encrypt result, a Data Protection key), which the
/// same provider wraps behind another label, is refused and never returned. A ciphertext from before the label
/// (formats 1 and 2) is unwrapped while <see cref="KmsOptions.AcceptLegacyCiphertext"/> allows it, unless what it
/// holds carries any Trousseau label.
/// </remarks>
internal sealed class KmsPlugin(IKeyProvider provider, IOptions<KmsOptions> options, TimeProvider time)
{
    public const int MaxKeyIdBytes = 1024;
    public const int MaxCiphertextBytes = 1024;
    public const int MaxPlaintextBytes = 512;
    public const int MaxAnnotationBytes = 32 * 1024;
    public const string V1Version = "v1beta1";
    public const string RuntimeName = "trousseau";

    private readonly KmsOptions _options = options.Value;
    private readonly Lock _statusLock = new();
    private long? _healthyAt;

    // Guarded by _statusLock: how many answers found the provider unhealthy, so that a healthy answer whose check began
    // before one of them (Status calls overlap: kube-apiserver's poll, the gRPC health probe) is not reused.
    private long _unhealthyAnswers;
    private string? _lastKeyId;

    /// <summary>
    /// Status: the provider's health, reused for <see cref="KmsOptions.StatusCacheDuration"/> while healthy (an
    /// unhealthy answer is never reused, so recovery shows at the next poll), and its current key id as the provider
    /// knows it: a rotation through this process shows at once, one made elsewhere once the provider's memory is
    /// refreshed (Vault: within 10 s; the local key ring: at the worker's next tick).
    /// </summary>
    /// <remarks>
    /// While the provider cannot tell its current key, Status answers the key id it last reported: kube-apiserver takes
    /// any other key id for a rotation and, its new data key refused, stops writing after a few minutes, where under an
    /// unchanged one it keeps writing with the data key it holds. Only a plugin whose provider never answered has
    /// no key id to give, and answers <c>unavailable</c>.
    /// </remarks>
    public async ValueTask<V2.StatusResponse> StatusAsync(CancellationToken cancellationToken)
    {
        try
        {
            var healthy = await IsHealthyAsync(cancellationToken).ConfigureAwait(false);
            var key = await WithinTimeout(provider.GetCurrentKeyAsync, cancellationToken).ConfigureAwait(false);
            Volatile.Write(ref _lastKeyId, key.KeyId);
            return new V2.StatusResponse { Version = "v2", Healthz = healthy ?? "ok", KeyId = key.KeyId };
        }
        catch (DependencyUnavailableException e)
        {
            lock (_statusLock)
            {
                _healthyAt = null;
                _unhealthyAnswers++;
            }

            return new V2.StatusResponse { Version = "v2", Healthz = e.Message, KeyId = Volatile.Read(ref _lastKeyId) ?? "unavailable" };
        }
    }

    /// <summary>
    /// Null when healthy, else the provider's description of what is wrong. A healthy answer is kept for reuse only
    /// when no answer found the provider unhealthy while its check ran.
    /// </summary>
    private async ValueTask<string?> IsHealthyAsync(CancellationToken cancellationToken)
    {
        long unhealthyBefore;
        lock (_statusLock)
        {
            if (_healthyAt is { } at && time.GetElapsedTime(at) < _options.StatusCacheDuration)
            {
                return null;
            }

            unhealthyBefore = _unhealthyAnswers;
        }

        var health = await WithinTimeout(provider.CheckHealthAsync, cancellationToken).ConfigureAwait(false);
        lock (_statusLock)
        {
            if (!health.IsHealthy)
            {
                _healthyAt = null;
                _unhealthyAnswers++;
            }
            else if (_unhealthyAnswers == unhealthyBefore)
            {
                _healthyAt = time.GetTimestamp();
            }
        }

        return health.IsHealthy ? null : health.Description;
    }

    public async ValueTask<V2.EncryptResponse> EncryptAsync(V2.EncryptRequest request, CancellationToken cancellationToken)
    {
        CheckPlaintext(request.Plaintext);
        var wrapped = await WrapAsync(request.Plaintext, cancellationToken).ConfigureAwait(false);
        var ciphertext = KmsCiphertext.ForV2(wrapped);
        CheckOutput(ciphertext, wrapped.KeyId);

        return new V2.EncryptResponse { Ciphertext = ByteString.CopyFrom(ciphertext), KeyId = wrapped.KeyId };
    }

    public async ValueTask<V2.DecryptResponse> DecryptAsync(V2.DecryptRequest request, CancellationToken cancellationToken)
    {
        if (request.Ciphertext.IsEmpty)
        {
            throw Invalid("ciphertext is empty.");
        }

        var keyIdBytes = Encoding.UTF8.GetByteCount(request.KeyId);
        if (keyIdBytes is 0 or > MaxKeyIdBytes)
        {
            throw Invalid($"key_id must be 1 to {MaxKeyIdBytes} bytes, not {keyIdBytes}.");
        }

        CheckAnnotations(request.Annotations);
        var plaintext = await UnwrapAsync(KmsCiphertext.ParseV2(request.Ciphertext.Span, request.KeyId), cancellationToken).ConfigureAwait(false);
        return new V2.DecryptResponse { Plaintext = UnsafeByteOperations.UnsafeWrap(plaintext) };
    }

    public static V1Beta1.VersionResponse Version(V1Beta1.VersionRequest request)
    {
        CheckV1Version(request.Version);
        return new V1Beta1.VersionResponse { Version = V1Version, RuntimeName = RuntimeName, RuntimeVersion = RuntimeVersion };
    }

    public async ValueTask<V1Beta1.EncryptResponse> EncryptAsync(V1Beta1.EncryptRequest request, CancellationToken cancellationToken)
    {
        CheckV1Version(request.Version);
        CheckPlaintext(request.Plain);
        var wrapped = await WrapAsync(request.Plain, cancellationToken).ConfigureAwait(false);
        return new V1Beta1.EncryptResponse { Cipher = ByteString.CopyFrom(KmsCiphertext.ForV1(wrapped)) };
    }

    public async ValueTask<V1Beta1.DecryptResponse> DecryptAsync(V1Beta1.DecryptRequest request, CancellationToken cancellationToken)
    {
        CheckV1Version(request.Version);
        if (request.Cipher.IsEmpty)
        {
            throw Invalid("cipher is empty.");
        }

        var plaintext = await UnwrapAsync(KmsCiphertext.ParseV1(request.Cipher.Span), cancellationToken).ConfigureAwait(false);
        return new V1Beta1.DecryptResponse { Plain = UnsafeByteOperations.UnsafeWrap(plaintext) };
    }

    /// <summary>The assembly's version as semver (major.minor.patch).</summary>
    private static string RuntimeVersion { get; } =
        typeof(KmsPlugin).Assembly.GetCustomAttribute<AssemblyInformationalVersionAttribute>()?.InformationalVersion.Split('+')[0] ?? "0.0.0";

    /// <summary>Wraps the KMS purpose label followed by <paramref name="plaintext"/>.</summary>
    private async ValueTask<WrappedKey> WrapAsync(ByteString plaintext, CancellationToken cancellationToken)
    {
        var labelled = WrapPurpose.Label(WrapPurpose.Kms, plaintext.Span);
        try
        {
            return await WithinTimeout(bounded => provider.WrapAsync(labelled, bounded), cancellationToken).ConfigureAwait(false);
        }
        finally
        {
            CryptographicOperations.ZeroMemory(labelled);
        }
    }

    /// <summary>
    /// The key behind the KMS purpose label; or, from a ciphertext written before the label, the bare key, when legacy
    /// ciphertexts are accepted and the key holds no Trousseau label. Anything else is refused without its contents.
    /// </summary>
    private async ValueTask<byte[]> UnwrapAsync(KmsWrapped wrapped, CancellationToken cancellationToken)
    {
        if (!wrapped.Labelled && !_options.AcceptLegacyCiphertext)
        {
            throw new InvalidCiphertextException(
                "The ciphertext was not wrapped by this KMS plugin: it has no KMS purpose label (the format written before it), and Trousseau:Kms:AcceptLegacyCiphertext is false.");
        }

        var unwrapped = await WithinTimeout(bounded => provider.UnwrapAsync(wrapped.Key, bounded), cancellationToken).ConfigureAwait(false);
        if (wrapped.Labelled)
        {
            return WrapPurpose.Unlabel(WrapPurpose.Kms, unwrapped) ?? throw NotWrappedHere();
        }

        if (unwrapped.AsSpan().StartsWith(WrapPurpose.LabelPrefix))
        {
            CryptographicOperations.ZeroMemory(unwrapped);
            throw NotWrappedHere();
        }

        return unwrapped;
    }

    private static InvalidCiphertextException NotWrappedHere() =>
        new("The ciphertext was not wrapped by this KMS plugin: the key provider wrapped it for another purpose (a Trousseau data key, not a key kube-apiserver gave the plugin).");

    /// <summary>
    /// A provider call, given <see cref="KmsOptions.ProviderTimeout"/> to finish: a provider too slow for it is as good
    /// as down, so the call ends UNAVAILABLE inside kube-apiserver's own deadline, and the provider's call is cancelled
    /// (the end of a KMS call does not cancel the token gRPC gave it, so a call left running would run on unbounded).
    /// A provider answering from memory (the local ring, a warm cache) has completed already, and is passed through
    /// without a timer or a state machine.
    /// </summary>
    private ValueTask<T> WithinTimeout<T>(Func<CancellationToken, ValueTask<T>> call, CancellationToken cancellationToken)
    {
        var bounded = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        ValueTask<T> pending;
        try
        {
            pending = call(bounded.Token);
        }
        catch
        {
            bounded.Dispose();
            throw;
        }

        if (pending.IsCompletedSuccessfully)
        {
            bounded.Dispose();
            return pending;
        }

        return WaitAsync(pending, bounded, cancellationToken);
    }

    private async ValueTask<T> WaitAsync<T>(ValueTask<T> pending, CancellationTokenSource bounded, CancellationToken cancellationToken)
    {
        try
        {
            return await pending.AsTask().WaitAsync(_options.ProviderTimeout, time, cancellationToken).ConfigureAwait(false);
        }
        catch (TimeoutException e)
        {
            await bounded.CancelAsync().ConfigureAwait(false);
            throw new DependencyUnavailableException(
                $"key-provider:{provider.Name}",
                $"The key provider '{provider.Name}' did not answer within {_options.ProviderTimeout.TotalSeconds:0.###} s.",
                e);
        }
        finally
        {
            bounded.Dispose();
        }
    }

    private static RpcException Invalid(string message) => new(new Status(StatusCode.InvalidArgument, message));

    private static void CheckPlaintext(ByteString plaintext)
    {
        if (plaintext.IsEmpty || plaintext.Length > MaxPlaintextBytes)
        {
            throw Invalid($"plaintext must be 1 to {MaxPlaintextBytes} bytes, not {plaintext.Length}.");
        }
    }

    private static void CheckOutput(byte[] ciphertext, string keyId)
    {
        if (ciphertext.Length > MaxCiphertextBytes || keyId.Length == 0 || Encoding.UTF8.GetByteCount(keyId) > MaxKeyIdBytes)
        {
            throw new RpcException(new Status(StatusCode.Internal, "The key provider's output does not fit KMS v2's limits (ciphertext and key_id at most 1024 bytes)."));
        }
    }

    private static void CheckV1Version(string version)
    {
        if (version.Length != 0 && version != V1Version)
        {
            var shown = Excerpt.IsPrintable(version, 64) ? $"'{version}'" : $"({version.Length} characters)";
            throw Invalid($"Unsupported KMS API version {shown}; this service speaks {V1Version}.");
        }
    }

    private static void CheckAnnotations(Google.Protobuf.Collections.MapField<string, ByteString> annotations)
    {
        var total = 0;
        foreach (var (key, value) in annotations)
        {
            if (!IsFullyQualifiedDomainName(key))
            {
                throw Invalid("Annotation keys must be fully qualified domain names.");
            }

            total += Encoding.UTF8.GetByteCount(key) + value.Length;
        }

        if (total > MaxAnnotationBytes)
        {
            throw Invalid($"Annotations total {total} bytes; the limit is {MaxAnnotationBytes}.");
        }
    }

    /// <summary>
    /// A fully qualified domain name as kube-apiserver checks annotation keys: a DNS subdomain (RFC 1123) of two labels
    /// or more, each of a-z, 0-9 and '-', at most 253 characters, optionally followed by one dot (the root), which
    /// kube-apiserver allows and keeps in the key.
    /// </summary>
    private static bool IsFullyQualifiedDomainName(string key)
    {
        var name = key.EndsWith('.') ? key[..^1] : key;
        if (name.Length is 0 or > 253 || !name.Contains('.', StringComparison.Ordinal))
        {
            return false;
        }

        foreach (var label in name.Split('.'))
        {
            if (label.Length is 0 or > 63 || label[0] == '-' || label[^1] == '-' || !label.All(c => c is (>= 'a' and <= 'z') or (>= '0' and <= '9') or '-'))
            {
                return false;
            }
        }

        return true;
    }
}
