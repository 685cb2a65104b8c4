using Grpc.Core;
using Trousseau.Kms.V1Beta1;

namespace Trousseau.Kms.Internal;

/// <summary>KMS v1 (<c>v1beta1.KeyManagementService</c>), for clusters that have not moved to v2.</summary>
internal sealed class KmsV1Service(KmsPlugin plugin) : KeyManagementService.KeyManagementServiceBase
{
    public override Task<VersionResponse> Version(VersionRequest request, ServerCallContext context) =>
        Task.FromResult(KmsPlugin.Version(request));

    public override Task<EncryptResponse> Encrypt(EncryptRequest request, ServerCallContext context) =>
        plugin.EncryptAsync(request, context.CancellationToken).AsTask();

    public override Task<DecryptResponse> Decrypt(DecryptRequest request, ServerCallContext context) =>
        plugin.DecryptAsync(request, context.CancellationToken).AsTask();
}
