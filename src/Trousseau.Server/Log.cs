using Microsoft.Extensions.Logging;

namespace Trousseau.Server;

/// <summary>trousseaud's own log messages.</summary>
internal static partial class Log
{
    [LoggerMessage(EventId = 9000, Level = LogLevel.Information, Message = "trousseaud {Version} started: key provider {KeyProvider}, store {Store}, data directory {DataDir}")]
    public static partial void Started(ILogger logger, string version, string keyProvider, string store, string dataDir);
}
