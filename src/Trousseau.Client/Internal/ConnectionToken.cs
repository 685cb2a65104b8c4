using Microsoft.Extensions.Options;

namespace Trousseau.Remote.Internal;

/// <summary>
/// The token of the client <c>AddTrousseauClient</c> registers: <see cref="TrousseauClientConnectionOptions.Token"/>,
/// or the text of <see cref="TrousseauClientConnectionOptions.TokenFile"/>, read again once the file has changed (its
/// identity, size, mode or modification time, through <see cref="FileStamp"/>; and each time while it had been written
/// less than a tick of the file system's clock before it was read, <see cref="FileLook"/>). A changed file that cannot be
/// used leaves the token read before in use.
/// </summary>
internal sealed class ConnectionToken(IOptions<TrousseauClientConnectionOptions> options)
{
    private readonly Lock _gate = new();
    private Loaded? _loaded;

    /// <summary>Whether a token is configured, in either way.</summary>
    public bool IsSet => !string.IsNullOrEmpty(options.Value.Token) || !string.IsNullOrEmpty(options.Value.TokenFile);

    /// <summary>The token to send now; <see langword="null"/> when none is configured.</summary>
    /// <exception cref="DependencyUnavailableException">
    /// The token file has never been read, and cannot be now (removed since the start, replaced by a FIFO...): no request
    /// is sent without it; the message names the file.
    /// </exception>
    public string? Current
    {
        get
        {
            var value = options.Value;
            if (string.IsNullOrEmpty(value.TokenFile))
            {
                return string.IsNullOrEmpty(value.Token) ? null : value.Token;
            }

            var stamp = FileStamp.Of(value.TokenFile);
            return Volatile.Read(ref _loaded) is { } loaded && loaded.Look.IsCurrent(stamp) ? loaded.Token : Reload(value.TokenFile);
        }
    }

    /// <summary>
    /// The token in the file at <paramref name="path"/>, opened as clectl opens its token file: without waiting for a
    /// FIFO's writer, and refused when it is not a regular file (<see cref="TokenFileText"/>).
    /// </summary>
    /// <exception cref="IOException">
    /// The file does not exist, cannot be opened or read, is not a regular file, is empty, or is larger than a token file
    /// is; the message names it.
    /// </exception>
    /// <exception cref="UnauthorizedAccessException">This process may not read the file.</exception>
    public static string Read(string path)
    {
        var fullPath = Path.GetFullPath(path);
        if (!File.Exists(fullPath))
        {
            throw new FileNotFoundException($"The token file {fullPath} does not exist.", fullPath);
        }

        using var file = TokenFileText.Open(fullPath);
        if (TokenFileText.NotRegular(file) is { } kind)
        {
            throw new IOException($"The token file {fullPath} is not a regular file but {kind}; it must be the file that holds the API token, as trousseaud writes it to api.token.");
        }

        var token = TokenFileText.Read(file)
            ?? throw new IOException($"The token file {fullPath} is larger than {TokenFileText.MaxBytes} bytes, which no API token is (trousseaud makes them 43 characters long); it must hold the token alone.");
        return token.Length > 0 ? token : throw new IOException($"The token file {fullPath} is empty; it must hold the API token, as trousseaud writes it to api.token.");
    }

    private string Reload(string path)
    {
        lock (_gate)
        {
            var look = FileLook.Take(path);
            try
            {
                var next = new Loaded(Read(path), look);
                Volatile.Write(ref _loaded, next);
                return next.Token;
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                // Being rewritten, or replaced by a file not yet usable: the token read before stays, and the file is
                // looked at again on the next call.
                return _loaded is { } previous
                    ? previous.Token
                    : throw new DependencyUnavailableException(TrousseauClient.Dependency, $"{e.Message.TrimEnd('.')}; no request was sent to trousseaud without the token it holds.", e);
            }
        }
    }

    /// <summary>The token read, and the look at the file taken before reading it.</summary>
    private sealed record Loaded(string Token, FileLook Look);
}
