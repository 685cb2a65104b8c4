using Grpc.Core;
using Trousseau.Kms.V2;

namespace Trousseau.Kms.Internal;

/// <summary>
/// KMS v2 (<c>v2.KeyManagementService</c>), the API kube-apiserver calls since Kubernetes 1.29. Status reports the
/// audit trail too: while it cannot be written, Encrypt and Decrypt are refused, and <c>healthz</c> says so.
/// </summary>
internal sealed class KmsV2Service(KmsPlugin plugin, KmsCallAudit audit) : KeyManagementService.KeyManagementServiceBase
{
    public override async Task<StatusResponse> Status(StatusRequest request, ServerCallContext context) =>
        audit.Report(await plugin.StatusAsync(context.CancellationToken).ConfigureAwait(false));

    public override Task<EncryptResponse> Encrypt(EncryptRequest request, ServerCallContext context) =>
        plugin.EncryptAsync(request, context.CancellationToken).AsTask();

    public override Task<DecryptResponse> Decrypt(DecryptRequest request, ServerCallContext context) =>
        plugin.DecryptAsync(request, context.CancellationToken).AsTask();
}
