
namespace Trousseau;

// Linked, with LinuxFileStatus.cs, into Trousseau.Core (the local key ring), Trousseau.Hosting (the API token file,
// the API's TLS files), Trousseau.Vault (the Vault token file), Trousseau.Client (the token file of AddTrousseauClient)
// and trousseaud (which checks the API token file before its host starts).

/// <summary>
/// What a look at a file sees, to tell a change without reading it: on Linux, from one statx following links, the file
/// the path leads to (device and inode), its size, permissions and last write time; elsewhere the same without the
/// identity, through a handle. The default when the file cannot be examined (absent, not permitted).
/// </summary>
internal readonly record struct FileStamp(FileIdentity File, long Length, UnixFileMode Mode, DateTime LastWriteUtc)
{
    /// <summary>Whether the look found a file it could examine.</summary>
    public bool Found => this != default;

    /// <summary>The file at <paramref name="path"/> as it is now.</summary>
    public static FileStamp Of(string path) => Of(path, Libc.PathOf(path));

    /// <summary>
    /// The file at <paramref name="path"/> as it is now, the path also given as <see cref="Libc.PathOf"/> made it, for a
    /// file looked at on each request.
    /// </summary>
    public static FileStamp Of(string path, byte[] nativePath)
    {
        if (LinuxFileStatus.OfPath(nativePath) is { } version)
        {
            return version == default
                ? default
                : new FileStamp(version.File, version.Size, version.Mode, DateTime.UnixEpoch.AddTicks((version.ModifiedSeconds * TimeSpan.TicksPerSecond) + (version.ModifiedNanoseconds / 100)));
        }

        try
        {
            using var handle = System.IO.File.OpenHandle(path);
            var mode = OperatingSystem.IsWindows() ? default : System.IO.File.GetUnixFileMode(handle);
            return new FileStamp(default, RandomAccess.GetLength(handle), mode, System.IO.File.GetLastWriteTimeUtc(handle));
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return default;
        }
    }
}

/// <summary>
/// A look at a file taken before reading it: the stamp it saw, and when it began by the system clock, the clock the
/// file system stamps files from. A stamp alone can miss a rewrite: one of the same size within the same tick of the
/// file system's clock leaves the same last write time. So the stamp is trusted only when the file had been written
/// at least one tick before the look; until then, each look reads the file again.
/// </summary>
internal sealed record FileLook(FileStamp Stamp, DateTime SeenAtUtc)
{
    /// <summary>
    /// How coarse a file system's clock can be: Linux stamps files from a clock that moves in ticks of up to 10 ms, and
    /// some file systems keep whole seconds (FAT two).
    /// </summary>
    private static readonly TimeSpan ClockTick = TimeSpan.FromSeconds(2);

    /// <summary>Looks at the file at <paramref name="path"/> now, before it is read.</summary>
    public static FileLook Take(string path)
    {
        var seenAt = TimeProvider.System.GetUtcNow().UtcDateTime;
        return new FileLook(FileStamp.Of(path), seenAt);
    }

    /// <summary>
    /// Whether the file, stamped <paramref name="now"/>, is still what this look read: the same stamp, and one that
    /// rules out a rewrite since, the file having been written at least one tick of the file system's clock before the
    /// look (a later write stamps it later).
    /// </summary>
    public bool IsCurrent(FileStamp now) => SeenAtUtc - Stamp.LastWriteUtc >= ClockTick && now == Stamp;
}
