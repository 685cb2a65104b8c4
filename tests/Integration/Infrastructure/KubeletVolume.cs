using System.Runtime.InteropServices;
using System.Text;

namespace Trousseau.Tests.Integration.Infrastructure;

/// <summary>
/// A Secret, ConfigMap or projected volume as kubelet's atomic writer lays it out: the volume directory mode 1777 (a
/// tmpfs as kubelet mounts it), each version of the files in a timestamped directory (<c>..2026_11_27_10_00_00.N</c>),
/// <c>..data</c> a symbolic link to the current one, and each visible file a link through it (<c>token -&gt;
/// ..data/token</c>). An update writes a new directory, renames a new <c>..data</c> link over the old one, then removes
/// the old directory.
/// </summary>
public sealed class KubeletVolume
{
    private const UnixFileMode Sticky1777 = UnixFileMode.StickyBit
        | UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute
        | UnixFileMode.GroupRead | UnixFileMode.GroupWrite | UnixFileMode.GroupExecute
        | UnixFileMode.OtherRead | UnixFileMode.OtherWrite | UnixFileMode.OtherExecute;

    private readonly UnixFileMode _fileMode;
    private string _current;
    private int _generation;

    private KubeletVolume(string directory, UnixFileMode fileMode, IReadOnlyDictionary<string, string> files)
    {
        Directory = directory;
        _fileMode = fileMode;
        _current = WriteGeneration(files);
    }

    /// <summary>The volume's mount point.</summary>
    public string Directory { get; }

    /// <summary>
    /// Makes the volume at <paramref name="directory"/> holding <paramref name="files"/> (name → text), each with
    /// <paramref name="fileMode"/> (a volume's <c>defaultMode</c>).
    /// </summary>
    public static KubeletVolume Create(string directory, UnixFileMode fileMode, IReadOnlyDictionary<string, string> files)
    {
        System.IO.Directory.CreateDirectory(directory);
        File.SetUnixFileMode(directory, Sticky1777);
        var volume = new KubeletVolume(directory, fileMode, files);
        File.CreateSymbolicLink(Path.Combine(directory, "..data"), volume._current);
        foreach (var name in files.Keys)
        {
            File.CreateSymbolicLink(volume.PathOf(name), Path.Combine("..data", name));
        }

        return volume;
    }

    /// <summary>The path a container reads a file at: <c>&lt;volume&gt;/name</c>, a link through <c>..data</c>.</summary>
    public string PathOf(string name) => Path.Combine(Directory, name);

    /// <summary>Updates the files as kubelet does: a new directory, <c>..data</c> renamed over, the old directory removed.</summary>
    public void Update(IReadOnlyDictionary<string, string> files)
    {
        var previous = _current;
        _current = WriteGeneration(files);
        PointDataAtCurrent();
        System.IO.Directory.Delete(Path.Combine(Directory, previous), recursive: true);
    }

    /// <summary>
    /// The first half of an update whose old directory goes before <c>..data</c> points at the new one: the new
    /// directory written and the old one removed, so that every visible file is missing until <see cref="FinishUpdate"/>.
    /// </summary>
    public void BeginUpdateWithGap(IReadOnlyDictionary<string, string> files)
    {
        var previous = _current;
        _current = WriteGeneration(files);
        System.IO.Directory.Delete(Path.Combine(Directory, previous), recursive: true);
    }

    /// <summary>The second half of <see cref="BeginUpdateWithGap"/>: <c>..data</c> renamed over, pointing at the new directory.</summary>
    public void FinishUpdate() => PointDataAtCurrent();

    private void PointDataAtCurrent()
    {
        var swap = Path.Combine(Directory, "..data_tmp");
        File.CreateSymbolicLink(swap, _current);
        if (Rename(Encoding.UTF8.GetBytes(swap + '\0'), Encoding.UTF8.GetBytes(Path.Combine(Directory, "..data") + '\0')) != 0)
        {
            throw new IOException($"rename {swap}: errno {Marshal.GetLastPInvokeError()}");
        }
    }

    private string WriteGeneration(IReadOnlyDictionary<string, string> files)
    {
        var name = $"..2026_11_27_10_00_00.{++_generation}";
        var directory = System.IO.Directory.CreateDirectory(Path.Combine(Directory, name)).FullName;
        foreach (var (file, text) in files)
        {
            var path = Path.Combine(directory, file);
            File.WriteAllText(path, text);
            File.SetUnixFileMode(path, _fileMode);
        }

        return name;
    }

    /// <summary>rename(2), as kubelet swaps <c>..data</c>; File.Move refuses a link to a directory.</summary>
    [DllImport("libc", EntryPoint = "rename", SetLastError = true)]
    [DefaultDllImportSearchPaths(DllImportSearchPath.SafeDirectories)]
    private static extern int Rename(byte[] oldPath, byte[] newPath);
}
