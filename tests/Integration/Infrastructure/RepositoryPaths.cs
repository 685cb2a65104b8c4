namespace Trousseau.Tests.Integration.Infrastructure;

/// <summary>Finds the built trousseaud, clectl and samples next to this test assembly's build configuration.</summary>
internal static class RepositoryPaths
{
    public static string Root { get; } = FindRoot();

    /// <summary>The configuration this test assembly was built in (Debug or Release).</summary>
    public static string Configuration { get; } = new DirectoryInfo(AppContext.BaseDirectory).Parent!.Name;

    /// <summary>The built trousseaud assembly, as the solution's build leaves it.</summary>
    public static string ServerDll => Built("src/Trousseau.Server", "trousseaud.dll");

    /// <summary>
    /// trousseaud as the tests start it: the built assembly, or the native executable that
    /// <c>TROUSSEAU_TEST_TROUSSEAUD</c> names, so that the suite can run against a Native AOT publish.
    /// </summary>
    public static string Server => NativeOr("TROUSSEAU_TEST_TROUSSEAUD", ServerDll);

    public static string CliDll => Built("src/Trousseau.Cli", "clectl.dll");

    /// <summary>
    /// clectl as the tests run it: the built assembly, or the native executable that <c>TROUSSEAU_TEST_CLECTL</c> names,
    /// so that the suite can run against a Native AOT publish.
    /// </summary>
    public static string Cli => NativeOr("TROUSSEAU_TEST_CLECTL", CliDll);

    public static string WebAppSampleDll => Built("samples/WebApp", "Trousseau.Samples.WebApp.dll");

    public static string WorkerSampleDll => Built("samples/Worker", "Trousseau.Samples.Worker.dll");

    private static string NativeOr(string variable, string assembly) =>
        Environment.GetEnvironmentVariable(variable) is { Length: > 0 } native ? native : assembly;

    private static string Built(string project, string file)
    {
        var path = Path.Combine(Root, project, "bin", Configuration, "net10.0", file);
        return File.Exists(path) ? path : throw new FileNotFoundException($"{file} is not built; build the solution first.", path);
    }

    private static string FindRoot()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            if (File.Exists(Path.Combine(dir.FullName, "Trousseau.sln")))
            {
                return dir.FullName;
            }
        }

        throw new InvalidOperationException("Trousseau.sln not found above " + AppContext.BaseDirectory);
    }
}
