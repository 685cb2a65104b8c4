namespace Trousseau.Cli;

/// <summary>clectl's exit codes, the table docs/reference.md lists.</summary>
internal static class ExitCodes
{
    public const int Ok = 0;
    public const int Error = 1;
    public const int Usage = 2;
    public const int NotFound = 3;
    public const int Conflict = 4;
    public const int Unauthorized = 5;
    public const int Unavailable = 6;

    /// <summary><c>audit verify</c>: a line of the audit trail does not hold the hash of the line before it.</summary>
    public const int AuditTrailBroken = 7;

    /// <summary>Interrupted (Ctrl-C, SIGINT): 128 + 2, the status a shell shows for a program SIGINT ended.</summary>
    public const int Interrupted = 130;

    /// <summary>
    /// Standard output is a pipe whose reader went away (<c>clectl secret list | head -1</c>): clectl stops quietly with
    /// the status a shell shows for a Unix tool that SIGPIPE ended, 128 + 13.
    /// </summary>
    public const int OutputPipeClosed = 141;

    /// <summary>
    /// The exit code for an error. Input the server or the KMS plugin refuses (a bad name, data over the limit, a
    /// login secret without a username, an unknown key id, a ciphertext that is not one) is the caller's to fix, so it
    /// counts as a usage error, like a bad flag.
    /// </summary>
    public static int For(Exception exception) => exception switch
    {
        PassedOverException passed => For(passed.Answer),
        CliUsageException => Usage,
        InvalidInputException => Usage,
        SecretNotFoundException => NotFound,
        SecretConflictException => Conflict,
        AccessForbiddenException => Unauthorized,
        DependencyUnavailableException => Unavailable,
        KmsCallException { Status: Grpc.Core.StatusCode.InvalidArgument } => Usage,
        KmsCallException { Status: Grpc.Core.StatusCode.Unavailable or Grpc.Core.StatusCode.DeadlineExceeded } => Unavailable,
        _ => Error,
    };
}
