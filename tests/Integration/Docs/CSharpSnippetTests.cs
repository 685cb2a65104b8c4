using System.Collections.Immutable;
using System.Text;
using System.Text.RegularExpressions;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.CSharp;
using Trousseau.Tests.Integration.Infrastructure;

namespace Trousseau.Tests.Integration.Docs;

/// <summary>
/// Every <c>```csharp</c> block of the docs (<c>README.md</c>, <c>docs/*.md</c>, <c>samples/README.md</c> and the
/// packages' <c>src/*/README.md</c>) compiles against the built Trousseau assemblies, ASP.NET Core, the
/// Microsoft.Extensions libraries and the OpenTelemetry packages the docs name.
/// </summary>
/// <remarks>
/// <para>
/// A block is compiled on its own, as a program of top-level statements with the implicit usings of an ASP.NET Core
/// project (<c>Microsoft.NET.Sdk.Web</c>); its own <c>using</c> directives come on top of those.
/// </para>
/// <para>
/// A block that goes on from the text around it names what it takes from there in an HTML comment on the line
/// before it (GitHub and nuget.org do not show it):
/// <c>&lt;!-- csharp-context: WebApplicationBuilder builder; HttpClient http; class OrdersDatabase --&gt;</c>.
/// Each <c>Type name</c> becomes a variable of that type the block can use, each <c>class Name</c> an empty class.
/// </para>
/// </remarks>
public sealed partial class CSharpSnippetTests
{
    private static readonly string[] ImplicitUsings =
    [
        "System", "System.Collections.Generic", "System.IO", "System.Linq", "System.Net.Http", "System.Net.Http.Json",
        "System.Threading", "System.Threading.Tasks", "Microsoft.AspNetCore.Builder", "Microsoft.AspNetCore.Hosting",
        "Microsoft.AspNetCore.Http", "Microsoft.AspNetCore.Routing", "Microsoft.Extensions.Configuration",
        "Microsoft.Extensions.DependencyInjection", "Microsoft.Extensions.Hosting", "Microsoft.Extensions.Logging",
    ];

    private static readonly string[] TopLevelDocs = ["README.md", "samples/README.md"];

    private static readonly CSharpParseOptions ParseOptions = new(LanguageVersion.Latest);

    private static readonly SyntaxTree GlobalUsings = CSharpSyntaxTree.ParseText(
        string.Concat(ImplicitUsings.Select(u => $"global using global::{u};\n")), ParseOptions, "GlobalUsings.g.cs");

    /// <summary>The assemblies this test runs with (its own left out), shared by every compilation.</summary>
    private static readonly Lazy<ImmutableArray<MetadataReference>> References = new(() =>
    [
        .. ((string)AppContext.GetData("TRUSTED_PLATFORM_ASSEMBLIES")!)
            .Split(Path.PathSeparator, StringSplitOptions.RemoveEmptyEntries)
            .Where(path => !Path.GetFileName(path).StartsWith("Trousseau.Tests.", StringComparison.Ordinal))
            .Select(path => MetadataReference.CreateFromFile(path)),
    ]);

    public static TheoryData<string, int> Snippets()
    {
        var data = new TheoryData<string, int>();
        foreach (var snippet in DocumentedSnippets())
        {
            data.Add(snippet.File, snippet.Line);
        }

        return data;
    }

    [Fact]
    public void The_docs_hold_CSharp_blocks_for_this_test_to_compile() =>
        Assert.Contains(DocumentedSnippets(), s => s.File == "README.md");

    [Theory]
    [MemberData(nameof(Snippets))]
    public void Each_CSharp_block_of_the_docs_compiles(string file, int line)
    {
        var snippet = DocumentedSnippets().Single(s => s.File == file && s.Line == line);

        var errors = Compile(snippet);

        Assert.True(errors.Count == 0, $"The C# block at {file}:{line} does not compile:\n{string.Join('\n', errors)}");
    }

    [Fact]
    public void A_block_that_calls_a_method_Trousseau_does_not_have_is_reported()
    {
        var snippet = new Snippet("made-up.md", 10, "builder.Services.AddTrousseau().UseNoSuchStore();", "WebApplicationBuilder builder");

        var errors = Compile(snippet);

        Assert.Contains(errors, e => e.StartsWith("made-up.md:11: error CS1061:", StringComparison.Ordinal) && e.Contains("UseNoSuchStore", StringComparison.Ordinal));
    }

