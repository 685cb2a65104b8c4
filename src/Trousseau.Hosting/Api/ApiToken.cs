using System.Buffers.Text;
using System.Security.Cryptography;
using System.Text;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace Trousseau.Hosting.Api;

/// <summary>
/// The API bearer token: read from its file, or made with a cryptographic RNG and written there (0600) on first
/// start. An existing file that group or others may use is refused: whoever can read it holds the API. Only its
/// SHA-256 is kept, and presented tokens are compared by hash in constant time.
/// </summary>
/// <remarks>
/// The file is read again when it changes, so that an operator rotates the token by writing a new one into it while
/// the server runs: each check compares the file's identity, modification time, size and mode (through any symbolic
/// link; one statx on Linux) with those last seen (<see cref="FileStamp"/>), and reads it again when they differ, or
/// when it had been written less than 2 s before it was last read (<see cref="FileLook"/>: a rewrite within one tick
/// of the file system's clock can leave them all the same); from the first request that sees the change on, only the
/// new token is accepted. A changed file that cannot be used (removed, empty, over 4 KiB, not a regular file, open to
/// group or others, unreadable) leaves the token in use, with one warning until the file changes again.
/// </remarks>
internal sealed partial class ApiToken(IOptions<TrousseauApiOptions> options, ILogger<ApiToken> logger)
{
    private const int TokenBytes = 32;

    private readonly Lock _gate = new();
    private Loaded? _loaded;
    private byte[]? _nativeTokenFile;

    /// <summary>Reads or creates the token file now, so that a start fails early when it cannot.</summary>
    public void Load() => _ = Current;

    public bool Matches(string presented) =>
        CryptographicOperations.FixedTimeEquals(SHA256.HashData(Encoding.UTF8.GetBytes(presented)), Current.Hash);

    // Read when the token is first used: in the modes without a token, no token file is set.
    private string TokenFile => options.Value.Auth.TokenFile!;

    private Loaded Current
    {
        get
        {
            // Looked at on each request: the path is encoded once.
            var stamp = FileStamp.Of(TokenFile, _nativeTokenFile ??= Libc.PathOf(TokenFile));
            return Volatile.Read(ref _loaded) is { } loaded && loaded.Look.IsCurrent(stamp) ? loaded : Reload(stamp);
        }
    }

    private Loaded Reload(FileStamp stamp)
    {
        lock (_gate)
        {
            var look = FileLook.Take(TokenFile);
            if (_loaded is not { } previous)
            {
                var first = new Loaded(Hash(LoadOrCreate(TokenFile)), look, Unusable: false);
                Volatile.Write(ref _loaded, first);
                return first;
            }

            if (previous.Look.IsCurrent(stamp))
            {
                return previous;
            }

            Loaded next;
            var fullPath = Path.GetFullPath(TokenFile);
            try
            {
                next = new Loaded(Hash(ReadExisting(TokenFile, atStart: false)), look, Unusable: false);
                if (!CryptographicOperations.FixedTimeEquals(next.Hash, previous.Hash))
                {
                    LogReplaced(logger, fullPath);
                }
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                // A file read again while it settles and still unusable is warned about once.
                next = previous with { Look = look, Unusable = true };
                if (!previous.Unusable || previous.Look.Stamp != look.Stamp)
                {
                    var reason = e is FileNotFoundException or DirectoryNotFoundException
                        ? $"The API token file {fullPath} does not exist; put the token back: write it into the file, or, for a file mounted from a Kubernetes Secret, into the Secret, whose new version kubelet swaps in. A restart makes a new token only where trousseaud may create the file."
                        : e.Message;
                    LogUnusable(logger, reason);
                }
            }

            Volatile.Write(ref _loaded, next);
            return next;
        }
    }

    private static byte[] Hash(string token) => SHA256.HashData(Encoding.UTF8.GetBytes(token));

