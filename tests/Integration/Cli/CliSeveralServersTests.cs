using Trousseau.Tests.Integration.Etcd;
using Trousseau.Tests.Integration.Infrastructure;
using Trousseau.Tests.StoreContract;

namespace Trousseau.Tests.Integration.Cli;

/// <summary>
/// Two trousseaud on one etcd, sharing the key ring and the API token, as a broker runs for high availability, started
/// once for <see cref="CliSeveralServersTests"/>.
/// </summary>
public sealed class TwoServersOnOneEtcdFixture : IAsyncLifetime, IDisposable
{
    private readonly TempDirectory _temp = new();

    internal EtcdProcess Etcd { get; private set; } = null!;

    internal TrousseauServerProcess First { get; private set; } = null!;

    internal TrousseauServerProcess Second { get; private set; } = null!;

    internal string FirstDataDir => _temp.Combine("first");

    internal string SecondDataDir => _temp.Combine("second");

    /// <summary>clectl with the servers' token in <c>TROUSSEAU_TOKEN</c> and the server list left to each command.</summary>
    internal ClectlRunner Clectl { get; private set; } = null!;

    public async Task InitializeAsync()
    {
        Etcd = await EtcdProcess.StartAsync();
        First = await EtcdServerTests.StartServerAsync(Etcd, FirstDataDir);
        Second = await TrousseauServerProcess.StartAsync(SecondDataDir,
        [
            "--Trousseau:Store=etcd",
            $"--Trousseau:Etcd:Endpoints:0={Etcd.ClientUrl}",
            $"--Trousseau:Local:KeyFile={Path.Combine(FirstDataDir, "local.keyring")}",
            $"--Trousseau:Api:Auth:TokenFile={Path.Combine(FirstDataDir, "api.token")}",
        ]);
        Clectl = ClectlRunner.For(First, FirstDataDir, _temp.Path).With(("TROUSSEAU_SERVER", null));
    }

    public async Task DisposeAsync()
    {
        await Second.DisposeAsync();
        await First.DisposeAsync();
        await Etcd.DisposeAsync();
    }

    public void Dispose() => _temp.Dispose();
}

/// <summary>clectl with a list of real trousseaud servers (<c>--server a,b</c>), one of which fails part-way.</summary>
public sealed class CliSeveralServersTests(TwoServersOnOneEtcdFixture servers) : IClassFixture<TwoServersOnOneEtcdFixture>
{
    /// <summary>Read by <see cref="StoreFactAttribute"/>: skip when etcd is missing outside CI.</summary>
    public static string? SkipReason => EtcdProcess.SkipReason;

    [StoreFact]
    public async Task A_create_whose_answer_was_lost_on_the_first_server_is_not_sent_to_the_second_and_says_it_may_have_been_applied()
    {
        await using var lossy = AnswerDroppingProxy.Start(servers.First.BaseAddress);
        lossy.DropAnswers();

        var create = servers.Clectl.RunAsync("secret", "create", "several/lost-answer", "--from-literal", "k=v", "--server", $"{lossy.Url},{servers.Second.BaseAddress}");
        await Eventually.HoldsAsync(
            async () => (await servers.Clectl.RunAsync("secret", "get", "several/lost-answer", "--server", servers.First.BaseAddress.ToString())).ExitCode == 0,
            () => "the first server never stored the secret");
        lossy.CutAndHeal();
        var result = await create;

        Assert.Equal(
            $"clectl: The request to trousseaud at {lossy.Url} failed: trousseaud closed the connection without answering. "
            + $"The POST v1/secrets may or may not have been applied at {lossy.Url}: check (clectl secret get, secret list, key status) before you repeat it.",
            ClectlAssert.Fails(result, 6));
        Assert.DoesNotContain("\"several/lost-answer\"", await File.ReadAllTextAsync(Path.Combine(servers.SecondDataDir, "audit.log")), StringComparison.Ordinal);
    }
}