    private static List<string> Compile(Snippet snippet)
    {
        var source = $"#line {snippet.Line + 1} \"{snippet.File}\"\n{snippet.Code}\n";
        var trees = new List<SyntaxTree> { GlobalUsings, CSharpSyntaxTree.ParseText(source, ParseOptions, "Snippet.cs") };
        if (snippet.Context is { } context)
        {
            trees.Add(CSharpSyntaxTree.ParseText(ContextSource(snippet, context), ParseOptions, "Context.cs"));
        }

        var compilation = CSharpCompilation.Create(
            "Snippet",
            trees,
            References.Value,
            new CSharpCompilationOptions(OutputKind.ConsoleApplication, nullableContextOptions: NullableContextOptions.Enable));
        return
        [
            .. compilation.GetDiagnostics()
                .Where(d => d.Severity == DiagnosticSeverity.Error || d.Id is "CS0612" or "CS0618")
                .Select(d => $"{Where(d)}: {d.Severity.ToString().ToLowerInvariant()} {d.Id}: {d.GetMessage(System.Globalization.CultureInfo.InvariantCulture)}"),
        ];
    }

    private static string Where(Diagnostic diagnostic)
    {
        var span = diagnostic.Location.GetMappedLineSpan();
        return span.IsValid ? $"{span.Path}:{span.StartLinePosition.Line + 1}" : "(no place)";
    }

    /// <summary>The names of an HTML comment <c>csharp-context</c>, as static members that the block sees by name.</summary>
    private static string ContextSource(Snippet snippet, string context)
    {
        var source = new StringBuilder("global using static DocumentedContext;\ninternal static class DocumentedContext\n{\n");
        foreach (var declaration in context.Split(';', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
        {
            source.Append(ContextDeclaration().Match(declaration) switch
            {
                { Success: true, Groups: var g } when g["class"].Success => $"    public sealed class {g["name"].Value};\n",
                { Success: true, Groups: var g } => $"    public static {g["type"].Value} {g["name"].Value} = default!;\n",
                _ => throw new Xunit.Sdk.XunitException(
                    $"{snippet.File}:{snippet.Line}: '{declaration}' in csharp-context is neither 'Type name' nor 'class Name'."),
            });
        }

        return source.Append("}\n").ToString();
    }

    private static List<Snippet> DocumentedSnippets()
    {
        var root = RepositoryPaths.Root;
        var files = TopLevelDocs
            .Concat(Directory.GetFiles(Path.Combine(root, "docs"), "*.md").Select(f => Path.GetRelativePath(root, f)))
            .Concat(Directory.GetDirectories(Path.Combine(root, "src"))
                .Select(d => Path.Combine(d, "README.md"))
                .Where(File.Exists)
                .Select(f => Path.GetRelativePath(root, f)))
            .Select(f => f.Replace('\\', '/'))
            .Order(StringComparer.Ordinal);

        var snippets = new List<Snippet>();
        foreach (var file in files)
        {
            var lines = MarkdownDocument.Load(file).Lines;
            for (var i = 0; i < lines.Count; i++)
            {
                if (lines[i].TrimEnd() != "```csharp")
                {
                    continue;
                }

                var end = i + 1;
                while (end < lines.Count && !lines[end].StartsWith("```", StringComparison.Ordinal))
                {
                    end++;
                }

                var before = i - 1;
                while (before >= 0 && lines[before].Trim().Length == 0)
                {
                    before--;
                }

                var context = before >= 0 && ContextComment().Match(lines[before]) is { Success: true } m ? m.Groups["context"].Value : null;
                snippets.Add(new Snippet(file, i + 1, string.Join('\n', lines.Skip(i + 1).Take(end - i - 1)), context));
                i = end;
            }
        }

        return snippets;
    }

    /// <summary>One block: the file and the line of its opening fence, its code, and what it takes from the text around it.</summary>
    private sealed record Snippet(string File, int Line, string Code, string? Context);

    [GeneratedRegex(@"^\s*<!--\s*csharp-context:(?<context>.*?)-->\s*$")]
    private static partial Regex ContextComment();

    [GeneratedRegex(@"^(?:(?<class>class)\s+(?<name>[A-Za-z_][A-Za-z0-9_]*)|(?<type>.+?)\s+(?<name>[A-Za-z_][A-Za-z0-9_]*))$")]
    private static partial Regex ContextDeclaration();
}
