using System.Globalization;
using System.Text;

namespace Trousseau.Sqlite.Internal;

/// <summary>
/// Which process holds a <c>flock</c> on a file, as Linux lists it in <c>/proc/locks</c>, so that a refusal can name
/// the other process rather than only say that there is one. Only its id and short name (<c>/proc/PID/comm</c>) are
/// read: never its command line, which may hold a token. A process sets its short name as it likes, control characters
/// included: they are written as escapes, so that the name can neither rewrite a terminal nor forge a log line.
/// </summary>
internal static class LockHolder
{
    // The kernel keeps at most 15 bytes of a short name (TASK_COMM_LEN, less its terminating zero).
    private const int MaxNameLength = 15;

    /// <summary>
    /// <c>process 1234 (trousseaud)</c> for the process holding a lock on the file at <paramref name="path"/>, or
    /// <see langword="null"/> when the system does not say (not Linux, another PID namespace, the lock gone meanwhile).
    /// </summary>
    public static string? Describe(string path)
    {
        if (LinuxFileStatus.OfPath(Encoding.UTF8.GetBytes(path + '\0'))?.File is not { } file)
        {
            return null;
        }

        try
        {
            // "1: FLOCK  ADVISORY  WRITE 1234 08:01:5678 0 EOF": the pid, then the device (hex major:minor) and inode.
            var device = string.Create(CultureInfo.InvariantCulture, $"{file.DeviceMajor:x2}:{file.DeviceMinor:x2}:{file.Inode}");
            foreach (var line in File.ReadLines("/proc/locks"))
            {
                var fields = line.Split(' ', StringSplitOptions.RemoveEmptyEntries);
                if (fields is [_, "FLOCK", _, _, var pid, var where, ..] && where == device
                    && int.TryParse(pid, NumberStyles.None, CultureInfo.InvariantCulture, out var id) && id > 0)
                {
                    var name = File.Exists($"/proc/{id}/comm") ? ShortName(File.ReadAllText($"/proc/{id}/comm")) : null;
                    return string.IsNullOrEmpty(name) ? $"process {id}" : $"process {id} ({name})";
                }
            }
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            // /proc not there or not readable: the refusal says only that another process holds the file.
        }

        return null;
    }

    /// <summary>The name <c>/proc/PID/comm</c> gives, less the line feed the kernel ends it with, control characters escaped.</summary>
    private static string ShortName(string comm) =>
        Excerpt.Escaped(comm.EndsWith('\n') ? comm[..^1] : comm, MaxNameLength);
}
