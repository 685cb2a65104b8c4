using System.Security.Cryptography;
using Google.Protobuf;
using Grpc.Core;
using Trousseau.Kms.V2;

// Usage: KmsPeer --socket PATH. Serves KMS v2 over the Unix socket at PATH until stopped.
var socket = args is ["--socket", var path] ? Path.GetFullPath(path)
    : throw new ArgumentException("usage: KmsPeer --socket PATH");
File.Delete(socket);

var builder = WebApplication.CreateSlimBuilder();
builder.Logging.ClearProviders();
builder.WebHost.ConfigureKestrel(kestrel => kestrel.ListenUnixSocket(
    socket, listen => listen.Protocols = Microsoft.AspNetCore.Server.Kestrel.Core.HttpProtocols.Http2));
builder.Services.AddGrpc();
builder.Services.AddSingleton(new AesGcm(RandomNumberGenerator.GetBytes(32), AesGcm.TagByteSizes.MaxSize));

var app = builder.Build();
app.MapGrpcService<PeerKeyManagementService>();
app.Run();

/// <summary>
/// Wraps each plaintext with AES-256-GCM under one key made at start: nonce, ciphertext and tag. One cipher instance
/// serves every call under a lock, as trousseaud's local key ring does.
/// </summary>
internal sealed class PeerKeyManagementService(AesGcm aes) : KeyManagementService.KeyManagementServiceBase
{
    private const int NonceBytes = 12;
    private const int TagBytes = 16;

    public override Task<StatusResponse> Status(StatusRequest request, ServerCallContext context) =>
        Task.FromResult(new StatusResponse { Version = "v2", Healthz = "ok", KeyId = "peer" });

    public override Task<EncryptResponse> Encrypt(EncryptRequest request, ServerCallContext context)
    {
        var plaintext = request.Plaintext.Span;
        var sealedKey = new byte[NonceBytes + plaintext.Length + TagBytes];
        var nonce = sealedKey.AsSpan(0, NonceBytes);
        RandomNumberGenerator.Fill(nonce);
        lock (aes)
        {
            aes.Encrypt(nonce, plaintext, sealedKey.AsSpan(NonceBytes, plaintext.Length), sealedKey.AsSpan(NonceBytes + plaintext.Length));
        }

        return Task.FromResult(new EncryptResponse { Ciphertext = UnsafeByteOperations.UnsafeWrap(sealedKey), KeyId = "peer" });
    }

    public override Task<DecryptResponse> Decrypt(DecryptRequest request, ServerCallContext context)
    {
        var sealedKey = request.Ciphertext.Span;
        if (sealedKey.Length < NonceBytes + TagBytes)
        {
            throw new RpcException(new Status(StatusCode.InvalidArgument, "ciphertext too short"));
        }

        var plaintext = new byte[sealedKey.Length - NonceBytes - TagBytes];
        lock (aes)
        {
            aes.Decrypt(sealedKey[..NonceBytes], sealedKey[NonceBytes..^TagBytes], sealedKey[^TagBytes..], plaintext);
        }

        return Task.FromResult(new DecryptResponse { Plaintext = UnsafeByteOperations.UnsafeWrap(plaintext) });
    }
}
