namespace Trousseau;

/// <summary>
/// The base of every error Trousseau raises on purpose. Hosts map each subtype to one HTTP status and one gRPC
/// status, in one place each. Messages never contain a secret value, a token or key material.
/// </summary>
public abstract class TrousseauException : Exception
{
    /// <summary>Creates the exception.</summary>
    /// <param name="message">What went wrong, safe to show to the caller.</param>
    /// <param name="innerException">The underlying cause, if any.</param>
    protected TrousseauException(string message, Exception? innerException = null)
        : base(message, innerException)
    {
    }
}

/// <summary>No secret has the requested name.</summary>
public sealed class SecretNotFoundException : TrousseauException
{
    /// <summary>Creates the exception for a secret name.</summary>
    /// <param name="name">The name that was not found.</param>
    public SecretNotFoundException(string name)
        : base($"Secret '{name}' was not found.")
    {
        Name = name;
    }

    /// <summary>The name that was not found.</summary>
    public string Name { get; }
}

/// <summary>Why a write conflicted.</summary>
public enum SecretConflictReason
{
    /// <summary>A create found a secret of that name already there.</summary>
    AlreadyExists,

    /// <summary>The secret's revision is not the one the caller expected: someone else wrote it first.</summary>
    RevisionMismatch,
}

/// <summary>A write lost a race or would overwrite: see <see cref="Reason"/>. Nothing was changed.</summary>
public sealed class SecretConflictException : TrousseauException
{
    /// <summary>Creates the exception.</summary>
    /// <param name="name">The secret's name.</param>
    /// <param name="reason">Why the write conflicted.</param>
    public SecretConflictException(string name, SecretConflictReason reason)
        : base(reason == SecretConflictReason.AlreadyExists
            ? $"Secret '{name}' already exists."
            : $"Secret '{name}' has changed since the expected revision, and nothing was changed: read it again for its current revision, then retry.")
    {
        Name = name;
        Reason = reason;
    }

    /// <summary>The secret's name.</summary>
    public string Name { get; }

    /// <summary>Why the write conflicted.</summary>
    public SecretConflictReason Reason { get; }
}

/// <summary>
/// A dependency (key provider or store) cannot serve the call right now. Nothing was changed; retrying later may
/// succeed.
/// </summary>
public sealed class DependencyUnavailableException : TrousseauException
{
    /// <summary>Creates the exception.</summary>
    /// <param name="dependency">Which dependency is unavailable, for example <c>store:sqlite</c>.</param>
    /// <param name="message">What went wrong, without secrets.</param>
    /// <param name="innerException">The underlying cause, if any.</param>
    public DependencyUnavailableException(string dependency, string message, Exception? innerException = null)
        : base(message, innerException)
    {
        Dependency = dependency;
    }

    /// <summary>Creates the exception for a dependency that said when to try again.</summary>
    /// <param name="dependency">Which dependency is unavailable, for example <c>vault</c>.</param>
    /// <param name="message">What went wrong, without secrets.</param>
    /// <param name="retryAfter">How long the dependency asked callers to wait (its <c>Retry-After</c>), if it said.</param>
    /// <param name="innerException">The underlying cause, if any.</param>
    public DependencyUnavailableException(string dependency, string message, TimeSpan? retryAfter, Exception? innerException = null)
        : base(message, innerException)
    {
        Dependency = dependency;
        RetryAfter = retryAfter;
    }

    /// <summary>Which dependency is unavailable, for example <c>store:sqlite</c> or <c>key-provider:vault</c>.</summary>
    public string Dependency { get; }

    /// <summary>
    /// How long the dependency asked callers to wait before trying again (a rate limit's <c>Retry-After</c>), or
    /// <see langword="null"/> when it did not say.
    /// </summary>
    public TimeSpan? RetryAfter { get; }
}

/// <summary>The caller's input breaks a rule (a name, a type, a data key, a length). Nothing was changed.</summary>
public class InvalidInputException : TrousseauException
{
    /// <summary>Creates the exception.</summary>
    /// <param name="field">The input field that is wrong, for example <c>name</c>.</param>
    /// <param name="message">What is wrong and what is allowed, without echoing secret values.</param>
    public InvalidInputException(string field, string message)
        : base(message)
    {
        Field = field;
    }

    /// <summary>The input field that is wrong, for example <c>name</c> or <c>data</c>.</summary>
    public string Field { get; }
}

/// <summary>A secret's data is larger than <see cref="TrousseauLimits.MaxSecretDataBytes"/>. Nothing was changed.</summary>
public sealed class SecretTooLargeException : InvalidInputException
{
    /// <summary>Creates the exception.</summary>
    /// <param name="size">The data's size in bytes.</param>
    public SecretTooLargeException(long size)
        : base("data", $"Secret data is {size} bytes; the limit is {TrousseauLimits.MaxSecretDataBytes} bytes.")
    {
        Size = size;
    }

    /// <summary>Creates the exception for data within the limit whose stored record is more than the store takes.</summary>
    /// <param name="size">The size in bytes of the write the store refused.</param>
    /// <param name="message">Why the store refused it and what to do, without secret values.</param>
    public SecretTooLargeException(long size, string message)
        : base("data", message)
    {
        Size = size;
    }

    /// <summary>
    /// The data's size in bytes (UTF-8 keys and values), or that of the write the store refused; 0 from the remote
    /// client when the server did not measure it (a request body over the server's limit).
    /// </summary>
    public long Size { get; }
}

/// <summary>
/// A ciphertext or stored record cannot be decrypted: malformed, truncated, tampered with, moved to another name,
/// of an unknown format version, or under a key this instance does not have.
/// </summary>
public sealed class InvalidCiphertextException : TrousseauException
{
    /// <summary>Creates the exception.</summary>
    /// <param name="message">Why the ciphertext was refused.</param>
    /// <param name="innerException">The underlying cause, if any.</param>
    public InvalidCiphertextException(string message, Exception? innerException = null)
        : base(message, innerException)
    {
    }
}

/// <summary>The caller is known but not allowed to do this.</summary>
public sealed class AccessForbiddenException : TrousseauException
{
    /// <summary>Creates the exception.</summary>
    /// <param name="message">What was refused.</param>
    /// <param name="innerException">The underlying cause, if any.</param>
    public AccessForbiddenException(string message, Exception? innerException = null)
        : base(message, innerException)
    {
    }
}
