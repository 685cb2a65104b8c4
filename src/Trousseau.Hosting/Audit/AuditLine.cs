using System.Buffers;
using System.Globalization;
using System.Text.Json;

namespace Trousseau.Hosting.Audit;

/// <summary>
/// One record as one line of JSON, its fields always present and in this order: <c>time</c>, <c>source</c>,
/// <c>requestId</c>, <c>traceId</c>, <c>identity</c>, <c>action</c>, <c>secret</c>, <c>revision</c>, <c>outcome</c>,
/// <c>httpStatus</c>, <c>grpcStatus</c>, <c>remote</c>, <c>prev</c>; <see langword="null"/> where a field does not apply.
/// Characters outside ASCII are escaped, so a line is the same bytes in any encoding that extends ASCII. Each text field
/// is cut to <see cref="AuditChain.MaxFieldLength"/> characters followed by <c>…</c>, so that a line never exceeds
/// <see cref="AuditChain.MaxLineBytes"/>.
/// </summary>
internal static class AuditLine
{
    /// <summary>Writes the line, ending with its line feed, to <paramref name="destination"/>, which must be empty.</summary>
    /// <param name="destination">Where the line goes.</param>
    /// <param name="record">The call.</param>
    /// <param name="time">When it was recorded.</param>
    /// <param name="previous">The hash of the line before (<see cref="AuditChain"/>).</param>
    /// <returns>The hash of this line, which the next one carries.</returns>
    public static string Write(ArrayBufferWriter<byte> destination, AuditRecord record, DateTimeOffset time, string previous)
    {
        using (var json = new Utf8JsonWriter(destination))
        {
            json.WriteStartObject();
            json.WriteString("time", time.UtcDateTime.ToString("yyyy-MM-dd'T'HH:mm:ss.fff'Z'", CultureInfo.InvariantCulture));
            json.WriteString("source", Cut(record.Source));
            json.WriteString("requestId", Cut(record.RequestId));
            json.WriteString("traceId", Cut(record.TraceId));
            json.WriteString("identity", Cut(record.Identity));
            json.WriteString("action", Cut(record.Action));
            json.WriteString("secret", Cut(record.SecretName));
            WriteNumber(json, "revision", record.Revision);
            json.WriteString("outcome", Cut(record.Outcome));
            WriteNumber(json, "httpStatus", record.HttpStatus);
            json.WriteString("grpcStatus", Cut(record.GrpcStatus));
            json.WriteString("remote", Cut(record.RemoteAddress));
            json.WriteString(AuditChain.PreviousField, previous);
            json.WriteEndObject();
        }

        var hash = AuditChain.Hash(destination.WrittenSpan);
        destination.GetSpan(1)[0] = (byte)'\n';
        destination.Advance(1);
        return hash;
    }

    // A field cut to AuditChain.MaxFieldLength characters, so that no line exceeds AuditChain.MaxLineBytes: an identity
    // or a request id comes from outside (a certificate subject, an embedding application's TraceIdentifier).
    private static string? Cut(string? text) => text is null ? null : Excerpt.Of(text, AuditChain.MaxFieldLength);

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
