using System.Buffers;
using System.Security.Cryptography;
using System.Text.Json;
using System.Text.Json.Serialization;
using Microsoft.Win32.SafeHandles;

namespace Trousseau;

/// <summary>
/// The key ring file (JSON, mode 0600) and the lock beside it. Format 2 keeps, for every key version, its key id
/// and a check value, and the latest version ever issued: a damaged or trimmed file is refused when it is read,
/// instead of failing every unwrap later. A format 1 file (no key ids, no check values) is read as it is and
/// written as format 2 at its next rotation. The keys go between the file and their arrays as base64 without ever
/// being a string or passing through a buffer that is not zeroed, so no copy of them outlives the ring in memory.
/// </summary>
internal static partial class LocalKeyRingFile
{
    private const int Format1 = 1;
    private const int Format2 = 2;
    private const string Dependency = $"key-provider:{LocalKeyRingProvider.ProviderName}";

    private const string RestoreIt = "restore it from a backup (a new key ring could not decrypt what the store holds)";

    // About 60,000 key versions: a bigger file is not a key ring, and is refused before it is read into memory.
    private const int MaxFileBytes = 16 << 20;

    private static readonly TimeSpan LockPatience = TimeSpan.FromSeconds(10);

    /// <summary>
    /// Reads and checks the whole ring. A file that group or others may use is refused rather than made 0600, as the API
    /// token file is: a chmod does not take back what someone else read. In a directory that group or others may
    /// write, a symbolic link or another user's file at its path is refused, not followed or read.
    /// </summary>
    /// <exception cref="IOException">The file cannot be read, group or others may use it, or another user may have put it there.</exception>
    /// <exception cref="InvalidDataException">A version, key, key id or check value is wrong or missing, or the file is above 16 MiB.</exception>
    /// <exception cref="JsonException">The file is not key ring JSON, or a key or check value is not base64.</exception>
    public static LocalKeyRing Read(string path)
    {
        byte[] bytes;
        using (var file = SharedDirectoryFile.Open(path, FileMode.Open, FileAccess.Read, FileShare.Read))
        {
            if (OwnerOnlyFile.OpenModeOrNull(file.SafeFileHandle) is { } mode)
            {
                throw new IOException(
                    $"it has mode {Convert.ToString((int)mode, 8).PadLeft(4, '0')}, which lets group or others read or change it; run 'chmod 600 {path}', "
                    + "and if someone else may have read it, rotate the key and rewrap the secrets (clectl key rotate, clectl key rewrap).");
            }

            var length = RandomAccess.GetLength(file.SafeFileHandle);
            if (length > MaxFileBytes)
            {
                throw new InvalidDataException($"it is {length} bytes, more than a key ring file holds (at most {MaxFileBytes >> 20} MiB): is it the key ring?");
            }

            bytes = new byte[length];
            try
            {
                ReadAll(file.SafeFileHandle, bytes);
            }
            catch
            {
                CryptographicOperations.ZeroMemory(bytes);
                throw;
            }
        }

        if (bytes.Length == 0)
        {
            throw new InvalidDataException($"it is empty: a write or a copy of it was cut short; {RestoreIt}");
        }

        KeyFile? parsed = null;
        try
        {
            parsed = JsonSerializer.Deserialize(bytes, KeyFileJson.Default.KeyFile) ?? throw new InvalidDataException("the file is empty");
            return Parse(parsed);
        }
        catch
        {
            // The keys a refused ring read are zeroed: those it loaded are disposed already, the others never were.
            foreach (var entry in parsed?.Keys ?? [])
            {
                CryptographicOperations.ZeroMemory(entry?.Key);
            }

            throw;
        }
        finally
        {
            CryptographicOperations.ZeroMemory(bytes);
        }
    }

