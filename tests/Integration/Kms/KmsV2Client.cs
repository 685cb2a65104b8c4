using Google.Protobuf;
using Grpc.Core;
using Trousseau.Kms.V2;

namespace Trousseau.Tests.Integration.Kms;

/// <summary>
/// A Grpc.Net.Client caller of KMS v2 over the plugin's own message types. The plugin's assembly generates only
/// the server side of the service, so the three unary methods are declared here, named from its descriptor.
/// </summary>
internal sealed class KmsV2Client(CallInvoker invoker)
{
    /// <summary>The deadline of a call that gives none: kube-apiserver's own is 3 s; this leaves room on a busy machine.</summary>
    private static readonly TimeSpan DefaultDeadline = TimeSpan.FromSeconds(10);

    private static readonly Method<StatusRequest, StatusResponse> StatusMethod = Unary("Status", StatusRequest.Parser, StatusResponse.Parser);
    private static readonly Method<EncryptRequest, EncryptResponse> EncryptMethod = Unary("Encrypt", EncryptRequest.Parser, EncryptResponse.Parser);
    private static readonly Method<DecryptRequest, DecryptResponse> DecryptMethod = Unary("Decrypt", DecryptRequest.Parser, DecryptResponse.Parser);

    public Task<StatusResponse> StatusAsync(CallOptions? options = null) =>
        invoker.AsyncUnaryCall(StatusMethod, null, WithDeadline(options), new StatusRequest()).ResponseAsync;

    public Task<EncryptResponse> EncryptAsync(EncryptRequest request, CallOptions? options = null) =>
        invoker.AsyncUnaryCall(EncryptMethod, null, WithDeadline(options), request).ResponseAsync;

    public Task<DecryptResponse> DecryptAsync(DecryptRequest request, CallOptions? options = null) =>
        invoker.AsyncUnaryCall(DecryptMethod, null, WithDeadline(options), request).ResponseAsync;

    private static CallOptions WithDeadline(CallOptions? options) => options switch
    {
        null => new CallOptions(deadline: DateTime.UtcNow + DefaultDeadline),
        { Deadline: null } given => given.WithDeadline(DateTime.UtcNow + DefaultDeadline),
        { } given => given,
    };

    private static Method<TRequest, TResponse> Unary<TRequest, TResponse>(string name, MessageParser<TRequest> request, MessageParser<TResponse> response)
        where TRequest : class, IMessage<TRequest>
        where TResponse : class, IMessage<TResponse> =>
        new(MethodType.Unary, KeyManagementService.Descriptor.FullName, name, Marshallers.Create(m => m.ToByteArray(), request.ParseFrom), Marshallers.Create(m => m.ToByteArray(), response.ParseFrom));
}
