namespace Trousseau.Kms.Grpc;

/// <summary>Ends a call with a gRPC status other than OK; the message goes to the caller in <c>grpc-message</c>.</summary>
internal sealed class GrpcException(GrpcStatusCode status, string message) : Exception(message)
{
    public GrpcStatusCode Status { get; } = status;
}
