namespace Trousseau;

/// <summary>
/// The audit trail cannot record a call, and refuses calls it cannot record: the call was not answered with its
/// result. Retrying once the trail can be written again (disk space, permissions) may succeed.
/// </summary>
public sealed class AuditUnavailableException : TrousseauException
{
    /// <summary>Creates the exception.</summary>
    /// <param name="message">What went wrong, naming the trail's file, never a record's content.</param>
    /// <param name="innerException">The underlying cause, if any.</param>
    public AuditUnavailableException(string message, Exception? innerException = null)
        : base(message, innerException)
    {
    }
}
