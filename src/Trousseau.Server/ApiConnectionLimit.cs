using System.Runtime.InteropServices;

namespace Trousseau.Server;

/// <summary>
/// How many connections the HTTP server (<c>Api:Urls</c>) keeps open at once: half the process's open-file limit
/// (<c>RLIMIT_NOFILE</c>, which the .NET runtime raises to the hard limit as it starts). A connection needs no token, so
/// without a limit anyone who can reach the port could take every file descriptor, and then the KMS socket, the store,
/// the audit trail and the runtime itself (which opens files to start threads and load code) fail. Past the limit,
/// Kestrel closes each new connection as soon as it accepts it.
/// </summary>
internal static class ApiConnectionLimit
{
    // RLIMIT_NOFILE on Linux.
    private const int OpenFilesResource = 7;
    private const ulong Unlimited = ulong.MaxValue;

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

    // getrlimit(2): struct rlimit is { rlim_cur, rlim_max }, two 64-bit values on 64-bit Linux.
    [DllImport("libc", EntryPoint = "getrlimit", SetLastError = true)]
    [DefaultDllImportSearchPaths(DllImportSearchPath.SafeDirectories)]
    private static extern int GetResourceLimit(int resource, [Out] ulong[] limit);
}
