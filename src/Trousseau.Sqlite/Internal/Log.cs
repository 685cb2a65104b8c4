using Microsoft.Extensions.Logging;

namespace Trousseau.Sqlite.Internal;

/// <summary>The SQLite store's log messages.</summary>
internal static partial class Log
{
    [LoggerMessage(EventId = 3001, Level = LogLevel.Warning, Message = "SQLite store file {Path} had mode {Mode}, which let group or others use it; it is now 0600")]
    public static partial void FileModeTightened(ILogger logger, string path, string mode);

    [LoggerMessage(EventId = 3002, Level = LogLevel.Warning, Message = "SQLite store file {Path} has mode {Mode}, which lets group or others use it, and this process may not change it (it does not own the file): give it to the user trousseaud runs as and run 'chmod 600 {Path}'")]
    public static partial void FileModeOpen(ILogger logger, string path, string mode);

    [LoggerMessage(EventId = 3003, Level = LogLevel.Warning, Message = "SQLite store {Path}: a record's revision was above the store's revision counter (set by hand, or a table copied in from another file); the counter now continues from {Revision}, so that later writes never give a smaller revision nor reuse one")]
    public static partial void RevisionCounterCaughtUp(ILogger logger, string path, long revision);

    [LoggerMessage(EventId = 3004, Level = LogLevel.Warning, Message = "Deleted {Count} empty temporary files beside SQLite store {Path} that a process killed while it created the database left behind")]
    public static partial void TemporariesDeleted(ILogger logger, string path, int count);
}