    /// <summary>Replaces the file with <paramref name="ring"/> in format 2, all or nothing and flushed to disk.</summary>
    /// <exception cref="InvalidDataException">The ring would make a file above 16 MiB, which <see cref="Read"/> refuses.</exception>
    public static void Write(string path, LocalKeyRing ring)
    {
        var file = new KeyFile(
            Format2,
            ring.Id,
            ring.Current.Info.Version,
            [.. ring.Keys.Select(k => new KeyFileEntry(k.Info.Version, k.Info.KeyId, k.Created, k.Material, k.Check))]);

        // Not SerializeToUtf8Bytes: the serializer's own pooled buffer keeps the text it wrote, keys included.
        using var text = new ZeroedBufferWriter();
        using (var writer = new Utf8JsonWriter(text, new JsonWriterOptions { Indented = true }))
        {
            JsonSerializer.Serialize(writer, file, KeyFileJson.Default.KeyFile);
        }

        if (text.WrittenSpan.Length > MaxFileBytes)
        {
            throw new InvalidDataException($"with key version {ring.Current.Info.Version} it would be more than {MaxFileBytes >> 20} MiB, which a key ring file never holds");
        }

        try
        {
            OwnerOnlyFile.WriteAtomically(path, text.WrittenSpan, overwrite: true);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            throw new IOException(NotWritten(path, ex), ex);
        }
    }

    /// <summary>
    /// Why the ring could not be written, naming its directory and the cause, not the temporary file the write makes
    /// beside it (which the failed write removes): a full file system, or what <see cref="WritableLocation"/> finds
    /// keeps this process from creating files there (a read-only file system, the directory's mode or immutable
    /// attribute).
    /// </summary>
    private static string NotWritten(string path, Exception exception)
    {
        const int NoSpace = 28, QuotaExceeded = 122;
        var directory = Path.GetDirectoryName(Path.GetFullPath(path))!;
        var cause = exception is IOException { HResult: NoSpace or QuotaExceeded }
            ? $"the file system holding its directory {directory} is full"
            : WritableLocation.WhyNoFileCanBeCreatedIn(directory) is { } why
                ? $"its directory {directory} {why}, so this process may not create files there"
                : $"a new file in its directory {directory} could not be written ({exception.Message.Split(" : '")[0]})";
        return $"it cannot be written, since {cause}; the file is unchanged and the current key stays in use. Make the directory writable (or free space there) and try again: no restart is needed.";
    }

    /// <summary>
    /// Takes the exclusive advisory lock <c>&lt;path&gt;.lock</c> (created with mode 0600), waiting up to 10 s for
    /// another process or provider to release it. The system releases it when the process ends, even on a crash. In a
    /// directory that group or others may write, a symbolic link or another user's file at the lock's path is refused, and
    /// anywhere a lock path that is not a regular file (a FIFO), at once.
    /// </summary>
    /// <exception cref="DependencyUnavailableException">The lock stayed taken for 10 s.</exception>
    /// <exception cref="RefusedFileException">Another user may have put the lock file there, or it is not a regular file.</exception>
    public static IDisposable Lock(string path)
    {
        var lockPath = path + ".lock";
        OwnerOnlyFile.EnsureParentDirectory(lockPath);
        return SharedDirectoryFile.OpenLock(
            lockPath,
            LockPatience,
            held: ex => ex is not FileNotFoundException and not DirectoryNotFoundException and not RefusedFileException,
            stillHeld: ex => new DependencyUnavailableException(
                Dependency, $"The local key ring '{path}' has been locked by another process for {LockPatience.TotalSeconds:0} s (lock file {lockPath}).", ex));
    }

    /// <summary>Whether <paramref name="exception"/> is one that reading or writing the ring raises for a bad file.</summary>
    public static bool IsFileProblem(Exception exception) =>
        exception is IOException or UnauthorizedAccessException or JsonException or InvalidDataException;

    /// <summary>The error for a ring that cannot be used, naming the file; never the file's content.</summary>
    public static DependencyUnavailableException Unusable(string path, Exception exception) =>
        new(Dependency,
            $"The local key ring '{path}' cannot be used: {(exception is JsonException json ? NotJson(json) : exception.Message)}",
            exception is JsonException ? null : exception);

    /// <summary>Where the file stops being key ring JSON, never what it holds there.</summary>
    private static string NotJson(JsonException exception) =>
        $"it is not valid key ring JSON at line {(exception.LineNumber ?? 0) + 1}, byte {(exception.BytePositionInLine ?? 0) + 1}: it was cut short or edited; {RestoreIt}";

