using Microsoft.Extensions.Logging;

namespace Trousseau.Etcd.Internal;

/// <summary>The etcd store's log messages.</summary>
internal static partial class Log
{
    [LoggerMessage(EventId = 2001, Level = LogLevel.Warning, Message = "The etcd watch of '{Prefix}' has failed {Failures} time(s) in {Seconds} s and is opened again with backoff of up to 5 s; until it works, changes under it are not followed (this warning repeats at most once a minute while it fails): {Reason}")]
    public static partial void WatchFailing(ILogger logger, string prefix, int failures, long seconds, string reason);

    [LoggerMessage(EventId = 2002, Level = LogLevel.Information, Message = "The etcd watch of '{Prefix}' works again at {Member}, after {Failures} failure(s) over {Seconds} s.")]
    public static partial void WatchWorksAgain(ILogger logger, string prefix, string member, int failures, long seconds);

    [LoggerMessage(EventId = 2003, Level = LogLevel.Debug, Message = "The etcd watch of '{Prefix}' failed and is opened again with backoff: {Reason}")]
    public static partial void WatchFailed(ILogger logger, string prefix, string reason);
}
