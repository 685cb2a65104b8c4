using System.Diagnostics;
using System.Net;
using System.Net.Http.Json;
using System.Net.Sockets;
using System.Text.Json;
using Trousseau.Tests.Integration.Infrastructure;

namespace Trousseau.Tests.Integration.Vault;

/// <summary>
/// The Vault the tests talk to: a real one when <c>VAULT_ADDR</c> and <c>VAULT_TOKEN</c> are set; else <c>vault</c> or
/// <c>bao</c> from PATH in dev mode; else the in-repo <see cref="VaultTestServer"/>. Fault switches exist only on
/// the in-repo server (<see cref="TestServer"/>).
/// </summary>
internal sealed class VaultTarget : IAsyncDisposable
{
    private readonly Process? _devServer;

    private VaultTarget(Uri address, string token, VaultTestServer? testServer, Process? devServer)
    {
        Address = address;
        Token = token;
        TestServer = testServer;
        _devServer = devServer;
    }

    public Uri Address { get; }

    public string Token { get; }

    public VaultTestServer? TestServer { get; }

    public static async Task<VaultTarget> StartAsync()
    {
        if (Environment.GetEnvironmentVariable("VAULT_ADDR") is { Length: > 0 } address && Environment.GetEnvironmentVariable("VAULT_TOKEN") is { Length: > 0 } token)
        {
            var real = new VaultTarget(new Uri(address), token, null, null);
            await real.EnableTransitAsync();
            return real;
        }

        if ((FindOnPath("vault") ?? FindOnPath("bao")) is { } binary)
        {
            return await StartDevServerAsync(binary);
        }

        var server = await VaultTestServer.StartAsync();
        return new VaultTarget(server.Address, server.RootToken, server, null);
    }

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

        if (_devServer is not null)
        {
            _devServer.Kill(entireProcessTree: true);
            await _devServer.WaitForExitAsync();
            _devServer.Dispose();
        }
    }

    private HttpClient Client()
    {
        var http = new HttpClient { BaseAddress = Address };
        http.DefaultRequestHeaders.Add("X-Vault-Token", Token);
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

    private static async Task<VaultTarget> StartDevServerAsync(string binary)
    {
        var port = FreePort.Next();
        var token = "dev-" + Guid.NewGuid().ToString("N");
        var info = new ProcessStartInfo(binary) { RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var arg in new[] { "server", "-dev", $"-dev-root-token-id={token}", $"-dev-listen-address=127.0.0.1:{port}" })
        {
            info.ArgumentList.Add(arg);
        }

        var process = Process.Start(info)!;
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        var target = new VaultTarget(new Uri($"http://127.0.0.1:{port}/"), token, null, process);
        using var http = new HttpClient { BaseAddress = target.Address };
        using var deadline = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        while (true)
        {
            try
            {
                using var health = await http.GetAsync(new Uri("v1/sys/health", UriKind.Relative), deadline.Token);
                if (health.IsSuccessStatusCode)
                {
                    break;
                }
            }
            catch (HttpRequestException)
            {
                // Not listening yet.
            }

            await Task.Delay(100, deadline.Token);
        }

        await target.EnableTransitAsync();
        return target;
    }

    private static string? FindOnPath(string name) =>
        (Environment.GetEnvironmentVariable("PATH") ?? "").Split(':', StringSplitOptions.RemoveEmptyEntries)
            .Select(dir => Path.Combine(dir, name))
            .FirstOrDefault(File.Exists);
}