    private static LocalKeyRing Parse(KeyFile file)
    {
        if (file.Format is not (Format1 or Format2))
        {
            throw new InvalidDataException($"key ring format {file.Format} is not supported (this version reads formats {Format1} and {Format2})");
        }

        if (file.RingId is not { Length: 16 } || !file.RingId.All(char.IsAsciiHexDigitLower))
        {
            throw new InvalidDataException("ringId must be 16 lower-case hex digits");
        }

        if (file.Keys is not { Count: > 0 })
        {
            throw new InvalidDataException("it holds no key");
        }

        var count = file.Keys.Count;
        if (file.Format == Format2 && file.LatestVersion != count)
        {
            var held = count == 1 ? "version 1" : $"versions 1 to {count}";
            throw new InvalidDataException(file.LatestVersion > count
                ? $"key version {file.LatestVersion} was issued but the file holds key {held} only: it was damaged or edited; restore it from a backup"
                : $"it holds key {held}, beyond the latest version issued, {file.LatestVersion}: the file is damaged; restore it from a backup");
        }

        var keys = new List<LocalKeyRingKey>(count);
        try
        {
            foreach (var entry in file.Keys)
            {
                var position = (uint)keys.Count + 1;
                keys.Add(ParseKey(file, entry ?? throw new InvalidDataException($"its key at position {position} is null; restore the file from a backup"), expectedVersion: position));
            }
        }
        catch
        {
            keys.ForEach(k => k.Dispose());
            throw;
        }

        return new LocalKeyRing(file.RingId, [.. keys]);
    }

    private static LocalKeyRingKey ParseKey(KeyFile file, KeyFileEntry entry, uint expectedVersion)
    {
        if (entry.Version != expectedVersion)
        {
            throw new InvalidDataException($"key versions must count 1, 2, 3...; found {entry.Version} at position {expectedVersion}");
        }

        byte[]? check = null;
        if (file.Format == Format2)
        {
            if (entry.KeyId is null || entry.Check is null)
            {
                throw new InvalidDataException($"key version {entry.Version} has no keyId or no check value");
            }

            check = entry.Check;
        }

        return LocalKeyRingKey.Load(file.RingId, entry.Version, entry.KeyId, entry.Created, entry.Key ?? [], check);
    }

    /// <summary>
    /// Reads the whole file into <paramref name="bytes"/> straight from the handle: a stream's buffer would keep a copy
    /// of the keys' text that nothing zeroes.
    /// </summary>
    private static void ReadAll(SafeFileHandle file, byte[] bytes)
    {
        for (var read = 0; read < bytes.Length;)
        {
            var count = RandomAccess.Read(file, bytes.AsSpan(read), read);
            read += count > 0 ? count : throw new IOException("it became shorter while it was read");
        }
    }

    /// <summary>A growing buffer that zeroes each array it outgrows, and its last one when disposed.</summary>
    private sealed class ZeroedBufferWriter : IBufferWriter<byte>, IDisposable
    {
        private byte[] _buffer = new byte[4096];
        private int _written;

        public ReadOnlySpan<byte> WrittenSpan => _buffer.AsSpan(0, _written);

        public void Advance(int count) => _written += count;

        public Memory<byte> GetMemory(int sizeHint = 0) => Reserve(sizeHint).AsMemory(_written);

        public Span<byte> GetSpan(int sizeHint = 0) => Reserve(sizeHint).AsSpan(_written);

        public void Dispose() => CryptographicOperations.ZeroMemory(_buffer);

        private byte[] Reserve(int sizeHint)
        {
            var needed = _written + Math.Max(sizeHint, 1);
            if (needed > _buffer.Length)
            {
                var larger = new byte[Math.Max(needed, 2 * _buffer.Length)];
                WrittenSpan.CopyTo(larger);
                CryptographicOperations.ZeroMemory(_buffer);
                _buffer = larger;
            }

            return _buffer;
        }
    }

    internal sealed record KeyFile(
        [property: JsonPropertyName("format")] int Format,
        [property: JsonPropertyName("ringId")] string RingId,
        [property: JsonPropertyName("latestVersion")] uint LatestVersion,
        [property: JsonPropertyName("keys")] List<KeyFileEntry?> Keys);

    internal sealed record KeyFileEntry(
        [property: JsonPropertyName("version")] uint Version,
        [property: JsonPropertyName("keyId")] string? KeyId,
        [property: JsonPropertyName("created")] DateTimeOffset Created,
        [property: JsonPropertyName("key")] byte[] Key,
        [property: JsonPropertyName("check")] byte[]? Check);

    [JsonSerializable(typeof(KeyFile))]
    internal sealed partial class KeyFileJson : JsonSerializerContext;
}
