using Grpc.Core;

namespace Trousseau.Cli;

/// <summary>A KMS call that did not end OK: the plugin's status, or UNAVAILABLE when its socket cannot be reached.</summary>
internal sealed class KmsCallException(StatusCode status, string message) : Exception(message)
{
    public StatusCode Status { get; } = status;
}
