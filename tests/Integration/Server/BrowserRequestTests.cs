using System.Net;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using Trousseau.Remote;
using Trousseau.Tests.Integration.Infrastructure;

namespace Trousseau.Tests.Integration.Server;

/// <summary>
/// trousseaud with <c>Api:Auth:Mode=none</c> on loopback, where any local process, and so any web page a local browser
/// opens, can reach it; one name beside the loopback ones is allowed as Host (<c>broker.test</c>).
/// </summary>
public sealed class OpenLoopbackServerFixture : IAsyncLifetime, IDisposable
{
    public const string AllowedName = "broker.test";

    private readonly TempDirectory _temp = new();

    internal TrousseauServerProcess Server { get; private set; } = null!;

    internal HttpClient Http { get; } = new() { Timeout = TimeSpan.FromSeconds(30) };

    internal ClectlRunner Clectl { get; private set; } = null!;

    internal int Port => Server.BaseAddress.Port;

    public async Task InitializeAsync()
    {
        Server = await TrousseauServerProcess.StartAsync(_temp.Combine("data"), ["--Trousseau:Api:Auth:Mode=none", $"--Trousseau:Api:AllowedHosts:0={AllowedName}"]);
        Http.BaseAddress = Server.BaseAddress;
        Clectl = ClectlRunner.For(Server, _temp.Combine("data"), _temp.Path);
    }

    public async Task DisposeAsync()
    {
        Http.Dispose();
        await Server.DisposeAsync();
    }

    public void Dispose() => _temp.Dispose();
}

/// <summary>
/// What a web page in a browser on the same machine can make the API do: nothing. DNS rebinding (a page whose name
/// now resolves to 127.0.0.1) is refused by the Host check, a cross-site request by its Origin or Sec-Fetch-Site, and
/// a state-changing request that a page can send without a CORS preflight by its content type.
/// </summary>
public sealed class BrowserRequestTests(OpenLoopbackServerFixture fixture) : IClassFixture<OpenLoopbackServerFixture>
{
    [Fact]
    public async Task A_host_that_is_not_a_loopback_name_or_an_allowed_one_is_refused()
    {
        foreach (var host in new[] { "evil.example", $"evil.example:{fixture.Port}", "localhost.evil.example", "10.0.0.1" })
        {
            using var response = await SendAsync(HttpMethod.Get, "v1/secrets", host: host);

            var problem = await Problems.AssertAsync(response, HttpStatusCode.MisdirectedRequest);
            Assert.Equal(ProblemTypes.HostNotAllowed, problem.GetProperty("type").GetString());
            Assert.Contains("Trousseau:Api:AllowedHosts", problem.GetProperty("detail").GetString(), StringComparison.Ordinal);
        }

        foreach (var host in new[] { $"localhost:{fixture.Port}", "LOCALHOST", $"127.0.0.1:{fixture.Port}", $"[::1]:{fixture.Port}", $"{OpenLoopbackServerFixture.AllowedName}:{fixture.Port}" })
        {
            using var response = await SendAsync(HttpMethod.Get, "v1/secrets", host: host);

            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        }
    }

    [Fact]
    public async Task A_cross_site_request_is_refused_and_rotates_no_key()
    {
        var before = await KeyIdAsync();
        var crossSite = new (string Name, string Value)[][]
        {
            [("Origin", "http://evil.example")],
            [("Origin", $"http://localhost:{fixture.Port + 1}")],
            [("Origin", $"https://127.0.0.1:{fixture.Port}")],
            [("Origin", "null")],
            [("Sec-Fetch-Site", "cross-site")],
            [("Sec-Fetch-Site", "same-site")],
        };

        foreach (var headers in crossSite)
        {
            using var response = await SendAsync(HttpMethod.Post, "v1/keys/rotate", json: "{}", headers: headers);

            var problem = await Problems.AssertAsync(response, HttpStatusCode.Forbidden);
            Assert.Equal(ProblemTypes.CrossSite, problem.GetProperty("type").GetString());
        }

        Assert.Equal(before, await KeyIdAsync());
    }

