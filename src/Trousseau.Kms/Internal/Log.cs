using Microsoft.Extensions.Logging;

namespace Trousseau.Kms.Internal;

/// <summary>The KMS plugin's log messages.</summary>
internal static partial class Log
{
    [LoggerMessage(EventId = 4001, Level = LogLevel.Error, Message = "KMS call {Method} failed unexpectedly.")]
    public static partial void UnexpectedCallFailure(ILogger logger, string method, Exception exception);

    [LoggerMessage(EventId = 4002, Level = LogLevel.Information, Message = "KMS plugin (v2, v1beta1) listening on {Socket}, with the gRPC health service.")]
    public static partial void Listening(ILogger logger, string socket);

    [LoggerMessage(EventId = 4003, Level = LogLevel.Warning, Message = "KMS Decrypt accepts ciphertexts written before the plugin labelled its wraps (Trousseau:Kms:AcceptLegacyCiphertext is true): a Trousseau data key written before that version also unwraps through the socket. Set it to false once kube-apiserver has re-encrypted what it stores (docs/kms.md).")]
    public static partial void AcceptingLegacyCiphertext(ILogger logger);

    [LoggerMessage(EventId = 4004, Level = LogLevel.Warning, Message = "The KMS socket {Socket} could not be removed at the stop ({Reason}): it is left behind, refusing connections, and the next start replaces it.")]
    public static partial void SocketLeftBehind(ILogger logger, string socket, string reason);
}
