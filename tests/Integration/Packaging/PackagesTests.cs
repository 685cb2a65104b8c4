using System.Diagnostics;
using System.IO.Compression;
using System.Reflection.Metadata;
using System.Reflection.PortableExecutable;
using System.Runtime.CompilerServices;
using System.Text.RegularExpressions;
using System.Xml.Linq;
using Trousseau.Tests.Integration.Infrastructure;

namespace Trousseau.Tests.Integration.Packaging;

/// <summary><c>dotnet pack</c> of the solution gives the libraries and the clectl tool, each fit to publish.</summary>
public sealed partial class PackagesTests(PackagesTests.PackedSolution packed) : IClassFixture<PackagesTests.PackedSolution>, IDisposable
{
    private const string RepositoryUrl = "https://github.com/trousseau-dotnet/trousseau";

    private static readonly string[] Libraries =
        ["Trousseau.Core", "Trousseau.Client", "Trousseau.Vault", "Trousseau.Etcd", "Trousseau.Sqlite", "Trousseau.Kms", "Trousseau.Hosting"];

    private readonly TempDirectory _temp = new();
    private readonly string _packages = packed.Directory;

    public static TheoryData<string> Packages => [.. Libraries, "Trousseau.Cli"];

    public void Dispose() => _temp.Dispose();

    [Fact]
    public void Exactly_the_libraries_and_the_tool_are_packed()
    {
        var ids = Directory.GetFiles(_packages, "*.nupkg").Select(p => Value(Nuspec(p), "id")).Order(StringComparer.Ordinal);

        Assert.Equal(Libraries.Append("Trousseau.Cli").Order(StringComparer.Ordinal), ids);
    }

    [Fact]
    public void Every_library_carries_its_description_readme_license_tags_and_xml_docs()
    {
        foreach (var id in Libraries)
        {
            using var package = ZipFile.OpenRead(PackagePath(id));
            var metadata = Nuspec(package);
            var entries = package.Entries.Select(e => e.FullName).ToHashSet(StringComparer.Ordinal);

            Assert.False(string.IsNullOrWhiteSpace(Value(metadata, "description")), id);
            Assert.Equal("Apache-2.0", Value(metadata, "license"));
            Assert.Equal("README.md", Value(metadata, "readme"));
            Assert.Contains("README.md", entries);
            Assert.Contains("secrets", Value(metadata, "tags")?.Split(' ') ?? [], StringComparer.Ordinal);
            Assert.Contains($"lib/net10.0/{id}.dll", entries);
            Assert.Contains($"lib/net10.0/{id}.xml", entries);
        }
    }

    [Fact]
    public void No_library_depends_on_the_OpenTelemetry_SDK_or_on_a_prerelease_package()
    {
        foreach (var id in Libraries)
        {
            var metadata = Nuspec(PackagePath(id));
            var dependencies = metadata.Descendants(metadata.Name.Namespace + "dependency")
                .Select(d => (Id: d.Attribute("id")!.Value, Version: d.Attribute("version")!.Value))
                .ToList();

            Assert.DoesNotContain(dependencies, d => d.Id.StartsWith("OpenTelemetry", StringComparison.Ordinal) && d.Id != "OpenTelemetry.Api");
            Assert.DoesNotContain(dependencies, d => d.Version.Contains('-', StringComparison.Ordinal));
        }
    }

    [Theory]
    [MemberData(nameof(Packages))]
    public void Every_package_has_a_readme_of_its_own_that_says_how_to_install_it(string id)
    {
        var readme = Readme(id);

        Assert.Equal($"# {id}", readme.Split('\n')[0].TrimEnd());
        Assert.NotEqual(File.ReadAllText(Path.Combine(RepositoryPaths.Root, "README.md")), readme);
        Assert.Contains(id == "Trousseau.Cli" ? "dotnet tool install -g Trousseau.Cli" : $"dotnet add package {id}", readme, StringComparison.Ordinal);
        Assert.Contains(id == "Trousseau.Cli" ? "```sh\nclectl " : "```csharp\n", readme, StringComparison.Ordinal);
        Assert.DoesNotContain("dotnet run --project", readme, StringComparison.Ordinal);
    }

