using System.Globalization;
using System.Text.Json;

namespace Trousseau.Cli;

/// <summary>Prints results as aligned tables, as JSON or as YAML.</summary>
internal static class Output
{
    // Terminal and script output, never HTML: keep '+', '<', '&' and non-ASCII letters readable.
    private static readonly JsonWriterOptions Indented = new() { Indented = true, Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping };

    /// <summary>
    /// Prints <paramref name="rows"/> under <paramref name="headers"/>, columns aligned, every control character of a
    /// cell escaped (see <see cref="TerminalText"/>) unless <paramref name="escape"/> is <see langword="false"/>, so
    /// that what a server sent (names, check details) cannot drive the terminal.
    /// </summary>
    public static async Task TableAsync(TextWriter writer, string[] headers, IEnumerable<string[]> rows, bool escape = true)
    {
        var all = rows.Select(r => escape ? Escaped(r) : r).Prepend(headers).ToList();
        var widths = Widen(new int[headers.Length], all);
        foreach (var row in all)
        {
            await writer.WriteLineAsync(Line(row, widths));
        }
    }

    /// <summary>
    /// Prints a list that arrives in pages. A table, for people, prints each page as soon as it comes, so a long listing
    /// starts at once, its columns widening where a later page needs it and its cells escaped as
    /// <see cref="TableAsync"/> does; a page that fails leaves the rows printed so far. JSON and YAML, for scripts, print
    /// one <c>{"items": [...]}</c> document once every page is in, and nothing when a page fails, so that a reader never
    /// gets a cut document.
    /// </summary>
    public static Task ListAsync<T>(
        TextWriter writer,
        OutputFormat format,
        IAsyncEnumerable<IReadOnlyList<T>> pages,
        string[] headers,
        Func<T, string[]> row,
        Action<Utf8JsonWriter, T> item) => format switch
        {
            OutputFormat.Table => TableListAsync(writer, pages, headers, row),
            _ => DocumentListAsync(writer, format, pages, item),
        };

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

    private static async Task TableListAsync<T>(TextWriter writer, IAsyncEnumerable<IReadOnlyList<T>> pages, string[] headers, Func<T, string[]> row)
    {
        int[]? widths = null;
        await foreach (var page in pages)
        {
            var rows = page.Select(row).Select(Escaped).ToList();
            if (widths is null)
            {
                rows.Insert(0, headers);
                widths = new int[headers.Length];
            }

            widths = Widen(widths, rows);
            foreach (var cells in rows)
            {
                await writer.WriteLineAsync(Line(cells, widths));
            }

            await writer.FlushAsync();
        }
    }

    private static async Task DocumentListAsync<T>(TextWriter writer, OutputFormat format, IAsyncEnumerable<IReadOnlyList<T>> pages, Action<Utf8JsonWriter, T> item)
    {
        var items = new List<T>();
        await foreach (var page in pages)
        {
            items.AddRange(page);
        }

        void Document(Utf8JsonWriter json)
        {
            json.WriteStartObject();
            json.WriteStartArray("items");
            foreach (var value in items)
            {
                json.WriteStartObject();
                item(json, value);
                json.WriteEndObject();
            }

            json.WriteEndArray();
            json.WriteEndObject();
        }

        await (format == OutputFormat.Yaml ? YamlAsync(writer, Document) : JsonAsync(writer, Document));
    }

    private static string[] Escaped(string[] cells) => [.. cells.Select(TerminalText.Cell)];

    private static int[] Widen(int[] widths, IEnumerable<string[]> rows) =>
        [.. widths.Select((width, i) => rows.Select(r => r[i].Length).Append(width).Max())];

    private static string Line(string[] cells, int[] widths) =>
        string.Join("  ", cells.Select((cell, i) => i == cells.Length - 1 ? cell : cell.PadRight(widths[i]))).TrimEnd();

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
