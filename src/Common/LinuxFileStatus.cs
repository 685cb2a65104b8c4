using System.Runtime.InteropServices;
using Microsoft.Win32.SafeHandles;

namespace Trousseau;

// Linked into Trousseau.Hosting (the audit trail; through FileStamp.cs, the API token file and the TLS files),
// Trousseau.Sqlite (the database file), Trousseau.Kms (the owner of the socket's directory), and, for FileStamp.cs,
// Trousseau.Core (the local key ring), Trousseau.Vault (the Vault token file), Trousseau.Client (the token file of
// AddTrousseauClient) and trousseaud.

/// <summary>
/// statx(2) on Linux, asking only for the fields needed: unlike fstat, reading a file's size this way does not read its
/// timestamps (since Linux 6.13, a file whose timestamps were read gets fine-grained ones at its next write, an inode
/// update on every write for a file whose size is read before each line, as the audit trail's is,
/// <see cref="IdentityAndSize"/>). Of an open file: its link count, identity, owner and kind. Of a path, following
/// links: which file the path leads to and what identifies a version of it, in one system call (<see cref="OfPath"/>).
/// </summary>
internal sealed class LinuxFileStatus
{
    private const int AtEmptyPath = 0x1000;
    private const int NoFollow = 0x100; // AT_SYMLINK_NOFOLLOW
    private const int CurrentDirectory = -100; // AT_FDCWD
    private const uint Root = 0;
    private const uint ModeField = 0x2; // STATX_MODE
    private const uint LinkCountField = 0x4; // STATX_NLINK
    private const uint OwnerField = 0x8; // STATX_UID
    private const uint ModifiedField = 0x40; // STATX_MTIME
    private const uint InodeField = 0x100; // STATX_INO
    private const uint SizeField = 0x200; // STATX_SIZE
    private const int NotPermitted = 1; // EPERM
    private const int NotImplemented = 38; // ENOSYS
    private const int FileKindBits = 0xF000; // S_IFMT
    private const int RegularFileKind = 0x8000; // S_IFREG
    private const int DirectoryKind = 0x4000; // S_IFDIR
    private const int FifoKind = 0x1000; // S_IFIFO
    private const int SocketKind = 0xC000; // S_IFSOCK
    private const int CharacterDeviceKind = 0x2000; // S_IFCHR
    private const int BlockDeviceKind = 0x6000; // S_IFBLK

    // struct statx is the same on every Linux architecture: u32 mask, u32 blksize, u64 attributes, u32 nlink, u32 uid,
    // u32 gid, u16 mode, u16 spare, u64 ino, u64 size, u64 blocks, u64 attributes_mask, then the atime, btime, ctime
    // and mtime timestamps of 16 bytes each (i64 seconds, u32 nanoseconds, i32 reserved), then u32 rdev_major and
    // rdev_minor, and u32 dev_major and dev_minor.
    private const int StatusBytes = 256;
    private const int LinkCountOffset = 16;
    private const int OwnerOffset = 20;
    private const int ModeOffset = 28;
    private const int InodeOffset = 32;
    private const int SizeOffset = 40;
    private const int ModifiedOffset = 112;
    private const int DeviceMajorOffset = 136;
    private const int DeviceMinorOffset = 140;

    private static readonly byte[] EmptyPath = [0];

    // Linux, with a libc that has statx (glibc 2.28, musl 1.2.5) and no seccomp profile refusing it.
    private static bool s_available = OperatingSystem.IsLinux();

    // The buffer of the calls about a path (PathStatus).
    [ThreadStatic]
    private static byte[]? t_pathStatus;

    private readonly byte[] _status = new byte[StatusBytes];

    /// <summary>Whether statx can be called here (so far).</summary>
    public static bool IsAvailable => s_available;

