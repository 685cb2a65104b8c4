using System.Runtime.InteropServices;
using Microsoft.Win32.SafeHandles;

namespace Trousseau.Hosting.Audit;

/// <summary>
/// statx(2) of an open file on Linux, asking for one field only. Unlike fstat, reading a file's size this way does not
/// read its timestamps: since Linux 6.13, a file whose timestamps were read gets fine-grained ones at its next write,
/// an inode update on every write for a file whose size is read before each line, as the audit trail's is.
/// </summary>
internal sealed class LinuxFileStatus
{
    private const int AtEmptyPath = 0x1000;
    private const uint LinkCountField = 0x4; // STATX_NLINK
    private const uint SizeField = 0x200; // STATX_SIZE
    private const int NotPermitted = 1; // EPERM
    private const int NotImplemented = 38; // ENOSYS

    // struct statx is the same on every Linux architecture: u32 mask, u32 blksize, u64 attributes, u32 nlink, u32 uid,
    // u32 gid, u16 mode, u16 spare, u64 ino, u64 size, ...
    private const int StatusBytes = 256;
    private const int LinkCountOffset = 16;
    private const int SizeOffset = 40;

    private static readonly byte[] EmptyPath = [0];

    // Linux, with a libc that has statx (glibc 2.28, musl 1.2.5) and no seccomp profile refusing it.
    private static bool s_available = OperatingSystem.IsLinux();

    private readonly byte[] _status = new byte[StatusBytes];

    /// <summary>Whether statx can be called here (so far).</summary>
    public static bool IsAvailable => s_available;

    /// <summary>The file's link count (0 once it was deleted), or <see langword="null"/> where statx cannot be called.</summary>
    /// <param name="file">An open file.</param>
    public uint? LinkCount(SafeFileHandle file) => Read(file, LinkCountField) ? BitConverter.ToUInt32(_status, LinkCountOffset) : null;

    /// <summary>The file's size, or <see langword="null"/> where statx cannot be called.</summary>
    /// <param name="file">An open file.</param>
    public long? Size(SafeFileHandle file) => Read(file, SizeField) ? BitConverter.ToInt64(_status, SizeOffset) : null;

    private bool Read(SafeFileHandle file, uint field)
    {
        if (!s_available)
        {
            return false;
        }

        try
        {
            if (Statx(file, EmptyPath, AtEmptyPath, field, _status) == 0)
            {
                return true;
            }

            var error = Marshal.GetLastPInvokeError();
            if (error is not NotImplemented and not NotPermitted)
            {
                throw new IOException($"The audit trail's file cannot be examined (statx): {Marshal.GetPInvokeErrorMessage(error)}.");
            }
        }
        catch (EntryPointNotFoundException)
        {
            // A libc without statx: the callers fall back to what .NET offers.
        }

        s_available = false;
        return false;
    }

    [DllImport("libc", EntryPoint = "statx", SetLastError = true)]
    [DefaultDllImportSearchPaths(DllImportSearchPath.SafeDirectories)]
    private static extern int Statx(SafeFileHandle directory, byte[] path, int flags, uint mask, [Out] byte[] status);
}
