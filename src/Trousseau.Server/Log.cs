using Microsoft.Extensions.Logging;

namespace Trousseau.Server;

/// <summary>trousseaud's own log messages.</summary>
internal static partial class Log
{
    [LoggerMessage(EventId = 9000, Level = LogLevel.Information, Message = "trousseaud {Version} started: key provider {KeyProvider}, store {Store}, data directory {DataDir}")]
    public static partial void Started(ILogger logger, string version, string keyProvider, string store, string dataDir);

    [LoggerMessage(EventId = 9001, Level = LogLevel.Warning, Message = "The changed configuration is not taken: {Reason} The settings in use stay until a change validates.")]
    public static partial void ChangeNotTaken(ILogger logger, string reason);
}
