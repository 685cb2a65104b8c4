using System.Net;
using System.Net.Http.Json;
using System.Net.Sockets;
using System.Text.Json;
using System.Text.Json.Nodes;
using Microsoft.Extensions.DependencyInjection;

namespace Trousseau.Tests.Integration.Vault;

/// <summary>
/// The Vault every Vault test talks to: a real one when <c>VAULT_ADDR</c> and <c>VAULT_TOKEN</c> are set (Transit
/// enabled at <c>transit</c>, KV v2 at <c>secret</c>, as a dev server has them), else the in-repo
/// <see cref="VaultTestServer"/>. Fault switches, auth roles and policies exist only on the in-repo server
/// (<see cref="RequireTestServer"/>): tests that need them carry <see cref="VaultTestServerFactAttribute"/> or
/// <see cref="VaultTestServerTheoryAttribute"/>, and are skipped against a real Vault.
/// </summary>
internal sealed class VaultTarget : IAsyncDisposable
{
    /// <summary>Why a test that needs the in-repo server is skipped: a real Vault is configured; null when none is.</summary>
    public static string? TestServerSkipReason =>
        RealVault() is var (address, _)
            ? $"Needs the in-repo Vault test server (fault switches, auth roles, policies, clock or request counts), and VAULT_ADDR ({address}) and VAULT_TOKEN name a real Vault; unset them to run it."
            : null;

    private VaultTarget(Uri address, string token, VaultTestServer? testServer)
    {
        Address = address;
        Token = token;
        TestServer = testServer;
    }

    public Uri Address { get; }

    public string Token { get; }

    public VaultTestServer? TestServer { get; }

    public static async Task<VaultTarget> StartAsync()
    {
        if (RealVault() is var (address, token))
        {
            var real = new VaultTarget(new Uri(address), token, null);
            try
            {
                await real.EnableTransitAsync();
            }
            catch (HttpRequestException e) when (e.StatusCode is null)
            {
                throw new InvalidOperationException($"Vault at VAULT_ADDR ({address}) is unreachable: {e.Message.TrimEnd('.')}. Start it, or unset VAULT_ADDR and VAULT_TOKEN to test against the in-repo Vault test server.", e);
            }

            return real;
        }

        var server = await VaultTestServer.StartAsync();
        return new VaultTarget(server.Address, server.RootToken, server);
    }

    /// <summary>The in-repo server, for a test that switches faults or sets up auth roles and policies.</summary>
    public VaultTestServer RequireTestServer() =>
        TestServer ?? throw new InvalidOperationException(TestServerSkipReason + " Mark the test [VaultTestServerFact] or [VaultTestServerTheory].");

    /// <summary>Writes a KV v2 secret, as <c>vault kv put</c> would; <paramref name="path"/> is like <c>secret/data/app</c>.</summary>
    public async Task PutKvAsync(string path, JsonObject data)
    {
        using var http = Client();
        using var response = await http.PostAsync(new Uri($"v1/{path}", UriKind.Relative), JsonContent.Create(new JsonObject { ["data"] = data }));
        response.EnsureSuccessStatusCode();
    }

    /// <summary>
    /// Sends one request to Vault's HTTP API with this Vault's token, as <c>curl -H "X-Vault-Token: ..."
    /// $VAULT_ADDR/v1/PATH</c> would, and returns the status and the JSON body (null when the answer has none).
    /// </summary>
    public async Task<(HttpStatusCode Status, JsonElement? Body)> SendAsync(HttpMethod method, string path, JsonObject? body = null, string? token = null)
    {
        using var http = Client(token);
        using var request = new HttpRequestMessage(method, new Uri($"v1/{path}", UriKind.Relative));
        if (body is not null)
        {
            request.Content = JsonContent.Create(body);
        }

        using var response = await http.SendAsync(request);
        var text = await response.Content.ReadAsStringAsync();
        return (response.StatusCode, text.Length == 0 ? null : JsonDocument.Parse(text).RootElement.Clone());
    }

    /// <summary>
    /// Adds the in-process library to <paramref name="services"/> on this Vault's Transit key <paramref name="keyName"/>,
    /// with its token and a minute for each call and each attempt (longer than any test waits, so that only the test's
    /// own hold or cancellation ends a call), and an in-memory store.
    /// </summary>
    public ITrousseauBuilder AddTrousseauOnKey(IServiceCollection services, string keyName) =>
        services.AddTrousseau(_ => { })
            .UseVaultTransit(o =>
            {
                o.Address = Address;
                o.KeyName = keyName;
                o.Auth.Token = Token;
                o.Timeout = TimeSpan.FromMinutes(1);
                o.AttemptTimeout = TimeSpan.FromMinutes(1);
            })
            .UseInMemoryStore();

    /// <summary>A Transit key name no other test uses.</summary>
    public static string UniqueKeyName() => "trousseau-test-" + Guid.NewGuid().ToString("N")[..10];

