using System.Collections.Frozen;
using System.Diagnostics;
using Grpc.Core;

namespace Trousseau.Kms.Internal;

/// <summary>
/// Records the plugin's Encrypt and Decrypt calls (v2 and v1) in the audit trail, when the host registered one: the
/// caller's <see cref="KmsCaller"/>, the action and the gRPC status it got. Status, Version and the gRPC health
/// service carry no secret material and are polled every few seconds, so they are not recorded.
/// </summary>
internal sealed class KmsCallAudit(IAuditTrail? trail)
{
    /// <summary>The answer to a call whose record cannot be written.</summary>
    public static readonly Status Unavailable = new(StatusCode.Unavailable, "The audit trail cannot be written, and the plugin answers no call it cannot record; see its log.");

    private static readonly FrozenDictionary<string, string> Actions = new Dictionary<string, string>(StringComparer.Ordinal)
    {
        ["/v2.KeyManagementService/Encrypt"] = "encrypt",
        ["/v2.KeyManagementService/Decrypt"] = "decrypt",
        ["/v1beta1.KeyManagementService/Encrypt"] = "encrypt",
        ["/v1beta1.KeyManagementService/Decrypt"] = "decrypt",
    }.ToFrozenDictionary(StringComparer.Ordinal);

    /// <summary>Whether connections need their <see cref="KmsCaller"/>: only when there is a trail to record it in.</summary>
    public bool IsEnabled => trail is not null;

    /// <summary>The action the trail records for the method at <paramref name="path"/>, or <see langword="null"/> when it records none.</summary>
    public string? ActionOf(string path) => trail is null ? null : Actions.GetValueOrDefault(path);

    /// <summary>Whether a call may go on: see <see cref="IAuditTrail.CanRecord"/>.</summary>
    public bool CanRecord() => trail!.CanRecord();

    /// <summary>
    /// The plugin's <paramref name="status"/>, whose <c>healthz</c> says why Encrypt and Decrypt are refused while the
    /// trail cannot be written.
    /// </summary>
    public V2.StatusResponse Report(V2.StatusResponse status)
    {
        if (status.Healthz == "ok" && trail is not null && !trail.CanRecord())
        {
            status.Healthz = Unavailable.Detail;
        }

        return status;
    }

    /// <summary>Records one call; <see langword="false"/> when the record could not be written and the call must fail.</summary>
    public async ValueTask<bool> TryRecordAsync(ServerCallContext context, string action, StatusCode status, Activity? span)
    {
        var http = context.GetHttpContext();
        var caller = http.Features.Get<KmsCaller>();
        try
        {
            await trail!.AppendAsync(new AuditRecord
            {
                Source = AuditRecord.KmsSource,
                RequestId = http.TraceIdentifier,
                TraceId = span?.TraceId.ToHexString(),
                Identity = caller?.Identity,
                Action = action,
                Outcome = OutcomeOf(status),
                GrpcStatus = NameOf(status),
                RemoteAddress = caller?.Address,
            }).ConfigureAwait(false);
            return true;
        }
        catch (AuditUnavailableException)
        {
            return false;
        }
    }

    private static string OutcomeOf(StatusCode status) => status switch
    {
        StatusCode.OK => AuditOutcome.Ok,
        StatusCode.InvalidArgument or StatusCode.OutOfRange or StatusCode.FailedPrecondition or StatusCode.ResourceExhausted => AuditOutcome.Invalid,
        StatusCode.NotFound => AuditOutcome.NotFound,
        StatusCode.AlreadyExists or StatusCode.Aborted => AuditOutcome.Conflict,
        StatusCode.PermissionDenied => AuditOutcome.Denied,
        StatusCode.Unauthenticated => AuditOutcome.Unauthenticated,
        StatusCode.Unavailable or StatusCode.DeadlineExceeded => AuditOutcome.Unavailable,
        StatusCode.Cancelled => AuditOutcome.Cancelled,
        _ => AuditOutcome.Error,
    };

    /// <summary>The status's canonical name, as gRPC's documentation and other implementations spell it.</summary>
    private static string NameOf(StatusCode status) => status switch
    {
        StatusCode.OK => "OK",
        StatusCode.Cancelled => "CANCELLED",
        StatusCode.InvalidArgument => "INVALID_ARGUMENT",
        StatusCode.DeadlineExceeded => "DEADLINE_EXCEEDED",
        StatusCode.NotFound => "NOT_FOUND",
        StatusCode.AlreadyExists => "ALREADY_EXISTS",
        StatusCode.PermissionDenied => "PERMISSION_DENIED",
        StatusCode.ResourceExhausted => "RESOURCE_EXHAUSTED",
        StatusCode.FailedPrecondition => "FAILED_PRECONDITION",
        StatusCode.Aborted => "ABORTED",
        StatusCode.OutOfRange => "OUT_OF_RANGE",
        StatusCode.Unimplemented => "UNIMPLEMENTED",
        StatusCode.Internal => "INTERNAL",
        StatusCode.Unavailable => "UNAVAILABLE",
        StatusCode.DataLoss => "DATA_LOSS",
        StatusCode.Unauthenticated => "UNAUTHENTICATED",
        _ => "UNKNOWN",
    };
}
