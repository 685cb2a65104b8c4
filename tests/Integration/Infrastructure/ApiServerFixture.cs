namespace Trousseau.Tests.Integration.Infrastructure;

/// <summary>
/// One trousseaud on the embedded default (local key ring, SQLite), with an authenticated client, shared by the tests
/// of a class: they use names of their own and leave the server's settings and keys as they found them.
/// </summary>
public sealed class ApiServerFixture : IAsyncLifetime, IDisposable
{
    private readonly TempDirectory _temp = new();

    internal TrousseauServerProcess Server { get; private set; } = null!;

    /// <summary>A client of the API that sends the server's bearer token.</summary>
    internal HttpClient Http { get; private set; } = null!;

    /// <summary>The bearer token the server wrote to its data directory.</summary>
    internal string Token { get; private set; } = "";

    internal string DataDir => _temp.Combine("data");

    internal string WorkingDirectory => _temp.Path;

    /// <summary>An absolute URI of the server sent as written: no dot-segment removal, no unescaping.</summary>
    internal Uri RawUri(string path) =>
        new(Server.BaseAddress + path, new UriCreationOptions { DangerousDisablePathAndQueryCanonicalization = true });

    public async Task InitializeAsync()
    {
        Server = await TrousseauServerProcess.StartAsync(DataDir);
        Token = await BearerClient.ReadTokenAsync(Path.Combine(DataDir, "api.token"));
        Http = BearerClient.Create(Server.BaseAddress, Token);
    }

    public async Task DisposeAsync()
    {
        Http.Dispose();
        await Server.DisposeAsync();
    }

    public void Dispose() => _temp.Dispose();
}
