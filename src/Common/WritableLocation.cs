using System.Runtime.InteropServices;
using System.Text;

namespace Trousseau;

/// <summary>
/// Why a file cannot be written, or created, where a setting puts it: found by asking the file system (access(2)),
/// without creating or changing anything, so that a start can be refused before it leaves a file behind.
/// </summary>
internal static class WritableLocation
{
    /// <summary>
    /// Why the file at <paramref name="path"/> (a full path) cannot be written, or created with its directory, as a
    /// clause that follows the path ("which is a directory", "which is a FIFO, not a regular file", "whose directory /d
    /// is on a read-only file system"); <see langword="null"/> when nothing stands in the way that the file system tells
    /// of. The directory must be writable too, for the files written beside (a lock, a rotated copy).
    /// </summary>
    public static string? WhyFileCannotBeWritten(string path)
    {
        if (Directory.Exists(path))
        {
            return "which is a directory";
        }

        if (LinuxFileStatus.NotRegularAt(path) is { } kind)
        {
            return $"which is {kind}, not a regular file";
        }

        if (Path.GetDirectoryName(path) is { } directory && WhyNoFileCanBeCreatedIn(directory) is { } why)
        {
            return $"whose directory {directory} {why}";
        }

        return File.Exists(path) && Denied(path, Access.Write) is { } denied ? $"which {denied}" : null;
    }

    /// <summary>
    /// Why no file can be created in <paramref name="directory"/> (a full path), created first when missing, as a
    /// clause that follows the directory ("is on a read-only file system", "does not exist and cannot be created: /a
    /// is a file, not a directory"); <see langword="null"/> when nothing stands in the way that the file system tells of.
    /// </summary>
    public static string? WhyNoFileCanBeCreatedIn(string directory)
    {
        if (FileInTheWay(directory) is { } file)
        {
            return file == directory ? "is a file, not a directory" : $"does not exist and cannot be created: {file} is a file, not a directory";
        }

        var existing = directory;
        while (!Directory.Exists(existing))
        {
            if (Path.GetDirectoryName(existing) is not { } parent)
            {
                return null;
            }

            existing = parent;
        }

        if (Denied(existing, Access.Write | Access.Search) is not { } denied)
        {
            return null;
        }

        return existing == directory ? denied : $"does not exist and cannot be created: {existing} {denied}";
    }

    /// <summary>
    /// The file that keeps <paramref name="directory"/> from being a directory: the path itself, or the nearest of its
    /// parents that exists, when that is a file; <see langword="null"/> when there is none.
    /// </summary>
    public static string? FileInTheWay(string directory)
    {
        for (string? path = directory; path is not null && !Directory.Exists(path); path = Path.GetDirectoryName(path))
        {
            if (File.Exists(path))
            {
                return path;
            }
        }

        return null;
    }

    /// <summary>Why this process may not use <paramref name="path"/> as <paramref name="access"/> asks, as a clause that follows the path; <see langword="null"/> when it may.</summary>
    private static string? Denied(string path, int access)
    {
        if (OperatingSystem.IsWindows() || Access.Check(Encoding.UTF8.GetBytes(path + '\0'), access) == 0)
        {
            return null;
        }

        var error = Marshal.GetLastPInvokeError();
        return error switch
        {
            Access.ReadOnlyFileSystem => "is on a read-only file system",
            Access.NotPermitted => "is immutable (lsattr shows 'i'; chattr -i removes it)",
            Access.PermissionDenied => $"gives no write permission to the user this process runs as ({Environment.UserName})",
            _ => $"cannot be written: {Marshal.GetPInvokeErrorMessage(error)}",
        };
    }

    private static class Access
    {
        public const int Write = 2;
        public const int Search = 1;
        public const int NotPermitted = 1;
        public const int PermissionDenied = 13;
        public const int ReadOnlyFileSystem = 30;

        [DllImport("libc", EntryPoint = "access", SetLastError = true)]
        [DefaultDllImportSearchPaths(DllImportSearchPath.SafeDirectories)]
        public static extern int Check(byte[] path, int mode);
    }
}