    /// <summary>The file's link count (0 once it was deleted), or <see langword="null"/> where statx cannot be called.</summary>
    /// <param name="file">An open file.</param>
    public uint? LinkCount(SafeFileHandle file) => Read(file, LinkCountField) ? BitConverter.ToUInt32(_status, LinkCountOffset) : null;

    /// <summary>Which file it is (device and inode), or <see langword="null"/> where statx cannot be called.</summary>
    /// <param name="file">An open file.</param>
    public FileIdentity? Identity(SafeFileHandle file) => Read(file, InodeField) ? IdentityIn(_status) : null;

    /// <summary>
    /// Which file is at <paramref name="path"/>, following links, and its size, asking for these alone (not the
    /// timestamps, see the class's summary): one system call that tells both whether the path still leads to a file
    /// held open and how long that file is. <see cref="FileIdentity"/>'s default when nothing is there or it cannot be
    /// examined, and <see langword="null"/> where statx cannot be called.
    /// </summary>
    /// <param name="path">The path, in UTF-8 with a terminating zero byte.</param>
    public (FileIdentity File, long Size)? IdentityAndSize(byte[] path) => StatAt(path, InodeField | SizeField, _status) switch
    {
        true => (IdentityIn(_status), BitConverter.ToInt64(_status, SizeOffset)),
        false => (default, 0),
        null => null,
    };

    /// <summary>
    /// The user id that owns the file and, unless it is a regular file, what it is (<see cref="KindOf(int)"/>), or
    /// <see langword="null"/> where statx cannot be called.
    /// </summary>
    /// <param name="file">An open file.</param>
    public (uint Owner, string? NotRegular)? OwnerAndKind(SafeFileHandle file) =>
        Read(file, OwnerField | ModeField)
            ? (BitConverter.ToUInt32(_status, OwnerOffset), KindOf(BitConverter.ToUInt16(_status, ModeOffset)))
            : null;

    /// <summary>
    /// What the file at <paramref name="path"/> is, following links, when it is not a regular file ("a FIFO", "a
    /// socket", "a character device", "a block device", "a directory"); <see langword="null"/> for a regular file, when
    /// it cannot be examined (absent, not permitted) and where statx cannot be called.
    /// </summary>
    /// <param name="path">The path.</param>
    public static string? NotRegularAt(string path) =>
        StatAt(Libc.PathOf(path), ModeField, PathStatus) == true ? KindOf(BitConverter.ToUInt16(PathStatus, ModeOffset)) : null;

    /// <summary>
    /// The device, inode, size, permissions and modification time of the file at <paramref name="path"/>, following
    /// links; the default when it cannot be examined (absent, not permitted), and <see langword="null"/> where statx
    /// cannot be called.
    /// </summary>
    /// <param name="path">The path, in UTF-8 with a terminating zero byte.</param>
    public static PathVersion? OfPath(byte[] path)
    {
        var status = PathStatus;
        return StatAt(path, InodeField | SizeField | ModeField | ModifiedField, status) switch
        {
            true => new PathVersion(
                IdentityIn(status),
                BitConverter.ToInt64(status, SizeOffset),
                (UnixFileMode)(BitConverter.ToUInt16(status, ModeOffset) & 0xFFF),
                BitConverter.ToInt64(status, ModifiedOffset),
                BitConverter.ToUInt32(status, ModifiedOffset + 8)),
            false => default(PathVersion),
            null => null,
        };
    }

    /// <summary>
    /// The user id that owns the file at <paramref name="path"/>, following links; <see langword="null"/> when it cannot
    /// be examined (absent, not permitted) or where statx cannot be called.
    /// </summary>
    /// <param name="path">The path.</param>
    public static uint? OwnerOf(string path) =>
        StatAt(Libc.PathOf(path), OwnerField, PathStatus) == true ? BitConverter.ToUInt32(PathStatus, OwnerOffset) : null;

