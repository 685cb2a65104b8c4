namespace Trousseau;

/// <summary>
/// One call as the audit trail records it: who called, what they asked for, and how it ended. It never holds a value,
/// a token, a plaintext or a ciphertext; the trail adds the time and the hash of the record before it.
/// </summary>
public sealed record AuditRecord
{
    /// <summary><see cref="Source"/> of a call to the HTTP API.</summary>
    public const string ApiSource = "api";

    /// <summary><see cref="Source"/> of a call to the KMS plugin.</summary>
    public const string KmsSource = "kms";

    /// <summary>Which service answered: <see cref="ApiSource"/> or <see cref="KmsSource"/>.</summary>
    public required string Source { get; init; }

    /// <summary>The server's id of the request (ASP.NET Core's <c>HttpContext.TraceIdentifier</c>), as its log scopes show it.</summary>
    public string? RequestId { get; init; }

    /// <summary>The W3C trace id of the call's trace, when one is recorded.</summary>
    public string? TraceId { get; init; }

    /// <summary>Who called: an API identity, or <c>uid:N</c> for a process on the KMS socket; <see langword="null"/> when unknown.</summary>
    public string? Identity { get; init; }

    /// <summary>What the call does, for example <c>read</c> or <c>encrypt</c>.</summary>
    public string? Action { get; init; }

    /// <summary>The secret the call is about, when it names one.</summary>
    public string? SecretName { get; init; }

    /// <summary>The secret's revision after the call, when it has one.</summary>
    public long? Revision { get; init; }

    /// <summary>How the call ended: one of <see cref="AuditOutcome"/>'s values.</summary>
    public required string Outcome { get; init; }

    /// <summary>The HTTP status the caller got, for an API call.</summary>
    public int? HttpStatus { get; init; }

    /// <summary>The gRPC status the caller got, for a KMS call, by its canonical name (<c>OK</c>, <c>INVALID_ARGUMENT</c>).</summary>
    public string? GrpcStatus { get; init; }

    /// <summary>Where the call came from: <c>address:port</c> for the API, <c>pid:N</c> for the KMS socket.</summary>
    public string? RemoteAddress { get; init; }
}
