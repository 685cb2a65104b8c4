namespace Trousseau;

/// <summary>How a call ended, as <see cref="AuditRecord.Outcome"/> says it.</summary>
public static class AuditOutcome
{
    /// <summary>Done as asked.</summary>
    public const string Ok = "ok";

    /// <summary>The caller is known but was not allowed (HTTP 403, gRPC PERMISSION_DENIED).</summary>
    public const string Denied = "denied";

    /// <summary>The caller did not prove who it is (HTTP 401, gRPC UNAUTHENTICATED).</summary>
    public const string Unauthenticated = "unauthenticated";

    /// <summary>No such secret (HTTP 404, gRPC NOT_FOUND).</summary>
    public const string NotFound = "not-found";

    /// <summary>The secret exists already or changed meanwhile (HTTP 409, 412).</summary>
    public const string Conflict = "conflict";

    /// <summary>The request was refused as malformed (HTTP 400, 413, 415 and other 4xx; gRPC INVALID_ARGUMENT).</summary>
    public const string Invalid = "invalid";

    /// <summary>A dependency or the audit trail could not serve (HTTP 503, gRPC UNAVAILABLE, DEADLINE_EXCEEDED).</summary>
    public const string Unavailable = "unavailable";

    /// <summary>The caller went away or cancelled before the answer (gRPC CANCELLED, an aborted HTTP request).</summary>
    public const string Cancelled = "cancelled";

    /// <summary>The server failed unexpectedly (HTTP 500, gRPC INTERNAL and any other status).</summary>
    public const string Error = "error";

    /// <summary>The outcome an HTTP status code stands for.</summary>
    /// <param name="status">The status the caller got.</param>
    /// <returns>One of this class's values.</returns>
    public static string ForHttpStatus(int status) => status switch
    {
        < 400 => Ok,
        401 => Unauthenticated,
        403 => Denied,
        404 => NotFound,
        409 or 412 => Conflict,
        503 => Unavailable,
        < 500 => Invalid,
        _ => Error,
    };
}