    /// <summary>
    /// The user id that owns what is at <paramref name="path"/> itself, a symbolic link rather than where it leads;
    /// <see langword="null"/> when it cannot be examined (absent, not permitted) or where statx cannot be called.
    /// </summary>
    /// <param name="path">The path.</param>
    public static uint? LinkOwnerOf(string path) =>
        StatAt(Libc.PathOf(path), OwnerField, PathStatus, NoFollow) == true ? BitConverter.ToUInt32(PathStatus, OwnerOffset) : null;

    /// <summary>
    /// The owner of the file at <paramref name="path"/> when it is neither root nor the user this process runs as: a
    /// user who may replace what is in a directory it owns, or who put a file there; <see langword="null"/> otherwise,
    /// and where the owner cannot be told.
    /// </summary>
    /// <param name="path">The path.</param>
    public static uint? StrangerOwning(string path) =>
        OperatingSystem.IsLinux() && OwnerOf(path) is { } owner && owner != Root && owner != EffectiveUserId() ? owner : null;

    /// <summary>The user id this process runs as.</summary>
    [DllImport("libc", EntryPoint = "geteuid")]
    [DefaultDllImportSearchPaths(DllImportSearchPath.SafeDirectories)]
    public static extern uint EffectiveUserId();

    /// <summary>The device and inode in a statx buffer (the device is filled whatever fields were asked for).</summary>
    private static FileIdentity IdentityIn(byte[] status) =>
        new(BitConverter.ToUInt32(status, DeviceMajorOffset), BitConverter.ToUInt32(status, DeviceMinorOffset), BitConverter.ToUInt64(status, InodeOffset));

    /// <summary>What a file of <paramref name="mode"/> (st_mode) is, unless it is a regular file.</summary>
    private static string? KindOf(int mode) => (mode & FileKindBits) switch
    {
        RegularFileKind => null,
        DirectoryKind => "a directory",
        FifoKind => "a FIFO",
        SocketKind => "a socket",
        CharacterDeviceKind => "a character device",
        BlockDeviceKind => "a block device",
        _ => "a file of another kind",
    };

    /// <summary>This thread's buffer for a path's status: the static calls come from many threads at once.</summary>
    private static byte[] PathStatus => t_pathStatus ??= new byte[StatusBytes];

    /// <summary>
    /// statx of <paramref name="path"/> (UTF-8, zero-terminated), following links unless <paramref name="flags"/> has
    /// <c>AT_SYMLINK_NOFOLLOW</c>, asking for <paramref name="mask"/>,
    /// into <paramref name="status"/>: true when it answered, false when the file cannot be examined (absent, not
    /// permitted), <see langword="null"/> where statx cannot be called, which holds from then on.
    /// </summary>
    private static bool? StatAt(byte[] path, uint mask, byte[] status, int flags = 0)
    {
        if (!s_available)
        {
            return null;
        }

        try
        {
            if (Statx(CurrentDirectory, path, flags, mask, status) == 0)
            {
                return true;
            }

            if (Marshal.GetLastPInvokeError() is not NotImplemented and not NotPermitted)
            {
                return false;
            }
        }
        catch (EntryPointNotFoundException)
        {
            // A libc without statx: the callers fall back to what .NET offers, or do without.
        }

        s_available = false;
        return null;
    }

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

    [DllImport("libc", EntryPoint = "statx", SetLastError = true)]
    [DefaultDllImportSearchPaths(DllImportSearchPath.SafeDirectories)]
    private static extern int Statx(int directory, byte[] path, int flags, uint mask, [Out] byte[] status);
}

/// <summary>What tells one version of a file from another: which file it is, its size, permissions and modification time.</summary>
internal readonly record struct PathVersion(FileIdentity File, long Size, UnixFileMode Mode, long ModifiedSeconds, uint ModifiedNanoseconds);

/// <summary>Which file it is: its device and inode, the same whatever path leads to it and whatever is written in it.</summary>
internal readonly record struct FileIdentity(uint DeviceMajor, uint DeviceMinor, ulong Inode);
