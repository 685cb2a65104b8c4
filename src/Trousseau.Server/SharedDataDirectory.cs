using Microsoft.Extensions.Logging;

namespace Trousseau.Server;

/// <summary>
/// A data directory that group or others may write: another user of the machine can put files there before trousseaud
/// starts, a symbolic link where trousseaud would write (to have it write, create or truncate a file of their choosing)
/// or a token or key ring of their own (to hold the API or read what is stored). trousseaud's own files found there as
/// a symbolic link or belonging to another user stop the start; the directory itself is warned about, since its files
/// can still be removed or replaced after the start (those trousseaud opens after the start, <see cref="SharedDirectoryFile"/>
/// refuses when they are links or another user's).
/// </summary>
internal static class SharedDataDirectory
{
    private const UnixFileMode WritableByOthers = UnixFileMode.GroupWrite | UnixFileMode.OtherWrite;

    /// <summary>
    /// Refuses, with one line naming the file and the fix, one of <paramref name="files"/> directly in
    /// <paramref name="dataDir"/> that is a symbolic link or belongs to neither root nor this process's user, when group
    /// or others may write <paramref name="dataDir"/>; then warns about that directory.
    /// </summary>
    /// <param name="dataDir">The data directory.</param>
    /// <param name="files">The paths of the files trousseaud reads, writes or creates.</param>
    /// <param name="logger">Where the warning goes.</param>
    /// <exception cref="IOException">A file in the directory may have been planted.</exception>
    public static void Check(string dataDir, IEnumerable<string> files, ILogger logger)
    {
        if (OperatingSystem.IsWindows() || !Directory.Exists(dataDir))
        {
            return;
        }

        dataDir = Path.GetFullPath(dataDir).TrimEnd('/');
        var mode = File.GetUnixFileMode(dataDir);
        if ((mode & WritableByOthers) == 0)
        {
            return;
        }

        var octal = Convert.ToString((int)mode, 8).PadLeft(4, '0');
        var where = $"in the data directory {dataDir}, which group or others may write (mode {octal})";
        var fix = $"remove that access (chmod go-w {dataDir}) or choose another directory with --data-dir, {ServerConfiguration.SectionName}:DataDir or TROUSSEAU_HOME.";
        foreach (var file in files.Select(Path.GetFullPath).Where(f => Path.GetDirectoryName(f) == dataDir).Distinct(StringComparer.Ordinal))
        {
            var info = new FileInfo(file);
            if (info.LinkTarget is { } target)
            {
                throw new IOException(
                    $"{file} is a symbolic link (to {target}) {where}: another user may have put it there to have trousseaud write where it leads. "
                    + $"Remove it (rm {file}) and {fix}");
            }

            if (info.Exists && LinuxFileStatus.StrangerOwning(file) is { } owner)
            {
                throw new IOException(
                    $"{file} belongs to user id {owner}, neither root nor the user trousseaud runs as (uid {LinuxFileStatus.EffectiveUserId()}), {where}: another user may have put it there. "
                    + $"Remove it (rm {file}) and {fix}");
            }
        }

        Log.DataDirectoryShared(logger, dataDir, octal);
    }
}
