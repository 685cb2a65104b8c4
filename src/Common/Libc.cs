using System.Runtime.InteropServices;
using System.Text;
using Microsoft.Win32.SafeHandles;

namespace Trousseau;

// Linked into every assembly that calls libc for a file, a lock, a link or standard output: the declarations are made
// once here, and a file that needs one call links this file rather than another's whole class.

/// <summary>
/// The libc calls Trousseau makes where .NET has no API for them, and the constants they take and give, as Linux
/// defines them unless noted.
/// </summary>
internal static class Libc
{
    public const int ReadOnly = 0; // O_RDONLY
    public const int WriteOnly = 1; // O_WRONLY
    public const int ReadWrite = 2; // O_RDWR
    public const int Create = 0x40; // O_CREAT
    public const int NonBlocking = 0x800; // O_NONBLOCK: no wait for a writer when a FIFO was put there; nothing for a regular file

    public const int ExclusiveNonBlocking = 2 | 4; // LOCK_EX | LOCK_NB
    public const int Unlock = 8; // LOCK_UN

    public const int NotPermitted = 1; // EPERM
    public const int NoSuchFile = 2; // ENOENT
    public const int Interrupted = 4; // EINTR
    public const int BadDescriptor = 9; // EBADF: closed, or open for reading only
    public const int WouldBlock = 11; // EAGAIN, EWOULDBLOCK
    public const int PermissionDenied = 13; // EACCES
    public const int AlreadyExists = 17; // EEXIST
    public const int IsDirectory = 21; // EISDIR: a directory opened for writing
    public const int InvalidArgument = 22; // EINVAL
    public const int BrokenPipe = 32; // EPIPE
    public const int TooManyLinks = 40; // ELOOP: what O_NOFOLLOW gives for a link
    public const int NotSupported = 95; // EOPNOTSUPP

    /// <summary>O_CLOEXEC, which differs between systems: on macOS and FreeBSD too, for fsync of a directory.</summary>
    public static readonly int CloseOnExec = OperatingSystem.IsMacOS() ? 0x1000000 : OperatingSystem.IsFreeBSD() ? 0x100000 : 0x80000;

    /// <summary>O_NOFOLLOW: 0100000 on arm, arm64 and powerpc, 0400000 on the other architectures .NET runs on.</summary>
    public static readonly int NoFollow = RuntimeInformation.ProcessArchitecture
        is Architecture.Arm or Architecture.Arm64 or Architecture.Armv6 or Architecture.Ppc64le ? 0x8000 : 0x20000;

    /// <summary>A path as libc takes it: UTF-8, zero-terminated.</summary>
    public static byte[] PathOf(string path) => Encoding.UTF8.GetBytes(path + "\0");

    /// <summary>open(2); <paramref name="mode"/> is used only when <see cref="Create"/> makes the file.</summary>
    [DllImport("libc", EntryPoint = "open", SetLastError = true)]
    [DefaultDllImportSearchPaths(DllImportSearchPath.SafeDirectories)]
    public static extern SafeFileHandle Open(byte[] path, int flags, int mode);

    /// <summary>flock(2).</summary>
    [DllImport("libc", EntryPoint = "flock", SetLastError = true)]
    [DefaultDllImportSearchPaths(DllImportSearchPath.SafeDirectories)]
    public static extern int Flock(SafeFileHandle handle, int operation);

    /// <summary>fsync(2).</summary>
    [DllImport("libc", EntryPoint = "fsync", SetLastError = true)]
    [DefaultDllImportSearchPaths(DllImportSearchPath.SafeDirectories)]
    public static extern int Fsync(SafeFileHandle handle);

    /// <summary>link(2): gives <paramref name="existing"/> the name <paramref name="created"/> too; fails when that name exists.</summary>
    [DllImport("libc", EntryPoint = "link", SetLastError = true)]
    [DefaultDllImportSearchPaths(DllImportSearchPath.SafeDirectories)]
    public static extern int Link(byte[] existing, byte[] created);

    /// <summary>write(2), from <paramref name="buffer"/> on, of at most <paramref name="count"/> bytes.</summary>
    [DllImport("libc", EntryPoint = "write", SetLastError = true)]
    [DefaultDllImportSearchPaths(DllImportSearchPath.SafeDirectories)]
    public static extern nint Write(int descriptor, ref byte buffer, nuint count);
}