    [Theory]
    [MemberData(nameof(Packages))]
    public void Every_link_in_a_package_readme_is_absolute_so_that_it_works_on_nuget_org(string id)
    {
        var prose = FencedCode().Replace(Readme(id), "");
        var targets = Link().Matches(prose).Select(m => m.Groups["target"].Value).ToList();

        Assert.NotEmpty(targets);
        Assert.All(targets, target => Assert.StartsWith("https://", target, StringComparison.Ordinal));
        Assert.Contains(RepositoryUrl, targets);
    }

    [Theory]
    [MemberData(nameof(Packages))]
    public void Every_package_names_the_repository_and_the_project_site(string id)
    {
        var metadata = Nuspec(PackagePath(id));
        var repository = metadata.Element(metadata.Name.Namespace + "repository");

        Assert.Equal(RepositoryUrl, Value(metadata, "projectUrl"));
        Assert.NotNull(repository);
        Assert.Equal("git", repository.Attribute("type")?.Value);
        Assert.Equal(RepositoryUrl, repository.Attribute("url")?.Value);
    }

    [Theory]
    [MemberData(nameof(Packages))]
    public void Every_package_ships_the_apache_license_text_beside_its_license_expression(string id)
    {
        using var package = ZipFile.OpenRead(PackagePath(id));
        var license = package.GetEntry("LICENSE");

        Assert.Equal("Apache-2.0", Value(Nuspec(package), "license"));
        Assert.NotNull(license);
        using var reader = new StreamReader(license.Open());
        var text = reader.ReadToEnd();
        Assert.Equal(File.ReadAllText(Path.Combine(RepositoryPaths.Root, "LICENSE")), text);
        Assert.Contains("Version 2.0, January 2004", text, StringComparison.Ordinal);
        Assert.Contains("END OF TERMS AND CONDITIONS", text, StringComparison.Ordinal);
    }

    [Theory]
    [MemberData(nameof(Packages))]
    public void Every_package_has_a_symbols_package_beside_it_with_the_pdbs_of_its_assemblies(string id)
    {
        var path = PackagePath(id);
        var symbols = Path.ChangeExtension(path, ".snupkg");

        Assert.True(File.Exists(symbols), $"{Path.GetFileName(symbols)} is missing beside {Path.GetFileName(path)}");
        using var package = ZipFile.OpenRead(path);
        using var symbolPackage = ZipFile.OpenRead(symbols);
        var pdbs = symbolPackage.Entries.Select(e => e.FullName).Where(n => n.EndsWith(".pdb", StringComparison.Ordinal)).ToHashSet(StringComparer.Ordinal);
        var ownAssemblies = package.Entries.Select(e => e.FullName)
            .Where(n => Path.GetFileName(n) is var file && file.EndsWith(".dll", StringComparison.Ordinal)
                && (file.StartsWith("Trousseau.", StringComparison.Ordinal) || file == "clectl.dll"))
            .ToList();

        Assert.Equal(Value(Nuspec(package), "version"), Value(Nuspec(symbolPackage), "version"));
        Assert.Contains(id == "Trousseau.Cli" ? "tools/net10.0/any/clectl.dll" : $"lib/net10.0/{id}.dll", ownAssemblies);
        Assert.All(ownAssemblies, dll => Assert.Contains(Path.ChangeExtension(dll, ".pdb"), pdbs));
    }

    [Fact]
    public void Trousseau_Hosting_does_not_bring_the_kms_plugin_but_brings_the_client()
    {
        var dependencies = Dependencies(PackagePath("Trousseau.Hosting")).Select(d => d.Id).ToList();

        Assert.DoesNotContain("Trousseau.Kms", dependencies);
        Assert.Contains("Trousseau.Client", dependencies);
        Assert.Contains("Trousseau.Core", dependencies);
    }

