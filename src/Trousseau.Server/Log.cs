using Microsoft.Extensions.Logging;

namespace Trousseau.Server;

/// <summary>trousseaud's own log messages.</summary>
internal static partial class Log
{
    [LoggerMessage(EventId = 9000, Level = LogLevel.Information, Message = "trousseaud {Version} started: key provider {KeyProvider}, store {Store}, data directory {DataDir}")]
    public static partial void Started(ILogger logger, string version, string keyProvider, string store, string dataDir);

    [LoggerMessage(EventId = 9005, Level = LogLevel.Warning, Message = "The OpenTelemetry export of {Signals} to the OTLP endpoint did not finish within {Seconds} s of the stop; what it still held is dropped.")]
    public static partial void ExportCutAtStop(ILogger logger, string signals, double seconds);

    [LoggerMessage(EventId = 9001, Level = LogLevel.Warning, Message = "The changed configuration is not taken: {Reason}")]
    public static partial void ChangeNotTaken(ILogger logger, string reason);

    [LoggerMessage(EventId = 9002, Level = LogLevel.Warning, Message = "The data directory {DataDir} has mode {Mode}, which lets group or others add, replace or remove its files (a symbolic link where trousseaud writes, a token of their own): remove that access (chmod go-w) or choose another directory; a symbolic link or another user's file put there after the start is refused when trousseaud opens it, and what needs that file stops until it is removed.")]
    public static partial void DataDirectoryShared(ILogger logger, string dataDir, string mode);

    [LoggerMessage(EventId = 9003, Level = LogLevel.Warning, Message = "The changed configuration names a key that is no setting: {Reason} Nothing reads it, and the next start refuses it; the rest of the change is taken as usual.")]
    public static partial void ChangeNamesUnknownKey(ILogger logger, string reason);

    [LoggerMessage(EventId = 9004, Level = LogLevel.Warning, Message = "{Reason} This trousseaud serves all the same (its key ring, KMS plugin and audit trail work beside the other one), but its secret calls answer 503 until that process stops.")]
    public static partial void StoreInUseElsewhere(ILogger logger, string reason);
}
