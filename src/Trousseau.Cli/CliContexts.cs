using System.Text.Json;
using System.Text.Json.Serialization;

namespace Trousseau.Cli;

/// <summary>
/// Named trousseaud instances ("contexts") and the one in use, kept in
/// <c>$XDG_CONFIG_HOME/trousseau/config.json</c> (else, or when it is not an absolute path,
/// <c>~/.config/trousseau/config.json</c>), mode 0600; with neither, nowhere.
/// </summary>
internal sealed class CliContexts
{
    private static readonly TimeSpan LockPatience = TimeSpan.FromSeconds(10);

    public string? Current { get; set; }

    public SortedDictionary<string, CliContext> Contexts { get; set; } = new(StringComparer.Ordinal);

    /// <summary>
    /// The contexts file, or <see langword="null"/> when there is no place for one: <c>$XDG_CONFIG_HOME</c> is not an
    /// absolute path and there is no home directory (<c>$HOME</c> unset or naming none, the user's own missing). Never a
    /// path relative to the working directory, where a checkout's <c>.config/trousseau/config.json</c> would take the
    /// token to its server.
    /// </summary>
    public static string? DefaultPath
    {
        get
        {
            // The XDG base directory spec has a relative path there ignored: it would move with the working directory.
            var configHome = Environment.GetEnvironmentVariable("XDG_CONFIG_HOME");
            if (string.IsNullOrEmpty(configHome) || !Path.IsPathFullyQualified(configHome))
            {
                // Empty when the home directory does not exist.
                var home = Environment.GetFolderPath(Environment.SpecialFolder.UserProfile);
                if (!Path.IsPathFullyQualified(home))
                {
                    return null;
                }

                configHome = Path.Combine(home, ".config");
            }

            return Path.Combine(configHome, "trousseau", "config.json");
        }
    }

    /// <summary>The contexts file that <c>context set</c>, <c>use</c> and <c>delete</c> write; a usage error when there is no place for one.</summary>
    public static string WritablePath => DefaultPath ?? throw new CliUsageException(
        "No place for clectl's contexts: $XDG_CONFIG_HOME is "
        + (string.IsNullOrEmpty(Environment.GetEnvironmentVariable("XDG_CONFIG_HOME")) ? "not set" : "not an absolute path")
        + " and there is no home directory (HOME is "
        + (Environment.GetEnvironmentVariable("HOME") is { Length: > 0 } home ? home : "not set")
        + "); set XDG_CONFIG_HOME or HOME to an absolute directory of yours.");

    /// <summary>The contexts in <paramref name="path"/>; none when there is no such file, or no place for one (<see langword="null"/>).</summary>
    public static CliContexts Load(string? path)
    {
        if (path is null)
        {
            return new CliContexts();
        }

        if (Directory.Exists(path))
        {
            throw Invalid(path, "it is a directory; remove it, and clectl context set writes the file.");
        }

        if (!File.Exists(path))
        {
            return new CliContexts();
        }

        CliContexts? contexts;
        try
        {
            contexts = JsonSerializer.Deserialize(File.ReadAllBytes(path), CliJson.Default.CliContexts);
        }
        catch (JsonException e)
        {
            // The serializer's message names .NET types and can quote a character of a stored token: keep the position.
            throw Invalid(path, $"problem at {e.Path ?? "$"} (line {e.LineNumber + 1}, byte {e.BytePositionInLine}); fix or remove it.");
        }

        if (contexts is null)
        {
            return new CliContexts();
        }

        if (contexts.Contexts is null)
        {
            throw Invalid(path, "'contexts' is null; it must be an object of named contexts.");
        }

        foreach (var (name, context) in contexts.Contexts)
        {
            if (context is null || string.IsNullOrWhiteSpace(context.Server))
            {
                throw Invalid(path, $"context '{name}' has no server; set one with 'clectl context set {name} --server URL', or remove it.");
            }
        }

        return contexts;
    }

    /// <summary>
    /// The warning for a contexts file at <paramref name="path"/> that others than the user clectl runs as may use, else
    /// <see langword="null"/>: one that belongs to another user (not root), who can change it whatever its mode, as ssh
    /// refuses such a config file; one that holds a token (<c>context set --token</c>) and that group or others can read
    /// or change; one that group or others can change, as after a <c>chmod</c> or a copy (clectl writes it 0600), where
    /// they could point a context's server at theirs and receive the token of its token file; else one whose directory
    /// group or others can change, where they could replace the file. None for a file that cannot be examined, which
    /// the commands that use contexts report.
    /// </summary>
    public static string? Exposure(string? path)
    {
        try
        {
            if (path is null || !File.Exists(path))
            {
                return null;
            }

            const string Redirect = "could point a context at a server of theirs and receive its token";
            if (LinuxFileStatus.StrangerOwning(path) is { } owner)
            {
                return $"{path} belongs to user id {owner}, not to you (uid {LinuxFileStatus.EffectiveUserId()}): that user {Redirect}; "
                    + $"make it yours: cp {path} {path}.new && mv {path}.new {path} && chmod 600 {path}.";
            }

            if (OwnerOnlyFile.OpenModeOrNull(path) is not { } mode)
            {
                return DirectoryExposure(path);
            }

            var octal = Convert.ToString((int)mode & 0x1FF, 8);
            if (HoldsToken(path))
            {
                return $"{path} holds an API token and others than its owner have access to it (mode {octal}); run chmod 600 {path}.";
            }

            return (mode & (UnixFileMode.GroupWrite | UnixFileMode.OtherWrite)) != 0
                ? $"{path} can be changed by others than its owner (mode {octal}): they {Redirect}; run chmod 600 {path}."
                : DirectoryExposure(path);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return null;
        }
    }

