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
        SecretNotFoundException e => Problem(StatusCodes.Status404NotFound, e.Message, ProblemTypes.NotFound),
        SecretConflictException { Reason: SecretConflictReason.AlreadyExists } e =>
            Problem(StatusCodes.Status409Conflict, e.Message, ProblemTypes.AlreadyExists),
        SecretConflictException e => Problem(StatusCodes.Status412PreconditionFailed, e.Message, ProblemTypes.RevisionMismatch),
        SecretTooLargeException e => Problem(StatusCodes.Status413PayloadTooLarge, e.Message, ProblemTypes.TooLarge, e.Size),
        InvalidInputException e => Problem(StatusCodes.Status400BadRequest, e.Message, ProblemTypes.InvalidInput),
        InvalidCiphertextException e => Problem(StatusCodes.Status400BadRequest, e.Message, ProblemTypes.InvalidCiphertext),
        AccessForbiddenException e => Problem(StatusCodes.Status403Forbidden, e.Message, ProblemTypes.Forbidden),
        AuditUnavailableException => AuditUnavailable(),
        BadHttpRequestException e => BodyRejected(e.StatusCode, e.Message, ApiRequests.BodyLimit(context)),
        _ => throw new InvalidOperationException("Not a Trousseau API error.", exception),
    };

    public static bool IsMapped(Exception exception) => exception is TrousseauException or BadHttpRequestException;

    /// <summary>
    /// Whether <paramref name="exception"/> ends a request whose client went away: the request is aborted, or the
    /// exception is a cancellation by its token, which Kestrel may cancel a moment after the failure it caused.
    /// </summary>
    public static bool IsClientGone(Exception exception, HttpContext context) =>
        context.RequestAborted.IsCancellationRequested
        || (exception is OperationCanceledException cancelled && cancelled.CancellationToken == context.RequestAborted);

    public static IResult Invalid(string detail) => Problem(StatusCodes.Status400BadRequest, detail, ProblemTypes.InvalidInput);

    public static IResult Unauthenticated(string detail) =>
        Problem(StatusCodes.Status401Unauthorized, detail, ProblemTypes.Unauthenticated);

    /// <summary>A 503 that says when to try again: <c>Retry-After</c> in whole seconds, <paramref name="retryAfter"/> rounded up, else 1.</summary>
    public static IResult Unavailable(string detail, TimeSpan? retryAfter, HttpResponse response)
    {
        var seconds = retryAfter is { } wait ? Math.Max(1, (long)Math.Ceiling(wait.TotalSeconds)) : 1;
        response.Headers.RetryAfter = seconds.ToString(CultureInfo.InvariantCulture);
        return Problem(StatusCodes.Status503ServiceUnavailable, detail, ProblemTypes.Unavailable);
    }

    public static IResult Forbidden(string detail) => Problem(StatusCodes.Status403Forbidden, detail, ProblemTypes.Forbidden);

    public static IResult CrossSite(string detail) => Problem(StatusCodes.Status403Forbidden, detail, ProblemTypes.CrossSite);

    public static IResult HostNotAllowed(string detail) =>
        Problem(StatusCodes.Status421MisdirectedRequest, detail, ProblemTypes.HostNotAllowed);

    /// <summary>A precondition (<c>If-Match</c>, <c>If-None-Match</c>) that does not hold: the type a revision mismatch has.</summary>
    public static IResult PreconditionFailed(string detail) =>
        Problem(StatusCodes.Status412PreconditionFailed, detail, ProblemTypes.RevisionMismatch);

    public static IResult NotFound(string detail) => Problem(StatusCodes.Status404NotFound, detail, ProblemTypes.NotFound);

    /// <summary>A method the route does not take: the request's own fault, of the type bad input has.</summary>
    public static IResult MethodNotAllowed(string detail) =>
        Problem(StatusCodes.Status405MethodNotAllowed, detail, ProblemTypes.InvalidInput);

    /// <summary>A request body over <paramref name="limit"/> bytes, <c>Trousseau:Api:MaxRequestBodyBytes</c>.</summary>
    public static IResult BodyTooLarge(long limit) => Problem(
        StatusCodes.Status413PayloadTooLarge,
        $"The request body is over {limit.ToString(CultureInfo.InvariantCulture)} bytes, the limit Trousseau:Api:MaxRequestBodyBytes sets.",
        ProblemTypes.TooLarge);

    /// <summary>A request body the server would not read to the end: too large, too slow or malformed framing.</summary>
    /// <param name="status">The server's status for it: 413, 408 or 400.</param>
    /// <param name="reason">The server's message, which names the fault and never the body's content.</param>
    /// <param name="limit">The largest body accepted, named by a 413.</param>
    public static IResult BodyRejected(int status, string reason, long limit) => status == StatusCodes.Status413PayloadTooLarge
        ? BodyTooLarge(limit)
        : Problem(status, $"The request body could not be read: {reason}", ProblemTypes.InvalidInput);

    /// <summary>A failure the server did not expect: its detail says where to look, never what the exception said.</summary>
    public static IResult Internal() =>
        Problem(StatusCodes.Status500InternalServerError, "The server failed unexpectedly; its log holds the error.", ProblemTypes.Internal);

    /// <summary>The call was not answered because its audit record could not be written; the detail says nothing of the record.</summary>
    public static IResult AuditUnavailable() =>
        Problem(StatusCodes.Status503ServiceUnavailable, "The server cannot write its audit trail, and answers no call it cannot record; its log says why.", ProblemTypes.AuditUnavailable);

    /// <summary>A body sent with a content coding (<c>Content-Encoding: gzip</c>): the API reads bodies as they are.</summary>
    public static IResult UnsupportedContentCoding(string coding) => Problem(
        StatusCodes.Status415UnsupportedMediaType,
        $"The request body is sent with Content-Encoding {Excerpt.Escaped(coding, 40)}; send it uncompressed, without Content-Encoding (or as identity).",
        ProblemTypes.InvalidInput);

    public static IResult UnsupportedMediaType(string mediaType) =>
        Problem(StatusCodes.Status415UnsupportedMediaType, $"Send the body as {mediaType} in UTF-8; the only parameter allowed is charset=utf-8.", ProblemTypes.InvalidInput);

    // Written with the wire contract's own source-generated type, as clients read it, so that a problem is written the
    // same in a Native AOT host, whatever JSON options the application set.
    /// <summary>
    /// A problem of <paramref name="type"/>, whose title is the type's own: RFC 9457 keeps a type's title the same from
    /// occurrence to occurrence, whichever check found the problem; the detail says what happened this time, as a
    /// sentence with its final period, which a dependency's words (etcd's, Vault's, Kestrel's) may lack.
    /// </summary>
    private static IResult Problem(int status, string detail, string type, long? size = null) =>
        Results.Json(new ProblemBody(type, TitleOf(type), status, Sentence(detail)) { Size = size }, ApiJson.Wire.ProblemBody, ProblemContentType, status);

    private static string Sentence(string detail) => detail.EndsWith('.') || detail.EndsWith('?') || detail.EndsWith('!') ? detail : detail + ".";

    private static string TitleOf(string type) => type switch
    {
        ProblemTypes.NotFound => "Not found",
        ProblemTypes.AlreadyExists => "Secret already exists",
        ProblemTypes.RevisionMismatch => "Revision mismatch",
        ProblemTypes.InvalidInput => "Invalid input",
        ProblemTypes.TooLarge => "Too large",
        ProblemTypes.InvalidCiphertext => "Invalid ciphertext",
        ProblemTypes.Unavailable => "Dependency unavailable",
        ProblemTypes.AuditUnavailable => "Audit trail unavailable",
        ProblemTypes.Unauthenticated => "Unauthenticated",
        ProblemTypes.Forbidden => "Forbidden",
        ProblemTypes.CrossSite => "Cross-site request",
        ProblemTypes.HostNotAllowed => "Host not allowed",
        ProblemTypes.Internal => "Internal error",
        _ => throw new ArgumentOutOfRangeException(nameof(type), type, "Not a Trousseau problem type."),
    };
}
