using Microsoft.Extensions.Logging;

namespace Trousseau.Etcd.Internal;

/// <summary>The etcd store's log messages. None carries a secret, a credential or a key.</summary>
internal static partial class Log
{
    [LoggerMessage(EventId = 2001, Level = LogLevel.Warning, Message = "etcd now answers as etcd cluster {Now}, not as etcd cluster {First} when trousseaud connected: it was rebuilt as a new cluster, and secrets written before are not in it unless it was restored from a snapshot. The store's health stays degraded until trousseaud restarts or etcd cluster {First} answers again")]
    public static partial void ClusterChanged(ILogger logger, string first, string now);

    [LoggerMessage(EventId = 2002, Level = LogLevel.Warning, Message = "etcd went back from revision {Reached} to revision {Now}: it started again without its data (on an empty data directory) or was restored from an older snapshot, and secrets written before are not in it unless it was restored from a snapshot that holds them. The store's health stays degraded until trousseaud restarts")]
    public static partial void RevisionWentBack(ILogger logger, long reached, long now);
}
