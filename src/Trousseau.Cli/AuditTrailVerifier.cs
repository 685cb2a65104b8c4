using System.Diagnostics;
using System.Globalization;
using System.Text.Json;

namespace Trousseau.Cli;

/// <summary>What <see cref="AuditTrailVerifier"/> found in one trail.</summary>
/// <param name="Trail">The current file, as given.</param>
/// <param name="Files">The files read, oldest first: the rotated ones (<c>FILE.N</c> … <c>FILE.1</c>), then FILE.</param>
/// <param name="Lines">The lines checked, in all files.</param>
/// <param name="StartsAtGenesis">
/// Whether the oldest line names the genesis value, so that nothing before it is missing; otherwise the oldest file
/// follows one that is no longer kept.
/// </param>
/// <param name="LastHash">The SHA-256 of the last line, which the next line will name; <see langword="null"/> for an empty trail.</param>
/// <param name="Break">Where and how the chain breaks, or <see langword="null"/> when it is whole.</param>
internal sealed record AuditTrailReport(string Trail, IReadOnlyList<string> Files, long Lines, bool StartsAtGenesis, string? LastHash, string? Break);

/// <summary>
/// Checks an audit trail's hash chain (see <see cref="AuditChain"/>) over its rotated files, oldest first: each line
/// must be a JSON object whose <c>prev</c> is the SHA-256 of the exact bytes of the line before it. The first line that
/// fails is named; a changed line shows as the line after it not following it. Lines cut from the end of the newest
/// file, or whole files from the oldest end, leave no trace in the chain itself: compare <c>LastHash</c> with a copy
/// kept elsewhere.
/// </summary>
internal static class AuditTrailVerifier
{
    private const int HashHexLength = 64;

    private static readonly TimeSpan LockPatience = TimeSpan.FromSeconds(5);

    public static AuditTrailReport Verify(string trail)
    {
        var opened = OpenTrail(trail);
        try
        {
            return Verify(trail, opened);
        }
        finally
        {
            foreach (var (_, stream, _) in opened)
            {
                stream.Dispose();
            }
        }
    }

    private static AuditTrailReport Verify(string trail, List<(string File, FileStream Stream, long Length)> opened)
    {
        var files = opened.ConvertAll(o => o.File);
        string? previousHash = null;
        string? previousPlace = null;
        var startsAtGenesis = false;
        long lines = 0;
        foreach (var (file, stream, length) in opened)
        {
            var number = 0;
            foreach (var (line, terminated) in ReadLines(stream, length))
            {
                number++;
                var place = $"{file} line {number}";
                if (line is null)
                {
                    return Broken($"{place} is not an audit record: it is longer than {AuditChain.MaxLineBytes.ToString(CultureInfo.InvariantCulture)} bytes, which no record is");
                }

                if (!terminated)
                {
                    return Broken($"{place} is incomplete (no line feed at its end): a write was cut short, or the file was cut");
                }

                if (Previous(line) is not { } prev)
                {
                    return Broken($"{place} is not an audit record: a JSON object whose \"{AuditChain.PreviousField}\" is a SHA-256 in lowercase hex");
                }

                if (previousHash is null)
                {
                    startsAtGenesis = prev == AuditChain.Genesis;
                }
                else if (prev != previousHash)
                {
                    return Broken(number == 1
                        ? $"{place} does not follow {previousPlace}: its \"prev\" is not the SHA-256 of that line; that line was changed, or lines were removed, inserted or reordered between them"
                        : $"{place} does not follow line {number - 1}: its \"prev\" is not the SHA-256 of line {number - 1}; line {number - 1} was changed, or lines were removed, inserted or reordered between them");
                }

                previousHash = AuditChain.Hash(line);
                previousPlace = place;
                lines++;
            }
        }

        return new AuditTrailReport(trail, files, lines, previousHash is null || startsAtGenesis, previousHash, null);

        AuditTrailReport Broken(string reason) => new(trail, files, lines, startsAtGenesis, previousHash, reason);
    }

    /// <summary>
    /// The trail's files, oldest first, each open with the length it had, as one snapshot: they are listed and opened
    /// holding a shared lock on <c>FILE.lock</c>, which trousseaud holds exclusively while it writes a line or rotates
    /// the files, so that a rotation under way is neither seen half done nor makes a file be read under another's
    /// name; the files are read after the lock is released, the current one up to the length it had (its lines then
    /// complete). A trail without a lock file (a copy) is opened as it is; one whose current file is missing beside rotated
    /// files is the rotated files.
    /// </summary>
    private static List<(string File, FileStream Stream, long Length)> OpenTrail(string trail)
    {
        var opened = new List<(string, FileStream, long)>();
        using var writers = HoldOffWriters(trail + ".lock");
        try
        {
            var rotated = RotatedPredecessors(trail).ToList();

            // A trousseaud killed during a rotation, after it renamed the full file and before it made the new one,
            // leaves rotated files without the current one: the chain is in them, and trousseaud makes the current
            // file again, its first line naming the last line of FILE.1.
            var current = rotated.Count > 0 && !File.Exists(trail) && !Directory.Exists(trail) ? [] : new[] { trail };
            foreach (var file in rotated.Concat(current))
            {
                var stream = Open(file);
                opened.Add((file, stream, stream.Length));
            }

            return opened;
        }
        catch
        {
            foreach (var (_, stream, _) in opened)
            {
                stream.Dispose();
            }

            throw;
        }
    }