    /// <summary>Creates a Transit key, as an operator would with <c>vault write -f transit/keys/NAME</c>.</summary>
    public async Task CreateKeyAsync(string name)
    {
        using var http = Client();
        using var response = await http.PostAsync(new Uri($"v1/transit/keys/{name}", UriKind.Relative), JsonContent.Create(new { type = "aes256-gcm96" }));
        response.EnsureSuccessStatusCode();
    }

    /// <summary>Reads a Transit key (<c>vault read transit/keys/NAME</c>): the answer's <c>data</c>.</summary>
    public async Task<JsonElement> ReadKeyAsync(string name)
    {
        using var http = Client();
        using var answer = JsonDocument.Parse(await http.GetStringAsync(new Uri($"v1/transit/keys/{name}", UriKind.Relative)));
        return answer.RootElement.GetProperty("data").Clone();
    }

    /// <summary>Rotates a Transit key, as <c>vault write -f transit/keys/NAME/rotate</c> would.</summary>
    public async Task RotateKeyAsync(string name)
    {
        using var http = Client();
        using var response = await http.PostAsync(new Uri($"v1/transit/keys/{name}/rotate", UriKind.Relative), null);
        response.EnsureSuccessStatusCode();
    }

    /// <summary>
    /// Tunes a Transit key, as <c>vault write transit/keys/NAME/config min_decryption_version=2</c> would (the CLI
    /// sends its values as strings, and so does this).
    /// </summary>
    public async Task ConfigureKeyAsync(string name, IReadOnlyDictionary<string, string> settings)
    {
        using var http = Client();
        using var response = await http.PostAsync(new Uri($"v1/transit/keys/{name}/config", UriKind.Relative), JsonContent.Create(settings));
        response.EnsureSuccessStatusCode();
    }

    /// <summary>Sends a key configuration as <see cref="ConfigureKeyAsync"/> does and returns Vault's status and <c>errors</c>, whatever they are.</summary>
    public async Task<(HttpStatusCode Status, IReadOnlyList<string> Errors)> TryConfigureKeyAsync(string name, IReadOnlyDictionary<string, string> settings)
    {
        using var http = Client();
        using var response = await http.PostAsync(new Uri($"v1/transit/keys/{name}/config", UriKind.Relative), JsonContent.Create(settings));
        using var body = JsonDocument.Parse(await response.Content.ReadAsStringAsync());
        var errors = body.RootElement.TryGetProperty("errors", out var list) ? list.EnumerateArray().Select(e => e.GetString() ?? "").ToList() : [];
        return (response.StatusCode, errors);
    }

    /// <summary>Deletes a Transit key, as <c>vault delete transit/keys/NAME</c> would (after deletion_allowed=true).</summary>
    public async Task DeleteKeyAsync(string name)
    {
        using var http = Client();
        using var response = await http.DeleteAsync(new Uri($"v1/transit/keys/{name}", UriKind.Relative));
        response.EnsureSuccessStatusCode();
    }

    /// <summary>
    /// This Vault's address spelled another way: <c>localhost</c> for a loopback IP and the reverse, or the IP
    /// address a plain-HTTP host name resolves to.
    /// </summary>
    public async Task<Uri> AlternateAddressAsync()
    {
        var host = Address.Host switch
        {
            "127.0.0.1" or "[::1]" => "localhost",
            "localhost" => "127.0.0.1",
            var name when Address.Scheme == Uri.UriSchemeHttp && Address.HostNameType == UriHostNameType.Dns =>
                (await Dns.GetHostAddressesAsync(name)).First(a => a.AddressFamily == AddressFamily.InterNetwork).ToString(),
            _ => throw new InvalidOperationException($"Spelling Vault's address two ways needs a loopback or plain-HTTP address; {Address} is neither."),
        };
        return new UriBuilder(Address) { Host = host }.Uri;
    }

    public async ValueTask DisposeAsync()
    {
        if (TestServer is not null)
        {
            await TestServer.DisposeAsync();
        }
    }

    private static (string Address, string Token)? RealVault() =>
        Environment.GetEnvironmentVariable("VAULT_ADDR") is { Length: > 0 } address && Environment.GetEnvironmentVariable("VAULT_TOKEN") is { Length: > 0 } token
            ? (address, token)
            : null;

    private HttpClient Client(string? token = null)
    {
        var http = new HttpClient { BaseAddress = Address };
        http.DefaultRequestHeaders.Add("X-Vault-Token", token ?? Token);
        return http;
    }

    private async Task EnableTransitAsync()
    {
        using var http = Client();
        using var response = await http.PostAsync(new Uri("v1/sys/mounts/transit", UriKind.Relative), JsonContent.Create(new { type = "transit" }));

        // 400 "path is already in use" means an operator enabled it already.
        if (!response.IsSuccessStatusCode && (int)response.StatusCode != 400)
        {
            response.EnsureSuccessStatusCode();
        }
    }
}
