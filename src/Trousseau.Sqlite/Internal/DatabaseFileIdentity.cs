using System.Runtime.InteropServices;
using System.Text;

namespace Trousseau.Sqlite.Internal;

/// <summary>
/// Which file a path leads to (following links): its device and inode, from one statx(2) on Linux. The store keeps the
/// identity of the file it opened and compares it with the path's before it uses the file, so that a database removed
/// or replaced while open (a restore made while the process runs) is noticed, instead of writes going on into the old
/// file, where they would be lost. Elsewhere, and where statx cannot be called, nothing is compared.
/// </summary>
internal readonly record struct DatabaseFileIdentity(uint DeviceMajor, uint DeviceMinor, ulong Inode)
{
    private const int CurrentDirectory = -100; // AT_FDCWD
    private const uint InodeField = 0x100; // STATX_INO
    private const int NotPermitted = 1; // EPERM
    private const int NotImplemented = 38; // ENOSYS

    // struct statx is the same on every Linux architecture: stx_ino at byte 32, stx_dev_major and stx_dev_minor
    // (u32 each) at bytes 136 and 140, in 256 bytes.
    private const int StatusBytes = 256;
    private const int InodeOffset = 32;
    private const int DeviceMajorOffset = 136;
    private const int DeviceMinorOffset = 140;

    private static bool s_available = OperatingSystem.IsLinux();

    /// <summary>
    /// The identity of the file at <paramref name="path"/>; <see cref="Absent"/> when there is none (removed, or not
    /// reachable); <see langword="null"/> where statx cannot be called.
    /// </summary>
    /// <param name="path">The path, in UTF-8 with a terminating zero byte (see <see cref="PathBytes"/>).</param>
    public static DatabaseFileIdentity? Of(byte[] path)
    {
        if (!s_available)
        {
            return null;
        }

        try
        {
            var status = new byte[StatusBytes];
            if (Statx(CurrentDirectory, path, 0, InodeField, status) == 0)
            {
                return new DatabaseFileIdentity(
                    BitConverter.ToUInt32(status, DeviceMajorOffset),
                    BitConverter.ToUInt32(status, DeviceMinorOffset),
                    BitConverter.ToUInt64(status, InodeOffset));
            }

            if (Marshal.GetLastPInvokeError() is not NotImplemented and not NotPermitted)
            {
                return Absent;
            }
        }
        catch (EntryPointNotFoundException)
        {
            // A libc without statx (older than glibc 2.28 or musl 1.2.5): nothing is compared.
        }

        s_available = false;
        return null;
    }

    /// <summary>What <see cref="Of"/> answers for a path that leads to no file.</summary>
    public static DatabaseFileIdentity Absent => default;

    /// <summary><paramref name="path"/> as <see cref="Of"/> takes it.</summary>
    public static byte[] PathBytes(string path) => Encoding.UTF8.GetBytes(path + '\0');

    [DllImport("libc", EntryPoint = "statx", SetLastError = true)]
    [DefaultDllImportSearchPaths(DllImportSearchPath.SafeDirectories)]
    private static extern int Statx(int directory, byte[] path, int flags, uint mask, [Out] byte[] status);
}
