using System.Globalization;

namespace Trousseau;

/// <summary>
/// A rewrap that its caller stopped waiting for: the secrets it had moved by then stay moved, and a rewrap run again
/// moves the rest. <see cref="Progress"/> says how far it had got.
/// </summary>
public sealed class RewrapCancelledException : OperationCanceledException
{
    /// <summary>Creates the exception.</summary>
    /// <param name="progress">The rewrap's counts when its caller stopped waiting.</param>
    /// <param name="innerException">The cancellation that ended the wait.</param>
    /// <param name="cancellationToken">The caller's token, which was cancelled.</param>
    public RewrapCancelledException(RewrapResult progress, Exception? innerException, CancellationToken cancellationToken)
        : base(
            string.Create(
                CultureInfo.InvariantCulture,
                $"The rewrap was cancelled after moving {progress.Rewrapped} {(progress.Rewrapped == 1 ? "secret" : "secrets")} to the current key ({progress.Skipped} needed no move, {progress.Failed} could not be moved); the secrets it moved stay moved."),
            innerException,
            cancellationToken)
    {
        Progress = progress;
    }

    /// <summary>
    /// The rewrap's counts when its caller stopped waiting, with the key it was moving the secrets to; a secret whose move
    /// was under way then may still have been moved.
    /// </summary>
    public RewrapResult Progress { get; }
}
