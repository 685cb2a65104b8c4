using Microsoft.Extensions.Logging;

namespace Trousseau;

/// <summary>Every log message of Trousseau.Core. None carries a secret, a token or key material.</summary>
internal static partial class Log
{
    [LoggerMessage(1001, LogLevel.Debug, "New data key wrapped by {Provider} key {KeyId} (version {KeyVersion})")]
    public static partial void DataKeyCreated(ILogger logger, string provider, string keyId, uint keyVersion);

    [LoggerMessage(1101, LogLevel.Information, "Created local key ring {Path} with key {KeyId}")]
    public static partial void KeyRingCreated(ILogger logger, string path, string keyId);

    [LoggerMessage(1102, LogLevel.Information, "Rotated local key ring {Path}: current key is now {KeyId} (version {KeyVersion})")]
    public static partial void KeyRingRotated(ILogger logger, string path, string keyId, uint keyVersion);

    [LoggerMessage(1104, LogLevel.Warning, "Deleted {Count} temporary copies of local key ring {Path} that an interrupted write left behind")]
    public static partial void KeyRingTemporariesDeleted(ILogger logger, string path, int count);

    [LoggerMessage(1105, LogLevel.Information, "Local key ring {Path} was changed by another process: loaded key versions up to {KeyId} (version {KeyVersion})")]
    public static partial void KeyRingReloaded(ILogger logger, string path, string keyId, uint keyVersion);

    [LoggerMessage(1106, LogLevel.Warning, "Local key ring {Path} disappeared while in use; it is written again from the key versions held in memory")]
    public static partial void KeyRingWrittenFromMemory(ILogger logger, string path);

    [LoggerMessage(1201, LogLevel.Information, "Rotated the {Provider} key: new writes use {KeyId}")]
    public static partial void KeyRotated(ILogger logger, string provider, string keyId);

    [LoggerMessage(1202, LogLevel.Information, "Rewrapped {Count} stored secrets under {KeyId}; {Skipped} needed no move, {Failed} stay under an older key (events 1204 to 1206 name each)")]
    public static partial void Rewrapped(ILogger logger, long count, string keyId, long skipped, long failed);

    [LoggerMessage(1203, LogLevel.Information, "Rewrap in progress: {Checked} stored secrets checked, {Moved} moved to {KeyId} so far")]
    public static partial void RewrapProgress(ILogger logger, long @checked, long moved, string keyId);

    /// <summary>
    /// A rewrap left a record it cannot decrypt as it is. Its key comes from the store's listing, and may be no secret
    /// name (another program's key, any text): it is shown as <see cref="StoreKey"/> writes it.
    /// </summary>
    public static void RewrapSkipped(ILogger logger, string name) => LogRewrapSkipped(logger, StoreKey(name));

    [LoggerMessage(1204, LogLevel.Warning, "Rewrap left secret {Name} as it is: it cannot be decrypted (damaged, or written under a key this provider does not have)")]
    private static partial void LogRewrapSkipped(ILogger logger, string name);

    [LoggerMessage(1205, LogLevel.Warning, "Rewrap left secret {Name} under an older key: it was written again under an older key before each of {Attempts} attempts to move it (by an instance that has not yet seen the rotation); a later rewrap moves it")]
    public static partial void RewrapOutpaced(ILogger logger, string name, int attempts);

    [LoggerMessage(1206, LogLevel.Warning, "Rewrap left secret {Name} under an older key: the key provider wrapped its new data key under another key than the current {KeyId} at each of {Attempts} attempts (rotated again meanwhile, or answered by a Vault node that has not yet seen the rotation); a later rewrap moves it")]
    public static partial void RewrapUnsealed(ILogger logger, string name, string keyId, int attempts);

    [LoggerMessage(1207, LogLevel.Warning, "Listing left out secret {Name}: {Reason} Reading it answers the same error; delete it, or put back its record from a backup")]
    public static partial void ListingLeftOutDamagedRecord(ILogger logger, string name, string reason);

    /// <summary>A listing left out a store key that is no secret name, shown as <see cref="StoreKey"/> writes it.</summary>
    public static void ListingLeftOutForeignKey(ILogger logger, string key) => LogListingLeftOutForeignKey(logger, StoreKey(key));

    [LoggerMessage(1208, LogLevel.Warning, "Listing left out the store key {Key}: it is no secret name, so no record of Trousseau's (another program wrote it under the store's prefix, or it was copied there); remove it with that store's own tool")]
    private static partial void LogListingLeftOutForeignKey(ILogger logger, string key);

    /// <summary>
    /// A key read from the store as a log line may repeat it: whoever can write the store can give a key any text, so a
    /// control character (a line break that would forge a log line, an escape sequence that would rewrite a terminal)
    /// is written as an escape, and a key longer than any secret name is cut.
    /// </summary>
    private static string StoreKey(string key) => Excerpt.Escaped(key, TrousseauLimits.MaxNameLength);
}
