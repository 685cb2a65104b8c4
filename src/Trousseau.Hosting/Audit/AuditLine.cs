using System.Buffers;
using System.Globalization;
using System.Text;
using System.Text.Json;

namespace Trousseau.Hosting.Audit;

/// <summary>
/// One record as one line of JSON, its fields always present and in this order: <c>time</c>, <c>source</c>,
/// <c>requestId</c>, <c>traceId</c>, <c>identity</c>, <c>action</c>, <c>secret</c>, <c>revision</c>, <c>outcome</c>,
/// <c>httpStatus</c>, <c>grpcStatus</c>, <c>remote</c>, <c>prev</c>; <see langword="null"/> where a field does not apply.
/// Characters outside ASCII are escaped, so a line is the same bytes in any encoding that extends ASCII. A line is made
/// in two steps: its <see cref="FormatBody">body</see> when the call ends, by the caller's thread, and its
/// <see cref="Complete">end</see>, which holds the hash of the line before, when the trail writes it.
/// </summary>
internal static class AuditLine
{
    /// <summary>The bytes <see cref="Complete"/> adds to a body: the <c>prev</c> field, the closing brace and the line feed.</summary>
    public const int EndBytes = 9 + 64 + 3;

    /// <summary>The line up to its last field, <c>prev</c>: a JSON object without its closing brace.</summary>
    /// <param name="record">The call.</param>
    /// <param name="time">When it was recorded.</param>
    public static byte[] FormatBody(AuditRecord record, DateTimeOffset time)
    {
        var buffer = new ArrayBufferWriter<byte>(512);
        using (var json = new Utf8JsonWriter(buffer))
        {
            json.WriteStartObject();
            json.WriteString("time", time.UtcDateTime.ToString("yyyy-MM-dd'T'HH:mm:ss.fff'Z'", CultureInfo.InvariantCulture));
            json.WriteString("source", record.Source);
            json.WriteString("requestId", record.RequestId);
            json.WriteString("traceId", record.TraceId);
            json.WriteString("identity", record.Identity);
            json.WriteString("action", record.Action);
            json.WriteString("secret", record.SecretName);
            WriteNumber(json, "revision", record.Revision);
            json.WriteString("outcome", record.Outcome);
            WriteNumber(json, "httpStatus", record.HttpStatus);
            json.WriteString("grpcStatus", record.GrpcStatus);
            json.WriteString("remote", record.RemoteAddress);
            json.WriteEndObject();
        }

        return buffer.WrittenSpan[..^1].ToArray();
    }

    /// <summary>
    /// Writes the whole line into <paramref name="destination"/>: <paramref name="body"/>, then <c>"prev"</c> holding
    /// <paramref name="previous"/>, the closing brace and a line feed.
    /// </summary>
    /// <returns>The hash of the line written, which the next line carries (<see cref="AuditChain"/>).</returns>
    public static string Complete(IBufferWriter<byte> destination, ReadOnlySpan<byte> body, string previous)
    {
        var line = destination.GetSpan(body.Length + EndBytes);
        body.CopyTo(line);
        var end = line[body.Length..];
        ",\"prev\":\""u8.CopyTo(end);
        Encoding.ASCII.GetBytes(previous, end[9..]);
        "\"}\n"u8.CopyTo(end[(9 + 64)..]);
        destination.Advance(body.Length + EndBytes);
        return AuditChain.Hash(line[..(body.Length + EndBytes - 1)]);
    }

    private static void WriteNumber(Utf8JsonWriter json, string name, long? value)
    {
        if (value is { } number)
        {
            json.WriteNumber(name, number);
        }
        else
        {
            json.WriteNull(name);
        }
    }
}
