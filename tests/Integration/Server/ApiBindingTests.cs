using System.Net;
using Trousseau.Tests.Integration.Infrastructure;

namespace Trousseau.Tests.Integration.Server;

/// <summary>
/// Where trousseaud agrees to serve its API: without authentication on loopback only, with a bearer token over plain
/// HTTP beyond loopback only when told so, and only on the addresses it checked.
/// </summary>
public sealed class ApiBindingTests : IDisposable
{
    private readonly TempDirectory _temp = new();

    public void Dispose() => _temp.Dispose();

    [Theory]
    [InlineData(" none")]
    [InlineData("None ")]
    public async Task Auth_mode_none_however_it_is_spelled_is_refused_beyond_loopback(string mode)
    {
        var result = await TrousseauServerProcess.RunToExitAsync(_temp.Combine("data"), [$"--Trousseau:Api:Auth:Mode={mode}"], listener: ServerListener.AllInterfaces());

        Assert.Equal(2, result.ExitCode);
        var line = Assert.Single(result.Stderr.Split('\n', StringSplitOptions.RemoveEmptyEntries));
        Assert.Contains("Trousseau:Api:Auth:Mode is 'none', which is allowed only when every URL of Trousseau:Api:Urls is on loopback", line, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Kestrel_endpoints_cannot_serve_the_api_on_addresses_the_checks_never_saw()
    {
        var result = await TrousseauServerProcess.RunToExitAsync(_temp.Combine("data"), ["--Trousseau:Api:Auth:Mode=none", $"--Kestrel:Endpoints:Public:Url=http://0.0.0.0:{FreePort.Next()}"]);

        Assert.Equal(2, result.ExitCode);
        Assert.Contains("Kestrel:Endpoints", Assert.Single(result.Stderr.Split('\n', StringSplitOptions.RemoveEmptyEntries)), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Token_auth_over_plain_http_beyond_loopback_exits_2_unless_insecure_http_is_allowed()
    {
        var refused = await TrousseauServerProcess.RunToExitAsync(_temp.Combine("data"), listener: ServerListener.AllInterfaces());

        Assert.Equal(2, refused.ExitCode);
        var line = Assert.Single(refused.Stderr.Split('\n', StringSplitOptions.RemoveEmptyEntries));
        Assert.Contains("plain HTTP beyond loopback", line, StringComparison.Ordinal);
        Assert.Contains("Trousseau:Api:AllowInsecureHttp=true", line, StringComparison.Ordinal);

        await using var allowed = await TrousseauServerProcess.StartAsync(
            _temp.Combine("data"), ["--Trousseau:Api:AllowInsecureHttp=true"], listener: ServerListener.AllInterfaces());
        using var http = await BearerClient.FromTokenFileAsync(allowed.BaseAddress, _temp.Combine("data", "api.token"));
        using var keys = await http.GetAsync(new Uri("v1/keys", UriKind.Relative));
        Assert.Equal(HttpStatusCode.OK, keys.StatusCode);
    }

    [Fact]
    public async Task Auth_mode_none_stays_loopback_only_even_with_insecure_http_allowed()
    {
        var result = await TrousseauServerProcess.RunToExitAsync(_temp.Combine("data"), ["--Trousseau:Api:Auth:Mode=none", "--Trousseau:Api:AllowInsecureHttp=true"], listener: ServerListener.AllInterfaces());

        Assert.Equal(2, result.ExitCode);
        Assert.Contains("Trousseau:Api:Auth:Mode is 'none'", result.Stderr, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Without_the_api_plain_http_beyond_loopback_serves_the_probes()
    {
        await using var server = await TrousseauServerProcess.StartAsync(
            _temp.Combine("data"), ["--Trousseau:Api:Enabled=false"], listener: ServerListener.AllInterfaces());

        using var ready = await server.Http.GetAsync(new Uri(server.BaseAddress, "readyz"));

        Assert.Equal(HttpStatusCode.OK, ready.StatusCode);
    }
}
