using System.Text.Json;
using System.Text.RegularExpressions;
using YamlDotNet.Core;
using YamlDotNet.Core.Events;

namespace Trousseau.Cli;

/// <summary>
/// Writes a JSON document as YAML through YamlDotNet's emitter: mappings and sequences in block style, strings
/// quoted wherever a YAML reader would take them for something else (a number, a boolean, null, a timestamp).
/// </summary>
internal static partial class Yaml
{
    public static void Write(TextWriter writer, JsonElement document)
    {
        var emitter = new Emitter(writer);
        emitter.Emit(new StreamStart());
        emitter.Emit(new DocumentStart());
        Emit(emitter, document);
        emitter.Emit(new DocumentEnd(isImplicit: true));
        emitter.Emit(new StreamEnd());
    }

    private static void Emit(IEmitter emitter, JsonElement element)
    {
        switch (element.ValueKind)
        {
            case JsonValueKind.Object:
                emitter.Emit(new MappingStart(AnchorName.Empty, TagName.Empty, isImplicit: true, MappingStyle.Block));
                foreach (var property in element.EnumerateObject())
                {
                    emitter.Emit(String(property.Name));
                    Emit(emitter, property.Value);
                }

                emitter.Emit(new MappingEnd());
                break;
            case JsonValueKind.Array:
                emitter.Emit(new SequenceStart(AnchorName.Empty, TagName.Empty, isImplicit: true, SequenceStyle.Block));
                foreach (var item in element.EnumerateArray())
                {
                    Emit(emitter, item);
                }

                emitter.Emit(new SequenceEnd());
                break;
            case JsonValueKind.String:
                emitter.Emit(String(element.GetString()!));
                break;
            default:
                // Numbers, true, false and null read the same in YAML as in JSON.
                emitter.Emit(new Scalar(AnchorName.Empty, TagName.Empty, element.GetRawText(), ScalarStyle.Plain, isPlainImplicit: true, isQuotedImplicit: false));
                break;
        }
    }

    private static Scalar String(string value)
    {
        // A literal block holds printable characters only (YAML 1.2, c-printable); a value with another control
        // character (ESC, CR, C1) is double-quoted, where the emitter escapes it ("\e", "\r").
        var style = value.Any(c => char.IsControl(c) && c is not ('\n' or '\t')) ? ScalarStyle.DoubleQuoted
            : value.Contains('\n', StringComparison.Ordinal) ? ScalarStyle.Literal
            : NotAString().IsMatch(value) ? ScalarStyle.DoubleQuoted
            : ScalarStyle.Any;
        return new Scalar(AnchorName.Empty, TagName.Empty, value, style, isPlainImplicit: true, isQuotedImplicit: true);
    }

    /// <summary>Plain scalars that YAML 1.1 or 1.2 readers resolve to null, a boolean, a number or a timestamp.</summary>
    [GeneratedRegex(@"^(|~|null|true|false|y|yes|n|no|on|off|[-+]?(\.[0-9]+|[0-9][0-9_]*(\.[0-9_]*)?)([eE][-+]?[0-9]+)?|0x[0-9a-f_]+|0o?[0-7_]+|0b[01_]+|[-+]?\.inf|\.nan|[-+]?[0-9][0-9_]*(:[0-5]?[0-9])+(\.[0-9_]*)?|[0-9]{4}-[0-9]{1,2}-[0-9]{1,2}([Tt ].*)?)$", RegexOptions.IgnoreCase | RegexOptions.CultureInvariant)]
    private static partial Regex NotAString();
}
