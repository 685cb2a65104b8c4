namespace Trousseau;

/// <summary>
/// Administration of the key that protects stored secrets: its status, rotation, and rewrapping every stored
/// secret under the current key. Implemented in process and by the remote client of a trousseaud.
/// </summary>
/// <remarks>
/// A call whose token is cancelled, before it starts or while it waits, throws <see cref="OperationCanceledException"/>
/// carrying that token, and a rotation asked with a token already cancelled rotates nothing; the in-process
/// implementation throws <see cref="ObjectDisposedException"/> once the service provider (host) that made it has been
/// disposed.
/// </remarks>
public interface IKeyAdministration
{
    /// <summary>
    /// The key provider and the key that new writes are encrypted under, asked of where the key lives (Vault, the key
    /// ring file), so that a rotation made outside this process (Vault's CLI, another instance) shows at once; new
    /// writes of this process use that key from then on.
    /// </summary>
    /// <param name="cancellationToken">Cancels the call.</param>
    /// <returns>The current key.</returns>
    ValueTask<KeyStatus> GetKeyStatusAsync(CancellationToken cancellationToken = default);

    /// <summary>
    /// Rotates the key provider's key (a new version with a new key id); new writes use it at once, and data
    /// under older versions stays readable.
    /// </summary>
    /// <param name="cancellationToken">Cancels the call.</param>
    /// <returns>The new current key.</returns>
    ValueTask<KeyStatus> RotateKeyAsync(CancellationToken cancellationToken = default);

    /// <summary>
    /// Re-encrypts every stored secret that is not under the current key (asked of where the key lives first, as
    /// <see cref="GetKeyStatusAsync"/> does, so a rotation made outside this process is followed), or whose envelope
    /// is in format 1 (written before data keys had a purpose), without changing its data, type or times. Each record
    /// is replaced by compare-and-swap, so a concurrent update is never overwritten; a record already under the
    /// current key is skipped, so an interrupted rewrap resumes where it stopped when run again.
    /// </summary>
    /// <param name="cancellationToken">Cancels the call; records rewrapped so far stay rewrapped.</param>
    /// <returns>
    /// How many records were rewrapped, how many needed no move, and how many stay under an older key
    /// (<see cref="RewrapResult.Failed"/>: not zero means the rewrap is not complete).
    /// </returns>
    ValueTask<RewrapResult> RewrapSecretsAsync(CancellationToken cancellationToken = default);
}
