using System.Runtime.InteropServices;

namespace Trousseau.Server;

/// <summary>
/// How many connections the HTTP server (<c>Api:Urls</c>) keeps open at once: the lower of half the process's open-file
/// limit (<c>RLIMIT_NOFILE</c>, which the .NET runtime raises to the hard limit as it starts) and as many connections as
/// half the memory the runtime may use holds, at <see cref="BytesPerConnection"/> each. A connection needs no token, so
/// without a limit anyone who can reach the port could take every file descriptor, and then the KMS socket, the store,
/// the audit trail and the runtime itself (which opens files to start threads and load code) fail; or every byte of
/// memory, with connections that each hold a request's headers (up to Kestrel's 32 KiB, besides TLS buffers), and then
/// the runtime ends the process. Past the limit, Kestrel closes each new connection as soon as it accepts it.
/// </summary>
internal static class ApiConnectionLimit
{
    /// <summary>
    /// The memory counted for one connection: more than one that holds Kestrel's 32 KiB of request headers over TLS
    /// takes (about 180 KiB, the TLS library's buffers outside the runtime's heap included).
    /// </summary>
    public const long BytesPerConnection = 256 * 1024;

    // RLIMIT_NOFILE on Linux.
    private const int OpenFilesResource = 7;
    private const ulong Unlimited = ulong.MaxValue;

    /// <summary>The lower of <see cref="FromOpenFileLimit"/> and <see cref="FromMemoryLimit"/>.</summary>
    public static long ForThisProcess() =>
        FromOpenFileLimit() is { } files ? Math.Min(files, FromMemoryLimit()) : FromMemoryLimit();

    /// <summary>Half the open-file limit; <see langword="null"/> (no limit) where there is none or it cannot be read.</summary>
    public static long? FromOpenFileLimit()
    {
        if (!OperatingSystem.IsLinux())
        {
            return null;
        }

        var limit = new ulong[2];
        return GetResourceLimit(OpenFilesResource, limit) == 0 && limit[0] != Unlimited
            ? Math.Max(1, (long)(limit[0] / 2))
            : null;
    }

    /// <summary>
    /// Half the memory the runtime may use (a container's memory limit, as the runtime reads it, else the machine's),
    /// at <see cref="BytesPerConnection"/> each.
    /// </summary>
    public static long FromMemoryLimit() =>
        Math.Max(1, GC.GetGCMemoryInfo().TotalAvailableMemoryBytes / 2 / BytesPerConnection);

    // getrlimit(2): struct rlimit is { rlim_cur, rlim_max }, two 64-bit values on 64-bit Linux.
    [DllImport("libc", EntryPoint = "getrlimit", SetLastError = true)]
    [DefaultDllImportSearchPaths(DllImportSearchPath.SafeDirectories)]
    private static extern int GetResourceLimit(int resource, [Out] ulong[] limit);
}
