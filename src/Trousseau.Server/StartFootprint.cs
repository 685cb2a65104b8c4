namespace Trousseau.Server;

/// <summary>
/// What was on disk before trousseaud began to create its files, so that a start that fails afterwards (the host's
/// own start: a port Kestrel cannot bind) takes away what it made and leaves nothing new: beside each file it may
/// create (the key ring, the store, the audit trail, the KMS socket, the API token file), the entries named after it
/// that were not there (the file, its lock, its write-ahead log, a temporary copy), then the directories on their
/// paths that did not exist, the data directory among them, once empty. What was there before is never touched.
/// </summary>
internal sealed class StartFootprint
{
    private readonly List<(string Directory, string Name, HashSet<string> Before)> _files = [];
    private readonly List<string> _newDirectories = [];

    /// <summary>Notes what is there now beside each of <paramref name="files"/>, before any of them is created.</summary>
    public static StartFootprint Before(IEnumerable<string> files)
    {
        var footprint = new StartFootprint();
        foreach (var file in files.Select(Path.GetFullPath).Distinct(StringComparer.Ordinal))
        {
            var (directory, name) = (Path.GetDirectoryName(file)!, Path.GetFileName(file));
            footprint._files.Add((directory, name, [.. NamedAfter(directory, name)]));
            for (var missing = directory; missing is not null && !Directory.Exists(missing); missing = Path.GetDirectoryName(missing))
            {
                if (!footprint._newDirectories.Contains(missing, StringComparer.Ordinal))
                {
                    footprint._newDirectories.Add(missing);
                }
            }
        }

        return footprint;
    }

    /// <summary>Deletes what the start created; once the host is stopped and disposed, so that nothing holds it open.</summary>
    public void Remove()
    {
        foreach (var (directory, name, before) in _files)
        {
            foreach (var entry in NamedAfter(directory, name).Where(e => !before.Contains(e) && File.Exists(e)))
            {
                Try(() => File.Delete(entry));
            }
        }

        foreach (var directory in _newDirectories.OrderByDescending(d => d.Length))
        {
            if (Directory.Exists(directory) && !Directory.EnumerateFileSystemEntries(directory).Any())
            {
                Try(() => Directory.Delete(directory));
            }
        }
    }

    private static List<string> NamedAfter(string directory, string name) =>
        Directory.Exists(directory)
            ? Directory.EnumerateFileSystemEntries(directory).Where(e => Path.GetFileName(e).StartsWith(name, StringComparison.Ordinal)).ToList()
            : [];

    private static void Try(Action delete)
    {
        try
        {
            delete();
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            // What cannot be deleted stays: the start's own failure is what the operator must hear about.
        }
    }
}
