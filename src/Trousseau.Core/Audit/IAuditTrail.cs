namespace Trousseau;

/// <summary>
/// Where the hosts record every call they serve, one <see cref="AuditRecord"/> each, before the caller gets its
/// answer. A host asks <see cref="CanRecord"/> before it acts, and answers with an error instead of its result when
/// <see cref="AppendAsync"/> fails, so that nothing is done or disclosed that the trail does not hold. The Hosting package
/// implements it (<c>AddAuditTrail</c>); the HTTP API and the KMS plugin use it when it is registered.
/// </summary>
public interface IAuditTrail
{
    /// <summary>
    /// Whether a record can be expected to be written, asked before a call acts: <see langword="false"/> while the
    /// trail cannot be written. What failed is tried again here, writing no record, where it can be without writing one
    /// (opening the file, for example); otherwise the answer stays <see langword="false"/> until a write succeeds. A
    /// trail that lets calls go on when it cannot write (fail-open) always answers <see langword="true"/>.
    /// </summary>
    /// <returns>Whether the call may go on.</returns>
    bool CanRecord();

    /// <summary>
    /// Appends one record, written through to the operating system before the returned task completes. Records
    /// appended concurrently may be written together.
    /// </summary>
    /// <remarks>
    /// It takes no <see cref="CancellationToken"/>, on purpose: a host appends the record of a call once the call has
    /// acted (or been refused), and the record must be written even when the caller has left meanwhile (an HTTP
    /// client that disconnected, a gRPC deadline that passed), or the trail would miss an act that took place. An
    /// implementation bounds the wait itself instead, and fails rather than waits without end (the Hosting package's
    /// trail hands each record to the operating system at once, and counts a standard output not read for 5 s as a
    /// failed write).
    /// </remarks>
    /// <param name="record">The call to record.</param>
    /// <returns>A task that completes once the record is written.</returns>
    /// <exception cref="AuditUnavailableException">The record could not be written and the trail refuses calls it cannot record.</exception>
    ValueTask AppendAsync(AuditRecord record);
}
