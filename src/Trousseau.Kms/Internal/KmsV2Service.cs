using Grpc.Core;
using Trousseau.Kms.V2;

namespace Trousseau.Kms.Internal;

/// <summary>KMS v2 (<c>v2.KeyManagementService</c>), the API kube-apiserver calls since Kubernetes 1.29.</summary>
internal sealed class KmsV2Service(KmsPlugin plugin) : KeyManagementService.KeyManagementServiceBase
{
    public override Task<StatusResponse> Status(StatusRequest request, ServerCallContext context) =>
        plugin.StatusAsync(context.CancellationToken).AsTask();

    public override Task<EncryptResponse> Encrypt(EncryptRequest request, ServerCallContext context) =>
        plugin.EncryptAsync(request, context.CancellationToken).AsTask();

    public override Task<DecryptResponse> Decrypt(DecryptRequest request, ServerCallContext context) =>
        plugin.DecryptAsync(request, context.CancellationToken).AsTask();
}
