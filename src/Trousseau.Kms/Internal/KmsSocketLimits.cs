using Microsoft.AspNetCore.Server.Kestrel.Core;

namespace Trousseau.Kms.Internal;

/// <summary>
/// Kestrel's limits on the KMS socket, set here rather than left to Kestrel's defaults, for local callers that
/// misbehave. A call whose request stalls, or whose caller stops reading its answer, ends its connection once it moves
/// fewer than 240 bytes/s after a 5 s grace. A connection with no call under way is left to Kestrel's keep-alive
/// timeout (130 s), longer than kube-apiserver's Status poll (every minute), so the plugin never closes its
/// connection: a close shortly after an idle spell races the caller's next call, which a gRPC client can then see fail
/// as UNAVAILABLE. docs/reference.md lists these limits in its KMS section.
/// </summary>
internal static class KmsSocketLimits
{
    /// <summary>Calls open at once on one connection; more are refused (REFUSED_STREAM), and gRPC clients queue them.</summary>
    public const int MaxCallsPerConnection = 100;

    /// <summary>The request headers (gRPC metadata included) of one call, in all: 32 KiB.</summary>
    public const int MaxHeadersTotalBytes = 32 * 1024;

    /// <summary>Request headers on one call, gRPC metadata included.</summary>
    public const int MaxHeaderCount = 100;

    /// <summary>The slowest a request may arrive, or an answer be read, after the first 5 s: 240 bytes/s.</summary>
    public static readonly MinDataRate MinDataRate = new(bytesPerSecond: 240, gracePeriod: TimeSpan.FromSeconds(5));

    /// <summary>Applies the limits to the socket's Kestrel.</summary>
    public static void Apply(KestrelServerLimits limits)
    {
        limits.MinRequestBodyDataRate = MinDataRate;
        limits.MinResponseDataRate = MinDataRate;
        limits.MaxRequestHeadersTotalSize = MaxHeadersTotalBytes;
        limits.MaxRequestHeaderCount = MaxHeaderCount;
        limits.Http2.MaxStreamsPerConnection = MaxCallsPerConnection;
    }
}
