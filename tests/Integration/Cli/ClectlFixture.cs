using Trousseau.Tests.Integration.Infrastructure;

namespace Trousseau.Tests.Integration.Cli;

/// <summary>
/// One trousseaud on the embedded default (local key ring, SQLite, KMS socket in its data directory), started once
/// for the clectl exit-code tests, and clectl pointed at it through <c>TROUSSEAU_SERVER</c> and <c>TROUSSEAU_HOME</c>.
/// </summary>
public sealed class ClectlFixture : IAsyncLifetime, IDisposable
{
    private readonly TempDirectory _temp = new();

    public string DataDir => _temp.Combine("data");

    public string KmsSocket => _temp.Combine("data", "kms.sock");

    internal TrousseauServerProcess Server { get; private set; } = null!;

    internal ClectlRunner Clectl { get; private set; } = null!;

    /// <summary>A fresh directory for one test (a working directory, a config home, files to read).</summary>
    public string NewDirectory()
    {
        var path = _temp.Combine(Guid.NewGuid().ToString("N")[..8]);
        Directory.CreateDirectory(path);
        return path;
    }

    public async Task InitializeAsync()
    {
        Server = await TrousseauServerProcess.StartAsync(DataDir);
        Clectl = ClectlRunner.For(Server, DataDir, _temp.Path);
    }

    public async Task DisposeAsync() => await Server.DisposeAsync();

    public void Dispose() => _temp.Dispose();
}

/// <summary>The clectl test classes that share one <see cref="ClectlFixture"/>, run one after another.</summary>
[CollectionDefinition(Name)]
public sealed class ClectlAgainstOneServer : ICollectionFixture<ClectlFixture>
{
    public const string Name = "clectl against one trousseaud";
}