    [Fact]
    public async Task A_cross_site_read_is_refused_and_its_answer_holds_no_secret_value()
    {
        ClectlAssert.Ok(await fixture.Clectl.RunAsync("secret", "create", "browser/read", "--from-literal", "k=cross-site-read-value"));
        var crossSite = new (string Name, string Value)[][]
        {
            [("Origin", "http://evil.example")],
            [("Sec-Fetch-Site", "cross-site")],
        };

        foreach (var headers in crossSite)
        {
            using var response = await SendAsync(HttpMethod.Get, "v1/secrets/browser/read", headers: headers);

            var body = await response.Content.ReadAsStringAsync();
            Assert.DoesNotContain("cross-site-read-value", body, StringComparison.Ordinal);
            var problem = await Problems.AssertAsync(response, HttpStatusCode.Forbidden);
            Assert.Equal(ProblemTypes.CrossSite, problem.GetProperty("type").GetString());
        }
    }

    [Fact]
    public async Task A_same_origin_request_is_served()
    {
        (string, string)[] sameOrigin = [("Origin", $"http://127.0.0.1:{fixture.Port}"), ("Sec-Fetch-Site", "same-origin")];

        using var response = await SendAsync(HttpMethod.Post, "v1/encrypt", json: """{"plaintext":"aGk="}""", headers: sameOrigin);

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
    }

    [Fact]
    public async Task A_state_changing_request_without_a_json_content_type_is_refused_and_changes_nothing()
    {
        var before = await KeyIdAsync();

        using var rotate = await SendAsync(HttpMethod.Post, "v1/keys/rotate");
        using var rewrap = await SendAsync(HttpMethod.Post, "v1/keys/rewrap", text: "{}");
        using var create = await SendAsync(HttpMethod.Post, "v1/secrets", bytes: """{"name":"browser/no-type","data":{"k":"v"}}"""u8.ToArray());
        using var read = await SendAsync(HttpMethod.Get, "v1/secrets/browser/no-type");

        foreach (var response in new[] { rotate, rewrap, create })
        {
            var problem = await Problems.AssertAsync(response, HttpStatusCode.UnsupportedMediaType);
            Assert.Equal(ProblemTypes.InvalidInput, problem.GetProperty("type").GetString());
        }

        Assert.Equal(HttpStatusCode.NotFound, read.StatusCode);
        Assert.Equal(before, await KeyIdAsync());
    }

    [Fact]
    public async Task Clectl_and_the_remote_client_still_rotate_rewrap_and_write()
    {
        ClectlAssert.Ok(await fixture.Clectl.RunAsync("secret", "create", "browser/clectl", "--from-literal", "k=v"));
        ClectlAssert.Ok(await fixture.Clectl.RunAsync("key", "rotate"));
        ClectlAssert.Ok(await fixture.Clectl.RunAsync("key", "rewrap"));

        using var http = new HttpClient { BaseAddress = fixture.Server.BaseAddress };
        var client = new TrousseauClient(http);
        var rotated = await client.RotateKeyAsync();
        await client.RewrapSecretsAsync();
        var secret = await client.GetSecretAsync("browser/clectl");

        Assert.Equal(rotated.KeyId, await KeyIdAsync());
        Assert.Equal("v", secret.Data["k"]);
    }

    private async Task<string> KeyIdAsync()
    {
        using var response = await SendAsync(HttpMethod.Get, "v1/keys");
        return (await response.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("keyId").GetString()!;
    }

    private Task<HttpResponseMessage> SendAsync(
        HttpMethod method,
        string path,
        string? json = null,
        string? text = null,
        byte[]? bytes = null,
        string? host = null,
        IEnumerable<(string Name, string Value)>? headers = null)
    {
        var request = new HttpRequestMessage(method, path);
        if (host is not null)
        {
            request.Headers.Host = host;
        }

        foreach (var (name, value) in headers ?? [])
        {
            request.Headers.TryAddWithoutValidation(name, value);
        }

        request.Content = json is not null ? new StringContent(json, Encoding.UTF8, "application/json")
            : text is not null ? new StringContent(text, Encoding.UTF8, "text/plain")
            : bytes is not null ? new ByteArrayContent(bytes)
            : null;
        return fixture.Http.SendAsync(request);
    }
}