    /// <summary>
    /// The lock file opened for reading, which on Unix takes a shared <c>flock</c> on it, waiting up to 5 s while a
    /// writer holds it; <see langword="null"/> when there is none or it cannot be opened.
    /// </summary>
    private static FileStream? HoldOffWriters(string lockFile)
    {
        var waiting = Stopwatch.StartNew();
        while (true)
        {
            try
            {
                return new FileStream(lockFile, FileMode.Open, FileAccess.Read, FileShare.ReadWrite);
            }
            catch (Exception e) when (e is FileNotFoundException or DirectoryNotFoundException or UnauthorizedAccessException)
            {
                return null;
            }
            catch (IOException) when (waiting.Elapsed < LockPatience)
            {
                // trousseaud is writing a line: a few microseconds.
                Thread.Sleep(1);
            }
            catch (IOException)
            {
                return null;
            }
        }
    }

    /// <summary>The rotated files of <paramref name="trail"/> (<c>FILE.1</c>, <c>FILE.2</c>, …) that exist, oldest (highest number) first.</summary>
    private static IEnumerable<string> RotatedPredecessors(string trail)
    {
        var directory = Path.GetDirectoryName(Path.GetFullPath(trail))!;
        var prefix = Path.GetFileName(trail) + ".";
        if (!Directory.Exists(directory))
        {
            return [];
        }

        return Directory.EnumerateFiles(directory)
            .Select(Path.GetFileName)
            .Where(name => name!.StartsWith(prefix, StringComparison.Ordinal))
            .Select(name => name![prefix.Length..])
            .Where(suffix => suffix.Length > 0 && suffix[0] != '0' && suffix.All(char.IsAsciiDigit))
            .Select(suffix => int.TryParse(suffix, NumberStyles.None, CultureInfo.InvariantCulture, out var generation) ? generation : 0)
            .Where(generation => generation > 0)
            .OrderDescending()
            .Select(generation => $"{trail}.{generation.ToString(CultureInfo.InvariantCulture)}");
    }

    private static FileStream Open(string file)
    {
        if (Directory.Exists(file))
        {
            throw new CliUsageException($"cannot read the audit file {file}: it is a directory; give a trail's current file, such as {Path.Combine(file, "audit.log")}.");
        }

        // Not File.OpenRead: a FIFO planted among the rotated files would have it wait for a writer for ever.
        try
        {
            return SharedDirectoryFile.Open(file, FileMode.Open, FileAccess.Read, FileShare.ReadWrite);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new CliUsageException($"cannot read the audit file {file}: {e.Message}");
        }
    }

    /// <summary>
    /// The first <paramref name="length"/> bytes of <paramref name="stream"/> in lines, split at line feeds only, as exact bytes without their line feed; a line
    /// longer than <see cref="AuditChain.MaxLineBytes"/> as <see langword="null"/>, the rest of it not kept in memory.
    /// </summary>
    private static IEnumerable<(byte[]? Line, bool Terminated)> ReadLines(Stream stream, long length)
    {
        var buffer = new byte[64 * 1024];
        var pending = new MemoryStream();
        var overlong = false;
        int read;
        while (length > 0 && (read = stream.Read(buffer, 0, (int)Math.Min(buffer.Length, length))) > 0)
        {
            length -= read;
            var chunk = buffer.AsMemory(0, read);
            int feed;
            while ((feed = chunk.Span.IndexOf((byte)'\n')) >= 0)
            {
                Keep(chunk.Span[..feed]);
                yield return (overlong ? null : pending.ToArray(), true);
                pending.SetLength(0);
                overlong = false;
                chunk = chunk[(feed + 1)..];
            }

            Keep(chunk.Span);
        }

        if (overlong || pending.Length > 0)
        {
            yield return (overlong ? null : pending.ToArray(), false);
        }

        // Adds part of the current line to what is kept of it, unless that makes it too long to be a record.
        void Keep(ReadOnlySpan<byte> part)
        {
            overlong |= pending.Length + part.Length > AuditChain.MaxLineBytes;
            if (overlong)
            {
                pending.SetLength(0);
            }
            else
            {
                pending.Write(part);
            }
        }
    }

    /// <summary>The line's <c>prev</c> when it is a JSON object with one that is a lowercase hex SHA-256, else <see langword="null"/>.</summary>
    private static string? Previous(byte[] line)
    {
        try
        {
            using var record = JsonDocument.Parse(line);
            return record.RootElement.ValueKind == JsonValueKind.Object
                && record.RootElement.TryGetProperty(AuditChain.PreviousField, out var prev)
                && prev.ValueKind == JsonValueKind.String
                && prev.GetString() is { Length: HashHexLength } hash
                && hash.All(c => char.IsAsciiDigit(c) || c is >= 'a' and <= 'f')
                ? hash
                : null;
        }
        catch (JsonException)
        {
            return null;
        }
    }
}