    private string LoadOrCreate(string path)
    {
        if (!File.Exists(path))
        {
            var created = Base64Url.EncodeToString(RandomNumberGenerator.GetBytes(TokenBytes));
            if (OwnerOnlyFile.WriteAtomically(path, Encoding.UTF8.GetBytes(created + "\n"), overwrite: false))
            {
                DeleteTemporaries(path);
                return created;
            }
        }

        var token = ReadExisting(path, atStart: true);
        DeleteTemporaries(path);
        return token;
    }

    /// <summary>
    /// Deletes the temporary files a start killed while it wrote a new token left beside the file: their tokens never
    /// took effect. Only once the file exists: a process creating it at the same moment then finds it there and reads
    /// it, whether or not its own temporary file was deleted.
    /// </summary>
    private void DeleteTemporaries(string path)
    {
        if (OwnerOnlyFile.DeleteTemporaries(path) is > 0 and var deleted)
        {
            LogTemporariesDeleted(logger, Path.GetFullPath(path), deleted);
        }
    }

    /// <summary>
    /// Reads the token of an existing file; the message of a file that cannot be used says what to do, and, at
    /// start, to start again. In a directory that group or others may write, a symbolic link or another user's file at
    /// its path is refused: whoever put it there would choose the token.
    /// </summary>
    private static string ReadExisting(string path, bool atStart)
    {
        string token;
        using (var file = SharedDirectoryFile.Open(path, FileMode.Open, FileAccess.Read, FileShare.Read))
        {
            if (OwnerOnlyFile.OpenModeOrNull(file.SafeFileHandle) is { } mode)
            {
                var fullPath = Path.GetFullPath(path);
                throw new IOException(
                    $"The API token file {fullPath} has mode {Convert.ToString((int)mode, 8).PadLeft(4, '0')}, which lets group or others read or change it; "
                    + $"run 'chmod 600 {fullPath}' (and replace the token if someone else may have read it)" + (atStart ? ", then start again." : "."));
            }

            token = ReadBounded(file, path, atStart);
        }

        if (token.Length == 0)
        {
            var fullPath = Path.GetFullPath(path);
            throw new IOException(
                atStart
                    ? $"The API token file {fullPath} is empty; write the token into it, or remove it ('rm {fullPath}') to have a new one made, then start again."
                    : $"The API token file {fullPath} is empty; write the token into it.");
        }

        return token;
    }

    /// <summary>The file's text; a file larger than <see cref="TokenFileText.MaxBytes"/> holds no token and is refused.</summary>
    private static string ReadBounded(FileStream file, string path, bool atStart)
    {
        if (TokenFileText.Read(file) is { } text)
        {
            return text;
        }

        var fullPath = Path.GetFullPath(path);
        throw new IOException(
            $"The API token file {fullPath} is larger than {TokenFileText.MaxBytes} bytes, which no API token is (trousseaud makes them 43 characters long); "
            + "write the token alone into it" + (atStart ? $", or remove it ('rm {fullPath}') to have a new one made, then start again." : "."));
    }

    [LoggerMessage(EventId = 5101, Level = LogLevel.Information, Message = "The API token file {TokenFile} holds a new API token; requests must present it from now on, and the previous token is refused.")]
    private static partial void LogReplaced(ILogger logger, string tokenFile);

    [LoggerMessage(EventId = 5103, Level = LogLevel.Warning, Message = "Deleted {Count} temporary files beside the API token file {TokenFile} that a start killed while it wrote a new token left behind; their tokens never took effect.")]
    private static partial void LogTemporariesDeleted(ILogger logger, string tokenFile, int count);

    [LoggerMessage(EventId = 5102, Level = LogLevel.Warning, Message = "The API token file changed but cannot be used: {Reason} Requests are checked against the token read before until the file changes again.")]
    private static partial void LogUnusable(ILogger logger, string reason);

    /// <summary>The token's hash, the look at the file taken before it was read, and whether that read failed.</summary>
    private sealed record Loaded(byte[] Hash, FileLook Look, bool Unusable);
}
