namespace Trousseau.Remote;

/// <summary>
/// The <c>type</c> of the problem details trousseaud answers with, one per Trousseau exception, so that the remote
/// client raises the same typed exception as the in-process library, and one for a failure the server did not expect.
/// </summary>
internal static class ProblemTypes
{
    public const string NotFound = "urn:trousseau:problem:not-found";
    public const string AlreadyExists = "urn:trousseau:problem:already-exists";
    public const string RevisionMismatch = "urn:trousseau:problem:revision-mismatch";
    public const string InvalidInput = "urn:trousseau:problem:invalid-input";
    public const string TooLarge = "urn:trousseau:problem:too-large";
    public const string InvalidCiphertext = "urn:trousseau:problem:invalid-ciphertext";
    public const string Unavailable = "urn:trousseau:problem:unavailable";
    public const string Unauthenticated = "urn:trousseau:problem:unauthenticated";
    public const string Forbidden = "urn:trousseau:problem:forbidden";
    public const string Internal = "urn:trousseau:problem:internal";
}
