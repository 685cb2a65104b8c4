using System.Text;
using System.Text.RegularExpressions;

namespace Trousseau.Tests.Integration.Docs;

/// <summary>
/// Just enough Markdown for the reference checks: sections by heading, table rows as cells, code spans, links and
/// heading anchors as GitHub makes them.
/// </summary>
internal sealed partial class MarkdownDocument
{
    private readonly string[] _lines;
    private readonly int _level;

    private MarkdownDocument(string name, string[] lines, int level)
    {
        Name = name;
        _lines = lines;
        _level = level;
    }

    /// <summary>Where this text comes from, for failure messages: <c>docs/reference.md, section 'Routes'</c>.</summary>
    public string Name { get; }

    public IReadOnlyList<string> Lines => _lines;

    public static MarkdownDocument Load(string relativePath) =>
        new(relativePath, File.ReadAllLines(Path.Combine(Infrastructure.RepositoryPaths.Root, relativePath)), level: 0);

    /// <summary>The section under the heading with this exact text, down to the next heading of the same or a higher level.</summary>
    public MarkdownDocument Section(string heading) =>
        FindSection(heading) ?? throw new Xunit.Sdk.XunitException($"{Name} has no heading '{heading}'.");

    /// <summary>The section under the heading with this exact text, or <see langword="null"/> when there is none.</summary>
    public MarkdownDocument? FindSection(string heading)
    {
        for (var i = 0; i < _lines.Length; i++)
        {
            if (Heading(_lines[i]) is { } found && found.Level > _level && found.Text == heading)
            {
                var end = i + 1;
                while (end < _lines.Length && (Heading(_lines[end]) is not { } next || next.Level > found.Level))
                {
                    end++;
                }

                return new MarkdownDocument($"{Name}, section '{heading}'", _lines[(i + 1)..end], found.Level);
            }
        }

        return null;
    }

    /// <summary>The body rows of every table in this section (header and separator rows left out), cells trimmed.</summary>
    public IEnumerable<string[]> TableRows()
    {
        for (var i = 0; i < _lines.Length; i++)
        {
            if (!IsTableLine(_lines[i]))
            {
                continue;
            }

            var isHeader = i + 1 < _lines.Length && SeparatorRow().IsMatch(_lines[i + 1]);
            var isSeparator = SeparatorRow().IsMatch(_lines[i]);
            if (!isHeader && !isSeparator)
            {
                yield return Cells(_lines[i]);
            }
        }
    }

    /// <summary>The fenced code blocks of this section that start at the margin, in order, each as its lines joined.</summary>
    public IReadOnlyList<string> CodeBlocks()
    {
        var blocks = new List<string>();
        List<string>? block = null;
        foreach (var line in _lines)
        {
            if (line.StartsWith("```", StringComparison.Ordinal))
            {
                if (block is null)
                {
                    block = [];
                }
                else
                {
                    blocks.Add(string.Join('\n', block));
                    block = null;
                }
            }
            else
            {
                block?.Add(line);
            }
        }

        return blocks;
    }

    /// <summary>The texts of the code spans in <paramref name="markdown"/>, <c>\|</c> unescaped.</summary>
    public static IReadOnlyList<string> CodeSpans(string markdown) =>
        [.. CodeSpan().Matches(markdown).Select(m => m.Groups["code"].Value.Replace("\\|", "|", StringComparison.Ordinal))];

    /// <summary>The targets of the links in this section, code spans left out.</summary>
    public IEnumerable<string> LinkTargets() =>
        _lines.SelectMany(line => Link().Matches(CodeSpan().Replace(line, "")).Select(m => m.Groups["target"].Value));

    /// <summary>The anchors GitHub gives this document's headings.</summary>
    public IReadOnlySet<string> Anchors()
    {
        var anchors = new HashSet<string>(StringComparer.Ordinal);
        foreach (var heading in _lines.Select(Heading).Where(h => h is not null))
        {
            var slug = Slug(heading!.Value.Text);
            var candidate = slug;
            for (var n = 1; !anchors.Add(candidate); n++)
            {
                candidate = $"{slug}-{n}";
            }
        }

        return anchors;
    }

    private static string Slug(string heading)
    {
        var text = new StringBuilder();
        foreach (var c in heading.ToLowerInvariant())
        {
            if (char.IsLetterOrDigit(c) || c is '-' or '_')
            {
                text.Append(c);
            }
            else if (c == ' ')
            {
                text.Append('-');
            }
        }

        return text.ToString();
    }

    private static (int Level, string Text)? Heading(string line) =>
        HeadingLine().Match(line) is { Success: true } m ? (m.Groups["marks"].Length, m.Groups["text"].Value.Trim()) : null;

    private static bool IsTableLine(string line) => line.TrimStart().StartsWith('|');

    private static string[] Cells(string line)
    {
        var inner = line.Trim();
        inner = inner[1..(inner.EndsWith('|') ? ^1 : ^0)];
        return [.. CellSeparator().Split(inner).Select(c => c.Trim())];
    }

    [GeneratedRegex(@"^(?<marks>#{1,6})\s+(?<text>.+)$")]
    private static partial Regex HeadingLine();

    [GeneratedRegex(@"^\s*\|(\s*:?-{3,}:?\s*\|)+\s*$")]
    private static partial Regex SeparatorRow();

    // A cell ends at a '|' that is not escaped as '\|'.
    [GeneratedRegex(@"(?<!\\)\|")]
    private static partial Regex CellSeparator();

    [GeneratedRegex(@"`(?<code>[^`]+)`")]
    private static partial Regex CodeSpan();

    [GeneratedRegex(@"\]\((?<target>[^)\s]+)\)")]
    private static partial Regex Link();
}
