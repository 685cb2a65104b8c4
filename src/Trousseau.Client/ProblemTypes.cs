namespace Trousseau.Remote;

/// <summary>
/// The <c>type</c> of the problem details trousseaud answers with: one per Trousseau exception, so that the remote
/// client raises the same typed exception as the in-process library, and one for a failure the server did not expect.
/// </summary>
public static class ProblemTypes
{
    /// <summary>No secret of that name (404); <see cref="SecretNotFoundException"/>.</summary>
    public const string NotFound = "urn:trousseau:problem:not-found";

    /// <summary>A create or generate on a name that exists (409); <see cref="SecretConflictException"/>.</summary>
    public const string AlreadyExists = "urn:trousseau:problem:already-exists";

    /// <summary><c>If-Match</c> names a revision that is not the current one (412); <see cref="SecretConflictException"/>.</summary>
    public const string RevisionMismatch = "urn:trousseau:problem:revision-mismatch";

    /// <summary>A request the API refuses: bad name, type, data, prefix or body (400, 415); <see cref="InvalidInputException"/>.</summary>
    public const string InvalidInput = "urn:trousseau:problem:invalid-input";

    /// <summary>Secret data or a request body over its limit (413); <see cref="SecretTooLargeException"/>.</summary>
    public const string TooLarge = "urn:trousseau:problem:too-large";

    /// <summary>A ciphertext or stored record that does not decrypt (400); <see cref="InvalidCiphertextException"/>.</summary>
    public const string InvalidCiphertext = "urn:trousseau:problem:invalid-ciphertext";

    /// <summary>The key provider or the store cannot serve (503); <see cref="DependencyUnavailableException"/>.</summary>
    public const string Unavailable = "urn:trousseau:problem:unavailable";

    /// <summary>
    /// The server cannot write its audit trail and answers no call it cannot record (503);
    /// <see cref="DependencyUnavailableException"/>.
    /// </summary>
    public const string AuditUnavailable = "urn:trousseau:problem:audit-unavailable";

    /// <summary>No bearer token, or one that is not valid (401); <see cref="AccessForbiddenException"/>.</summary>
    public const string Unauthenticated = "urn:trousseau:problem:unauthenticated";

    /// <summary>The caller may not do this (403); <see cref="AccessForbiddenException"/>.</summary>
    public const string Forbidden = "urn:trousseau:problem:forbidden";

    /// <summary>
    /// A request from another site (403): an <c>Origin</c> other than the API's own, or <c>Sec-Fetch-Site</c>
    /// <c>cross-site</c> or <c>same-site</c>, as a web page in a browser sends; <see cref="AccessForbiddenException"/>.
    /// </summary>
    public const string CrossSite = "urn:trousseau:problem:cross-site";

    /// <summary>
    /// A request on a loopback address whose <c>Host</c> is neither a loopback name nor one of
    /// <c>Trousseau:Api:AllowedHosts</c> (421), as a page using DNS rebinding sends; <see cref="InvalidInputException"/>.
    /// </summary>
    public const string HostNotAllowed = "urn:trousseau:problem:host-not-allowed";

    /// <summary>A failure the server did not expect (500); its log holds the error.</summary>
    public const string Internal = "urn:trousseau:problem:internal";
}
