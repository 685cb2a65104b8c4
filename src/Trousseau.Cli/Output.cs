using System.Globalization;
using System.Text.Json;

namespace Trousseau.Cli;

/// <summary>Prints results as aligned tables, as JSON or as YAML.</summary>
internal static class Output
{
    // Terminal and script output, never HTML: keep '+', '<', '&' and non-ASCII letters readable.
    private static readonly JsonWriterOptions Indented = new() { Indented = true, Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping };

    public static async Task TableAsync(TextWriter writer, string[] headers, IEnumerable<string[]> rows)
    {
        var all = rows.Prepend(headers).ToList();
        var widths = Enumerable.Range(0, headers.Length).Select(i => all.Max(r => r[i].Length)).ToArray();
        foreach (var row in all)
        {
            var cells = row.Select((cell, i) => i == row.Length - 1 ? cell : cell.PadRight(widths[i]));
            await writer.WriteLineAsync(string.Join("  ", cells).TrimEnd());
        }
    }

    /// <summary>
    /// Prints a result in <paramref name="format"/>: <paramref name="table"/> for <see cref="OutputFormat.Table"/>,
    /// else the document that <paramref name="document"/> writes, as JSON or translated to YAML.
    /// </summary>
    public static Task WriteAsync(TextWriter writer, OutputFormat format, Action<Utf8JsonWriter> document, Func<TextWriter, Task> table) => format switch
    {
        OutputFormat.Json => JsonAsync(writer, document),
        OutputFormat.Yaml => YamlAsync(writer, document),
        _ => table(writer),
    };

    public static void Metadata(Utf8JsonWriter json, SecretMetadata metadata)
    {
        json.WriteString("name", metadata.Name);
        json.WriteString("type", metadata.Type.Value);
        json.WriteNumber("revision", metadata.Revision);
        json.WriteString("createdAt", metadata.CreatedAt);
        json.WriteString("updatedAt", metadata.UpdatedAt);
    }

    public static string[] Row(SecretMetadata metadata) =>
    [
        metadata.Name,
        metadata.Type.Value,
        metadata.Revision.ToString(CultureInfo.InvariantCulture),
        metadata.UpdatedAt.ToString("u", CultureInfo.InvariantCulture),
    ];

    public static readonly string[] MetadataHeaders = ["NAME", "TYPE", "REVISION", "UPDATED"];

    public static Task MetadataAsync(TextWriter writer, OutputFormat format, SecretMetadata metadata) => WriteAsync(
        writer,
        format,
        json =>
        {
            json.WriteStartObject();
            Metadata(json, metadata);
            json.WriteEndObject();
        },
        w => TableAsync(w, MetadataHeaders, [Row(metadata)]));

    private static async Task JsonAsync(TextWriter writer, Action<Utf8JsonWriter> write) =>
        await writer.WriteLineAsync(System.Text.Encoding.UTF8.GetString(Serialize(write)));

    private static async Task YamlAsync(TextWriter writer, Action<Utf8JsonWriter> write)
    {
        using var document = JsonDocument.Parse(Serialize(write));
        using var yaml = new StringWriter(CultureInfo.InvariantCulture);
        Yaml.Write(yaml, document.RootElement);
        await writer.WriteAsync(yaml.ToString());
    }

    private static byte[] Serialize(Action<Utf8JsonWriter> write)
    {
        using var buffer = new MemoryStream();
        using (var json = new Utf8JsonWriter(buffer, Indented))
        {
            write(json);
        }

        return buffer.ToArray();
    }
}