    [Fact]
    public void The_client_depends_on_the_core_library_and_the_http_client_factory_alone_and_not_on_asp_net_core()
    {
        var path = PackagePath("Trousseau.Client");
        var metadata = Nuspec(path);

        Assert.Equal(["Microsoft.Extensions.Http", "Trousseau.Core"], Dependencies(path).Select(d => d.Id).Order(StringComparer.Ordinal));
        Assert.Empty(metadata.Descendants(metadata.Name.Namespace + "frameworkReference"));
    }

    [Theory]
    [MemberData(nameof(Packages))]
    public void No_package_depends_on_a_prerelease_package(string id)
    {
        var prerelease = Dependencies(PackagePath(id)).Where(d => d.Version.Contains('-', StringComparison.Ordinal)).Select(d => $"{d.Id} {d.Version}");

        Assert.Empty(prerelease);
    }

    [Fact]
    public void No_shipped_assembly_lets_another_shipped_assembly_see_its_internals()
    {
        var shipped = Libraries.Append("clectl").Append("trousseaud").ToHashSet(StringComparer.OrdinalIgnoreCase);
        var grants = new List<string>();
        foreach (var id in Libraries.Append("Trousseau.Cli"))
        {
            using var package = ZipFile.OpenRead(PackagePath(id));
            var own = package.GetEntry(id == "Trousseau.Cli" ? "tools/net10.0/any/clectl.dll" : $"lib/net10.0/{id}.dll");
            Assert.NotNull(own);
            grants.AddRange(InternalsVisibleTo(own).Where(shipped.Contains).Select(friend => $"{own.Name} -> {friend}"));
        }

        using (var stream = File.OpenRead(RepositoryPaths.ServerDll))
        {
            grants.AddRange(InternalsVisibleTo(stream).Where(shipped.Contains).Select(friend => $"trousseaud.dll -> {friend}"));
        }

        Assert.Empty(grants);
    }

    [Fact]
    public async Task The_clectl_tool_package_runs_and_reports_the_package_version()
    {
        var path = PackagePath("Trousseau.Cli");
        string version;
        using (var package = ZipFile.OpenRead(path))
        {
            var metadata = Nuspec(package);
            version = Value(metadata, "version")!;
            Assert.Equal("DotnetTool", metadata.Descendants(metadata.Name.Namespace + "packageType").Single().Attribute("name")?.Value);
            var settings = XDocument.Load(package.GetEntry("tools/net10.0/any/DotnetToolSettings.xml")!.Open());
            Assert.Equal("clectl", settings.Descendants("Command").Single().Attribute("Name")?.Value);
        }

        var unpacked = _temp.Combine("tool");
        ZipFile.ExtractToDirectory(path, unpacked);
        var result = await ChildProcess.RunAsync(DotnetProcess.StartInfo(Path.Combine(unpacked, "tools", "net10.0", "any", "clectl.dll"), ["--version"], _temp.Path));

        Assert.Equal(0, result.ExitCode);
        Assert.StartsWith(version, result.Stdout.Trim(), StringComparison.Ordinal);
    }

    /// <summary>
    /// Markdown inline links and images <c>[text](target)</c>, reference definitions <c>[label]: target</c>, autolinks
    /// <c>&lt;target&gt;</c>, and HTML <c>href</c> and <c>src</c> attributes.
    /// </summary>
    [GeneratedRegex(@"\]\((?<target>[^)\s]+)[^)]*\)|^\s{0,3}\[[^\]]+\]:\s*(?<target>\S+)|<(?<target>[a-z][a-z0-9+.-]*:[^>\s]+)>|\b(?:href|src)\s*=\s*[""'](?<target>[^""']+)", RegexOptions.Multiline)]
    private static partial Regex Link();

    [GeneratedRegex(@"^\s*```.*?^\s*```", RegexOptions.Multiline | RegexOptions.Singleline)]
    private static partial Regex FencedCode();

