using System.Net;
using System.Text.RegularExpressions;
using Trousseau.Tests.Integration.Infrastructure;

namespace Trousseau.Tests.Integration.Server;

/// <summary>trousseaud's log at its default levels stays readable while a dependency is down.</summary>
public sealed class ServerLoggingTests : IDisposable
{
    private readonly TempDirectory _temp = new();

    public void Dispose() => _temp.Dispose();

    [Fact]
    public async Task Vault_down_is_one_warning_however_often_readiness_is_asked_and_no_stack_trace()
    {
        var deadVault = $"http://127.0.0.1:{FreePort.Next()}";
        await using var server = await TrousseauServerProcess.StartAsync(
            _temp.Combine("data"),
            ["--Trousseau:KeyProvider=vault", $"--Trousseau:Vault:Address={deadVault}", "--Trousseau:Vault:Auth:Token=not-a-real-token"]);

        for (var i = 0; i < 40; i++)
        {
            using var ready = await server.Http.GetAsync(new Uri(server.BaseAddress, "readyz"));
            Assert.Equal(HttpStatusCode.ServiceUnavailable, ready.StatusCode);
        }

        await Eventually.HoldsAsync(() => server.Log.Contains("Key provider vault is unavailable", StringComparison.Ordinal), () => server.Log);
        var log = server.Log;
        Assert.Single(Regex.Matches(log, "Key provider vault is unavailable"));
        Assert.DoesNotContain("   at ", log, StringComparison.Ordinal);
        Assert.DoesNotContain("System.Net.Http.HttpClient", log, StringComparison.Ordinal);
        Assert.DoesNotContain("HealthCheckService", log, StringComparison.Ordinal);
        Assert.DoesNotContain("not-a-real-token", log, StringComparison.Ordinal);
    }
}
