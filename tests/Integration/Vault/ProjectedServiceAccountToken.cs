using System.Runtime.InteropServices;
using System.Text;

namespace Trousseau.Tests.Integration.Vault;

/// <summary>
/// A projected service-account token volume as kubelet lays it out: the token in a timestamped directory,
/// <c>..data</c> a symlink to it, and <c>token</c> a symlink through <c>..data</c>. A rotation writes a new
/// directory and swaps <c>..data</c> atomically (a new link renamed over it), then removes the old directory.
/// </summary>
internal sealed class ProjectedServiceAccountToken
{
    private readonly string _directory;
    private string _current;
    private int _generation;

    private ProjectedServiceAccountToken(string directory, string jwt)
    {
        _directory = directory;
        Jwt = jwt;
        _current = WriteGeneration(jwt);
    }

    public string Jwt { get; private set; }

    /// <summary>The path a pod reads: <c>&lt;volume&gt;/token</c>.</summary>
    public string Path => System.IO.Path.Combine(_directory, "token");

    public static ProjectedServiceAccountToken Create(string directory, string jwt)
    {
        Directory.CreateDirectory(directory);
        var token = new ProjectedServiceAccountToken(directory, jwt);
        File.CreateSymbolicLink(System.IO.Path.Combine(directory, "..data"), token._current);
        File.CreateSymbolicLink(token.Path, System.IO.Path.Combine("..data", "token"));
        return token;
    }

    public void Rotate(string jwt)
    {
        var previous = _current;
        _current = WriteGeneration(jwt);
        var swap = System.IO.Path.Combine(_directory, "..data_tmp");
        File.CreateSymbolicLink(swap, _current);
        if (Rename(Encoding.UTF8.GetBytes(swap + '\0'), Encoding.UTF8.GetBytes(System.IO.Path.Combine(_directory, "..data") + '\0')) != 0)
        {
            throw new IOException($"rename {swap}: errno {Marshal.GetLastPInvokeError()}");
        }

        Directory.Delete(System.IO.Path.Combine(_directory, previous), recursive: true);
        Jwt = jwt;
    }

    /// <summary>What can go wrong with the file: it is <c>missing</c>, <c>empty</c>, or <c>a directory</c> (unreadable).</summary>
    public void Damage(string damage)
    {
        switch (damage)
        {
            case "missing":
                File.Delete(Path);
                break;
            case "empty":
                File.WriteAllText(System.IO.Path.Combine(_directory, _current, "token"), "");
                break;
            default:
                File.Delete(Path);
                Directory.CreateDirectory(Path);
                break;
        }
    }

    /// <summary>rename(2), as kubelet swaps <c>..data</c>; File.Move refuses a link to a directory.</summary>
    [DllImport("libc", EntryPoint = "rename", SetLastError = true)]
    [DefaultDllImportSearchPaths(DllImportSearchPath.SafeDirectories)]
    private static extern int Rename(byte[] oldPath, byte[] newPath);

    private string WriteGeneration(string jwt)
    {
        var name = $"..2026_11_26_12_00_00.{++_generation}";
        Directory.CreateDirectory(System.IO.Path.Combine(_directory, name));
        File.WriteAllText(System.IO.Path.Combine(_directory, name, "token"), jwt);
        return name;
    }
}