    private string Readme(string id)
    {
        using var package = ZipFile.OpenRead(PackagePath(id));
        var name = Value(Nuspec(package), "readme");
        Assert.NotNull(name);
        using var reader = new StreamReader(package.GetEntry(name)!.Open());
        return reader.ReadToEnd();
    }

    private string PackagePath(string id) =>
        Directory.GetFiles(_packages, $"{id}.*.nupkg").Single(p => Value(Nuspec(p), "id") == id);

    /// <summary>The packages a package depends on, over all its target frameworks.</summary>
    private static List<(string Id, string Version)> Dependencies(string path)
    {
        var metadata = Nuspec(path);
        return [.. metadata.Descendants(metadata.Name.Namespace + "dependency")
            .Select(d => (d.Attribute("id")!.Value, d.Attribute("version")?.Value ?? ""))
            .Distinct()];
    }

    /// <summary>The assembly names an assembly's <see cref="InternalsVisibleToAttribute"/>s name, without their public keys.</summary>
    private static List<string> InternalsVisibleTo(ZipArchiveEntry assembly)
    {
        using var compressed = assembly.Open();
        using var copy = new MemoryStream();
        compressed.CopyTo(copy);
        copy.Position = 0;
        return InternalsVisibleTo(copy);
    }

    private static List<string> InternalsVisibleTo(Stream assembly)
    {
        using var pe = new PEReader(assembly);
        var reader = pe.GetMetadataReader();
        var friends = new List<string>();
        foreach (var handle in reader.GetAssemblyDefinition().GetCustomAttributes())
        {
            var attribute = reader.GetCustomAttribute(handle);
            if (attribute.Constructor.Kind != HandleKind.MemberReference
                || reader.GetMemberReference((MemberReferenceHandle)attribute.Constructor).Parent is not { Kind: HandleKind.TypeReference } parent
                || reader.GetString(reader.GetTypeReference((TypeReferenceHandle)parent).Name) != nameof(InternalsVisibleToAttribute))
            {
                continue;
            }

            // The blob is a prolog (0x0001) and then the one string argument.
            var blob = reader.GetBlobReader(attribute.Value);
            blob.ReadUInt16();
            friends.Add(blob.ReadSerializedString()!.Split(',')[0].Trim());
        }

        return friends;
    }

    private static string? Value(XElement metadata, string name) => metadata.Element(metadata.Name.Namespace + name)?.Value;

    private static XElement Nuspec(string path)
    {
        using var package = ZipFile.OpenRead(path);
        return Nuspec(package);
    }

    private static XElement Nuspec(ZipArchive package)
    {
        var entry = package.Entries.Single(e => e.FullName.EndsWith(".nuspec", StringComparison.Ordinal) && !e.FullName.Contains('/', StringComparison.Ordinal));
        using var stream = entry.Open();
        var document = XDocument.Load(stream);
        return document.Root!.Element(document.Root.Name.Namespace + "metadata")!;
    }

    /// <summary>The solution packed once, with the build the tests run on, into a directory of its own.</summary>
    public sealed class PackedSolution : IAsyncLifetime, IDisposable
    {
        private readonly TempDirectory _temp = new();

        public string Directory => _temp.Combine("packages");

        public async Task InitializeAsync()
        {
            var info = new ProcessStartInfo("dotnet")
            {
                WorkingDirectory = RepositoryPaths.Root,
                ArgumentList = { "pack", "Trousseau.sln", "--no-build", "-c", RepositoryPaths.Configuration, "-o", Directory, "-nologo", "-v", "q" },
            };
            var pack = await ChildProcess.RunAsync(info, timeout: TimeSpan.FromMinutes(3));
            Assert.True(pack.ExitCode == 0, pack.Stdout + pack.Stderr);
        }

        public Task DisposeAsync() => Task.CompletedTask;

        public void Dispose() => _temp.Dispose();
    }
}
