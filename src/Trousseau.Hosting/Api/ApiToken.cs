using System.Buffers.Text;
using System.Security.Cryptography;
using System.Text;
using Microsoft.Extensions.Options;

namespace Trousseau.Hosting.Api;

/// <summary>
/// The API bearer token: read from its file, or made with a cryptographic RNG and written there (0600) on first
/// start. An existing file that group or others may use is refused: whoever can read it holds the API. Only its
/// SHA-256 is kept, and presented tokens are compared by hash in constant time.
/// </summary>
internal sealed class ApiToken
{
    private const int TokenBytes = 32;

    private readonly Lazy<byte[]> _hash;

    public ApiToken(IOptions<TrousseauApiOptions> options)
    {
        var path = options.Value.Auth.TokenFile;
        _hash = new Lazy<byte[]>(() => SHA256.HashData(Encoding.UTF8.GetBytes(LoadOrCreate(path!))));
    }

    /// <summary>Reads or creates the token file now, so that a start fails early when it cannot.</summary>
    public void Load() => _ = _hash.Value;

    public bool Matches(string presented) =>
        CryptographicOperations.FixedTimeEquals(SHA256.HashData(Encoding.UTF8.GetBytes(presented)), _hash.Value);

    private static string LoadOrCreate(string path)
    {
        if (!File.Exists(path))
        {
            var created = Base64Url.EncodeToString(RandomNumberGenerator.GetBytes(TokenBytes));
            if (OwnerOnlyFile.WriteAtomically(path, Encoding.UTF8.GetBytes(created + "\n"), overwrite: false))
            {
                return created;
            }
        }

        if (OwnerOnlyFile.OpenModeOrNull(path) is { } mode)
        {
            var fullPath = Path.GetFullPath(path);
            throw new IOException(
                $"The API token file {fullPath} has mode {Convert.ToString((int)mode, 8).PadLeft(4, '0')}, which lets group or others read or change it; "
                + $"run 'chmod 600 {fullPath}' (and replace the token if someone else may have read it), then start again.");
        }

        var token = File.ReadAllText(path).Trim();
        if (token.Length == 0)
        {
            var fullPath = Path.GetFullPath(path);
            throw new IOException(
                $"The API token file {fullPath} is empty; write the token into it, or remove it ('rm {fullPath}') to have a new one made, then start again.");
        }

        return token;
    }
}
