using Google.Protobuf;

namespace Trousseau.Tests.Integration.Infrastructure;

/// <summary>
/// One span of an OTLP/HTTP protobuf export: its name, its kind, its attributes (strings and integers), and its place in
/// its trace.
/// </summary>
/// <param name="Name">The span's name.</param>
/// <param name="Kind">The OTLP span kind: 1 internal, 2 server, 3 client.</param>
/// <param name="Attributes">The attributes, a string or a long each.</param>
/// <param name="TraceId">The trace's id, in hex.</param>
/// <param name="SpanId">The span's id, in hex.</param>
/// <param name="ParentSpanId">The parent span's id, in hex; empty for a trace's root.</param>
internal sealed record OtlpSpan(string Name, int Kind, IReadOnlyDictionary<string, object> Attributes, string TraceId, string SpanId, string ParentSpanId)
{
    public const int ServerKind = 2;

    /// <summary>The spans in the bodies of OTLP/HTTP protobuf trace exports (<c>ExportTraceServiceRequest</c>).</summary>
    public static IReadOnlyList<OtlpSpan> Read(IEnumerable<byte[]> exports)
    {
        var spans = new List<OtlpSpan>();
        foreach (var export in exports)
        {
            foreach (var resourceSpans in Fields(ByteString.CopyFrom(export), 1))
            {
                foreach (var scopeSpans in Fields(resourceSpans, 2))
                {
                    spans.AddRange(Fields(scopeSpans, 2).Select(ReadSpan));
                }
            }
        }

        return spans;
    }

    private static OtlpSpan ReadSpan(ByteString span)
    {
        var (name, kind, traceId, spanId, parentSpanId) = ("", 0, "", "", "");
        var attributes = new Dictionary<string, object>(StringComparer.Ordinal);
        var input = span.CreateCodedInput();
        uint tag;
        while ((tag = input.ReadTag()) != 0)
        {
            switch (WireFormat.GetTagFieldNumber(tag))
            {
                case 1:
                    traceId = Convert.ToHexString(input.ReadBytes().Span);
                    break;
                case 2:
                    spanId = Convert.ToHexString(input.ReadBytes().Span);
                    break;
                case 4:
                    parentSpanId = Convert.ToHexString(input.ReadBytes().Span);
                    break;
                case 5:
                    name = input.ReadString();
                    break;
                case 6:
                    kind = input.ReadEnum();
                    break;
                case 9:
                    var (key, value) = ReadAttribute(input.ReadBytes());
                    if (value is not null)
                    {
                        attributes[key] = value;
                    }

                    break;
                default:
                    input.SkipLastField();
                    break;
            }
        }

        return new OtlpSpan(name, kind, attributes, traceId, spanId, parentSpanId);
    }

    /// <summary>A <c>KeyValue</c>: its key and its value when a string or an integer.</summary>
    private static (string Key, object? Value) ReadAttribute(ByteString keyValue)
    {
        var key = "";
        object? value = null;
        var input = keyValue.CreateCodedInput();
        uint tag;
        while ((tag = input.ReadTag()) != 0)
        {
            switch (WireFormat.GetTagFieldNumber(tag))
            {
                case 1:
                    key = input.ReadString();
                    break;
                case 2:
                    value = ReadValue(input.ReadBytes());
                    break;
                default:
                    input.SkipLastField();
                    break;
            }
        }

        return (key, value);
    }

    private static object? ReadValue(ByteString anyValue)
    {
        object? value = null;
        var input = anyValue.CreateCodedInput();
        uint tag;
        while ((tag = input.ReadTag()) != 0)
        {
            switch (WireFormat.GetTagFieldNumber(tag))
            {
                case 1:
                    value = input.ReadString();
                    break;
                case 3:
                    value = input.ReadInt64();
                    break;
                default:
                    input.SkipLastField();
                    break;
            }
        }

        return value;
    }

    /// <summary>The values of the length-delimited field <paramref name="number"/> of a message.</summary>
    private static List<ByteString> Fields(ByteString message, int number)
    {
        var values = new List<ByteString>();
        var input = message.CreateCodedInput();
        uint tag;
        while ((tag = input.ReadTag()) != 0)
        {
            if (WireFormat.GetTagFieldNumber(tag) == number && WireFormat.GetTagWireType(tag) == WireFormat.WireType.LengthDelimited)
            {
                values.Add(input.ReadBytes());
            }
            else
            {
                input.SkipLastField();
            }
        }

        return values;
    }
}
