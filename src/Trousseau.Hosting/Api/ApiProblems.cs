using System.Globalization;
using Microsoft.AspNetCore.Http;
using Trousseau.Remote;

namespace Trousseau.Hosting.Api;

/// <summary>
/// The one place where Trousseau's exceptions become HTTP answers: <c>application/problem+json</c> with a status,
/// a title, a detail that never holds a secret, and a <c>type</c> the remote client maps back to the exception.
/// </summary>
internal static class ApiProblems
{
    private const string ProblemContentType = "application/problem+json";

    /// <summary>
    /// The answer to <paramref name="exception"/>: its problem for a Trousseau error (a 503 with <c>Retry-After</c>,
    /// the dependency's own when it gave one, else 1 s), the internal-error problem for anything else.
    /// </summary>
    public static IResult ForException(Exception exception, HttpResponse response) => exception switch
    {
        DependencyUnavailableException unavailable => Unavailable(unavailable.Message, unavailable.RetryAfter, response),
        _ => IsMapped(exception) ? FromException(exception, response.HttpContext) : Internal(),
    };

    private static IResult FromException(Exception exception, HttpContext context) => exception switch
    {
        SecretNotFoundException e => Problem(StatusCodes.Status404NotFound, "Secret not found", e.Message, ProblemTypes.NotFound),
        SecretConflictException { Reason: SecretConflictReason.AlreadyExists } e =>
            Problem(StatusCodes.Status409Conflict, "Secret already exists", e.Message, ProblemTypes.AlreadyExists),
        SecretConflictException e => Problem(StatusCodes.Status412PreconditionFailed, "Revision mismatch", e.Message, ProblemTypes.RevisionMismatch),
        SecretTooLargeException e => Problem(StatusCodes.Status413PayloadTooLarge, "Secret too large", e.Message, ProblemTypes.TooLarge),
        InvalidInputException e => Problem(StatusCodes.Status400BadRequest, "Invalid input", e.Message, ProblemTypes.InvalidInput),
        InvalidCiphertextException e => Problem(StatusCodes.Status400BadRequest, "Invalid ciphertext", e.Message, ProblemTypes.InvalidCiphertext),
        AccessForbiddenException e => Problem(StatusCodes.Status403Forbidden, "Forbidden", e.Message, ProblemTypes.Forbidden),
        AuditUnavailableException => AuditUnavailable(),
        BadHttpRequestException e => BodyRejected(e.StatusCode, e.Message, ApiRequests.BodyLimit(context)),
        _ => throw new InvalidOperationException("Not a Trousseau API error.", exception),
    };

    public static bool IsMapped(Exception exception) => exception is TrousseauException or BadHttpRequestException;

    public static IResult Invalid(string detail) => Problem(StatusCodes.Status400BadRequest, "Invalid input", detail, ProblemTypes.InvalidInput);

    public static IResult Unauthenticated(string detail) =>
        Problem(StatusCodes.Status401Unauthorized, "Unauthenticated", detail, ProblemTypes.Unauthenticated);

    /// <summary>A 503 that says when to try again: <c>Retry-After</c> in whole seconds, <paramref name="retryAfter"/> rounded up, else 1.</summary>
    public static IResult Unavailable(string detail, TimeSpan? retryAfter, HttpResponse response)
    {
        var seconds = retryAfter is { } wait ? Math.Max(1, (long)Math.Ceiling(wait.TotalSeconds)) : 1;
        response.Headers.RetryAfter = seconds.ToString(CultureInfo.InvariantCulture);
        return Problem(StatusCodes.Status503ServiceUnavailable, "Dependency unavailable", detail, ProblemTypes.Unavailable);
    }

    public static IResult Forbidden(string detail) => Problem(StatusCodes.Status403Forbidden, "Forbidden", detail, ProblemTypes.Forbidden);

    public static IResult CrossSite(string detail) => Problem(StatusCodes.Status403Forbidden, "Cross-site request", detail, ProblemTypes.CrossSite);

    public static IResult HostNotAllowed(string detail) =>
        Problem(StatusCodes.Status421MisdirectedRequest, "Host not allowed", detail, ProblemTypes.HostNotAllowed);

    /// <summary>A precondition (<c>If-Match</c>, <c>If-None-Match</c>) that does not hold: the type a revision mismatch has.</summary>
    public static IResult PreconditionFailed(string detail) =>
        Problem(StatusCodes.Status412PreconditionFailed, "Precondition failed", detail, ProblemTypes.RevisionMismatch);

    public static IResult NotFound(string detail) => Problem(StatusCodes.Status404NotFound, "Not found", detail, ProblemTypes.NotFound);

    /// <summary>A request body over <paramref name="limit"/> bytes, <c>Trousseau:Api:MaxRequestBodyBytes</c>.</summary>
    public static IResult BodyTooLarge(long limit) => Problem(
        StatusCodes.Status413PayloadTooLarge,
        "Request body too large",
        $"The request body is over {limit.ToString(CultureInfo.InvariantCulture)} bytes, the limit Trousseau:Api:MaxRequestBodyBytes sets.",
        ProblemTypes.TooLarge);

    /// <summary>A request body the server would not read to the end: too large, too slow or malformed framing.</summary>
    /// <param name="status">The server's status for it: 413, 408 or 400.</param>
    /// <param name="reason">The server's message, which names the fault and never the body's content.</param>
    /// <param name="limit">The largest body accepted, named by a 413.</param>
    public static IResult BodyRejected(int status, string reason, long limit) => status == StatusCodes.Status413PayloadTooLarge
        ? BodyTooLarge(limit)
        : Problem(status, "Bad request", $"The request body could not be read: {reason}", ProblemTypes.InvalidInput);

    /// <summary>A failure the server did not expect: its detail says where to look, never what the exception said.</summary>
    public static IResult Internal() =>
        Problem(StatusCodes.Status500InternalServerError, "Internal error", "The server failed unexpectedly; its log holds the error.", ProblemTypes.Internal);

    /// <summary>The call was not answered because its audit record could not be written; the detail says nothing of the record.</summary>
    public static IResult AuditUnavailable() =>
        Problem(StatusCodes.Status503ServiceUnavailable, "Audit trail unavailable", "The server cannot write its audit trail, and answers no call it cannot record; its log says why.", ProblemTypes.AuditUnavailable);

    public static IResult UnsupportedMediaType(string mediaType) =>
        Problem(StatusCodes.Status415UnsupportedMediaType, "Unsupported media type", $"Send the body as {mediaType} in UTF-8; the only parameter allowed is charset=utf-8.", ProblemTypes.InvalidInput);

    // Written with the wire contract's own source-generated type, as clients read it, so that a problem is written the
    // same in a Native AOT host, whatever JSON options the application set.
    private static IResult Problem(int status, string title, string detail, string type) =>
        Results.Json(new ProblemBody(type, title, status, detail), WireJson.Default.ProblemBody, ProblemContentType, status);
}