    /// <summary>
    /// The warning for the directory holding the contexts file at <paramref name="path"/> when group or others may
    /// change it (clectl creates it 0700): they could put a file of theirs in place of the contexts file.
    /// </summary>
    private static string? DirectoryExposure(string path)
    {
        var directory = Path.GetDirectoryName(Path.GetFullPath(path));
        if (OperatingSystem.IsWindows() || string.IsNullOrEmpty(directory))
        {
            return null;
        }

        var mode = File.GetUnixFileMode(directory);
        return (mode & (UnixFileMode.GroupWrite | UnixFileMode.OtherWrite)) != 0
            ? $"{directory}, the directory of {path}, can be changed by others than its owner (mode {Convert.ToString((int)mode & 0x1FF, 8)}): "
                + $"they could replace the file, point a context at a server of theirs and receive its token; run chmod 700 {directory}."
            : null;
    }

    /// <summary>The usage error for a context name that is not among <see cref="Contexts"/>, with the nearest names.</summary>
    public CliUsageException Unknown(string name)
    {
        var nearest = ParseErrors.Suggest(name, Contexts.Keys).Select(c => $"'{c}'").ToList();
        return new CliUsageException($"No context named '{name}'." + (nearest.Count > 0 ? $" Did you mean {string.Join(" or ", nearest)}?" : "") + " (see clectl context list)");
    }

    /// <summary>Whether the file holds a token; one clectl cannot read as contexts holds none that it would use.</summary>
    private static bool HoldsToken(string path)
    {
        try
        {
            return Load(path).Contexts.Values.Any(c => !string.IsNullOrEmpty(c.Token));
        }
        catch (CliUsageException)
        {
            return false;
        }
    }

    private static CliUsageException Invalid(string path, string problem) => new($"{path} is not a valid clectl configuration: {problem}");

    /// <summary>
    /// Takes the exclusive advisory lock <c>config.json.lock</c> beside the contexts file (flock(2), mode 0600), waiting
    /// up to 10 s for another clectl to release it, then deletes the temporary files a clectl killed while it saved the
    /// file left beside it (they may hold a context's token), with one warning on <paramref name="error"/>. The commands
    /// that change contexts hold it from their read to their save: two at once keep both changes, and a temporary file
    /// found under it is no live save's. The system releases it when clectl ends, however it ends. With
    /// <paramref name="create"/> false and no directory for the file, there is nothing to lock and nothing is created.
    /// </summary>
    public static async Task<IDisposable?> LockAsync(string path, bool create, TextWriter error)
    {
        var lockPath = path + ".lock";
        if (!create && !Directory.Exists(Path.GetDirectoryName(Path.GetFullPath(lockPath))))
        {
            return null;
        }

        try
        {
            OwnerOnlyFile.EnsureParentDirectory(lockPath);
        }
        catch (IOException e)
        {
            throw new CliUsageException($"No place for clectl's contexts: {e.Message.TrimEnd('.')}; set XDG_CONFIG_HOME or HOME to a directory of yours.");
        }

        var held = SharedDirectoryFile.OpenLock(
            lockPath,
            LockPatience,
            held: e => e.HResult == SharedDirectoryFile.LockedElsewhere,
            stillHeld: e => new IOException($"{path} has been locked by another clectl for {LockPatience.TotalSeconds:0} s (lock file {lockPath}); try again when it ends.", e));

        if (OwnerOnlyFile.DeleteTemporaries(path) is > 0 and var deleted)
        {
            await error.WriteLineAsync(
                $"clectl: warning: deleted {deleted} temporary {(deleted == 1 ? "file" : "files")} beside {path} that a clectl killed while it saved that file left behind; it may have held a context's token.");
        }

        return held;
    }

    public void Save(string path) =>
        OwnerOnlyFile.WriteAtomically(path, JsonSerializer.SerializeToUtf8Bytes(this, CliJson.Default.CliContexts), overwrite: true);
}

/// <summary>
/// One trousseaud instance clectl can talk to (or several, their URLs separated by commas in <c>Server</c>, tried in
/// order), with the file holding its API token or the token itself, and the paths (never the contents) of the CA file
/// and of the client certificate and key for TLS; <c>AllowInsecureHttp</c> (true, else absent) lets its token go over
/// plain http to its servers when they are not on this machine.
/// </summary>
internal sealed record CliContext(
    string Server,
    string? TokenFile,
    string? Token = null,
    string? CaFile = null,
    string? CertFile = null,
    string? KeyFile = null,
    bool? AllowInsecureHttp = null);

[JsonSourceGenerationOptions(JsonSerializerDefaults.Web, WriteIndented = true, DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull)]
[JsonSerializable(typeof(CliContexts))]
internal sealed partial class CliJson : JsonSerializerContext;
