using System.Runtime.InteropServices;

namespace Trousseau.Sqlite.Internal;

/// <summary>
/// The space left to this process on the file system that holds a path: statvfs(3)'s <c>f_bavail</c> (the blocks an
/// unprivileged process may still use, not counting those kept for root) times <c>f_frsize</c> (the unit those blocks
/// are counted in), one system call. On 64-bit Linux, where <c>struct statvfs</c> starts the same way in glibc and
/// musl; elsewhere what <see cref="DriveInfo.AvailableFreeSpace"/> says.
/// </summary>
internal static class FileSystemSpace
{
    // struct statvfs on 64-bit Linux: u64 f_bsize, u64 f_frsize, u64 f_blocks, u64 f_bfree, u64 f_bavail, then fields
    // not read here (112 bytes in all in glibc and musl).
    private const int StatusBytes = 128;
    private const int FragmentSizeOffset = 8;
    private const int AvailableBlocksOffset = 32;

    private static readonly bool s_statvfs = OperatingSystem.IsLinux() && Environment.Is64BitProcess;

    /// <summary>The bytes this process may still write on the file system holding <paramref name="path"/>, or null when it cannot be examined.</summary>
    /// <param name="path">An existing file or directory, in UTF-8 with a terminating zero byte.</param>
    public static long? Available(byte[] path)
    {
        if (s_statvfs)
        {
            var status = new byte[StatusBytes];
            if (Statvfs(path, status) != 0)
            {
                return null;
            }

            var bytes = (UInt128)BitConverter.ToUInt64(status, AvailableBlocksOffset) * BitConverter.ToUInt64(status, FragmentSizeOffset);
            return bytes > long.MaxValue ? long.MaxValue : (long)bytes;
        }

        try
        {
            return new DriveInfo(System.Text.Encoding.UTF8.GetString(path.AsSpan(0, path.Length - 1))).AvailableFreeSpace;
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException or ArgumentException)
        {
            return null;
        }
    }

    [DllImport("libc", EntryPoint = "statvfs", SetLastError = true)]
    [DefaultDllImportSearchPaths(DllImportSearchPath.SafeDirectories)]
    private static extern int Statvfs(byte[] path, [Out] byte[] status);
}
