using System.Diagnostics;
using System.IO.Compression;
using System.Xml.Linq;
using Trousseau.Tests.Integration.Infrastructure;

namespace Trousseau.Tests.Integration.Packaging;

/// <summary><c>dotnet pack</c> of the solution gives the libraries and the clectl tool, each fit to publish.</summary>
public sealed class PackagesTests(PackagesTests.PackedSolution packed) : IClassFixture<PackagesTests.PackedSolution>, IDisposable
{
    private static readonly string[] Libraries =
        ["Trousseau.Core", "Trousseau.Vault", "Trousseau.Etcd", "Trousseau.Sqlite", "Trousseau.Kms", "Trousseau.Hosting"];

    private readonly TempDirectory _temp = new();
    private readonly string _packages = packed.Directory;

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
        var result = await DotnetProcess.RunAsync(DotnetProcess.StartInfo(Path.Combine(unpacked, "tools", "net10.0", "any", "clectl.dll"), ["--version"], _temp.Path));

        Assert.Equal(0, result.ExitCode);
        Assert.StartsWith(version, result.Stdout.Trim(), StringComparison.Ordinal);
    }

    private string PackagePath(string id) =>
        Directory.GetFiles(_packages, $"{id}.*.nupkg").Single(p => Value(Nuspec(p), "id") == id);

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
                RedirectStandardInput = true,
                RedirectStandardOutput = true,
                RedirectStandardError = true,
                ArgumentList = { "pack", "Trousseau.sln", "--no-build", "-c", RepositoryPaths.Configuration, "-o", Directory, "-nologo", "-v", "q" },
            };
            var pack = await DotnetProcess.RunAsync(info, timeout: TimeSpan.FromMinutes(3));
            Assert.True(pack.ExitCode == 0, pack.Stdout + pack.Stderr);
        }

        public Task DisposeAsync() => Task.CompletedTask;

        public void Dispose() => _temp.Dispose();
    }
}
