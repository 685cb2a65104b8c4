using System.Net;
using System.Security.Claims;
using Microsoft.AspNetCore.Authentication;
using Microsoft.AspNetCore.Authentication.Cookies;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.DataProtection;
using Microsoft.AspNetCore.DataProtection.KeyManagement;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Testing;
using Trousseau.Tests.Integration.Infrastructure;
using Trousseau.Tests.Integration.Vault;

namespace Trousseau.Tests.Integration.Hosting;

/// <summary>
/// An ASP.NET Core application on Kestrel that signs users in with cookies, its Data Protection keys persisted to a
/// directory and protected by Trousseau (the local key ring, or a Vault Transit key), as a developer sets it up.
/// </summary>
public sealed class DataProtectionAppTests(VaultFixture fixture) : IClassFixture<VaultFixture>, IDisposable
{
    private readonly TempDirectory _temp = new();
    private readonly VaultTarget _vault = fixture.ForNextTest();

    public void Dispose() => _temp.Dispose();

    [Fact]
    public async Task Key_files_logs_and_errors_hold_no_key_material()
    {
        var log = new FakeLogCollector();
        string cookie;
        string masterKey;
        await using (var app = await StartAsync(log: log))
        {
            cookie = await SignInAsync(app, "alice");
            Assert.Equal("alice", await WhoAmIAsync(app, cookie));
            masterKey = MasterKeys(app).Single();
        }

        await using (var again = await StartAsync(log: log))
        {
            Assert.Equal("alice", await WhoAmIAsync(again, cookie));
        }

        await using (var stranger = await StartAsync(keyRing: _temp.Combine("other-ring.json"), log: log))
        {
            Assert.Null(await WhoAmIAsync(stranger, cookie));
        }

        foreach (var file in Directory.GetFiles(_temp.Combine("keys")))
        {
            var xml = await File.ReadAllTextAsync(file);
            Assert.DoesNotContain("<masterKey", xml, StringComparison.Ordinal);
            Assert.DoesNotContain(masterKey, xml, StringComparison.Ordinal);
        }

        var records = log.GetSnapshot();
        Assert.NotEmpty(records);
        Assert.DoesNotContain(records, r => r.Message.Contains(masterKey, StringComparison.Ordinal) || (r.Exception?.ToString().Contains(masterKey, StringComparison.Ordinal) ?? false));
        Assert.DoesNotContain(records, r => r.Message.Contains("unencrypted form", StringComparison.Ordinal));
    }

    [VaultTestServerFact]
    public async Task With_Vault_sealed_mid_run_the_app_keeps_reading_its_cookies_and_signing_users_in()
    {
        var server = _vault.RequireTestServer();
        var key = VaultTarget.UniqueKeyName();
        await _vault.CreateKeyAsync(key);
        await using var app = await StartAsync(vaultKey: key);
        var cookie = await SignInAsync(app, "alice");

        server.Sealed = true;
        try
        {
            Assert.Equal("alice", await WhoAmIAsync(app, cookie));
            Assert.Equal("bob", await WhoAmIAsync(app, await SignInAsync(app, "bob")));
        }
        finally
        {
            server.Sealed = false;
        }
    }

    [VaultTestServerFact]
    public async Task With_Vault_not_answering_at_first_start_a_new_key_fails_naming_Vault_and_its_timeout_and_the_same_app_makes_one_once_Vault_answers()
    {
        var server = _vault.RequireTestServer();
        var key = VaultTarget.UniqueKeyName();
        await _vault.CreateKeyAsync(key);
        var release = new TaskCompletionSource();
        server.Hold = new VaultTestServer.VaultHold("transit/", release.Task);
        try
        {
            await using var app = await StartAsync(vaultKey: key);
            var keys = app.Services.GetRequiredService<IKeyManager>();
            var protector = app.Services.GetRequiredService<IDataProtectionProvider>().CreateProtector("orders");
            var error = Assert.ThrowsAny<System.Security.Cryptography.CryptographicException>(() => protector.Protect("payload"));
            var cause = Assert.IsType<DependencyUnavailableException>(error.InnerException);
            Assert.Contains("Vault did not answer", cause.Message, StringComparison.Ordinal);
            Assert.Contains("(Trousseau:Vault:Timeout)", cause.Message, StringComparison.Ordinal);
            var direct = Assert.IsType<DependencyUnavailableException>(Assert.ThrowsAny<Exception>(() => keys.CreateNewKey(DateTimeOffset.UtcNow, DateTimeOffset.UtcNow.AddDays(90))));
            Assert.Contains("(Trousseau:Vault:Timeout)", direct.Message, StringComparison.Ordinal);
            Assert.False(Directory.Exists(_temp.Combine("keys")) && Directory.GetFiles(_temp.Combine("keys")).Length > 0, "a key was written while Vault did not answer");

            release.TrySetResult();
            server.Hold = null;
            var payload = await Eventually.ReturnsAsync(() => Task.FromResult(protector.Protect("payload")), _ => true, transient: e => e is System.Security.Cryptography.CryptographicException);
            Assert.Equal("payload", protector.Unprotect(payload));
            Assert.Single(Directory.GetFiles(_temp.Combine("keys")));
        }
        finally
        {
            release.TrySetResult();
            server.Hold = null;
        }
    }

    [VaultTestServerFact]
    public async Task After_the_Transit_key_rotates_and_the_store_is_rewrapped_the_app_reads_its_old_cookies_and_old_keys()
    {
        var key = VaultTarget.UniqueKeyName();
        await _vault.CreateKeyAsync(key);
        string cookie;
        await using (var app = await StartAsync(vaultKey: key))
        {
            cookie = await SignInAsync(app, "alice");
            await _vault.RotateKeyAsync(key);
            var admin = app.Services.GetRequiredService<IKeyAdministration>();
            Assert.Equal(0, (await admin.RewrapSecretsAsync()).Failed);
            Assert.Equal("alice", await WhoAmIAsync(app, cookie));
        }

        await using var restarted = await StartAsync(vaultKey: key);
        Assert.Equal("alice", await WhoAmIAsync(restarted, cookie));
        var newKey = restarted.Services.GetRequiredService<IKeyManager>().CreateNewKey(DateTimeOffset.UtcNow, DateTimeOffset.UtcNow.AddDays(90));
        await using var third = await StartAsync(vaultKey: key);
        Assert.Contains(third.Services.GetRequiredService<IKeyManager>().GetAllKeys(), k => k.KeyId == newKey.KeyId && k.Descriptor is not null);
        Assert.Equal("alice", await WhoAmIAsync(third, cookie));
    }

    [VaultTestServerFact]
    public async Task A_key_made_after_a_rotation_in_Vault_is_under_the_new_version_and_its_cookies_survive_min_decryption_version_raised_past_the_old_one()
    {
        var key = VaultTarget.UniqueKeyName();
        await _vault.CreateKeyAsync(key);
        await using (var app = await StartAsync(vaultKey: key))
        {
            await SignInAsync(app, "alice");
            await _vault.RotateKeyAsync(key);
            app.Services.GetRequiredService<IKeyManager>().CreateNewKey(DateTimeOffset.UtcNow, DateTimeOffset.UtcNow.AddDays(90));
        }

        string cookie;
        await using (var restarted = await StartAsync(vaultKey: key))
        {
            cookie = await SignInAsync(restarted, "bob");
        }

        await _vault.ConfigureKeyAsync(key, new Dictionary<string, string> { ["min_decryption_version"] = "2" });

        await using var again = await StartAsync(vaultKey: key);
        Assert.Equal("bob", await WhoAmIAsync(again, cookie));
    }

    [VaultTestServerFact]
    public async Task Instances_sharing_the_key_directory_and_Transit_key_read_each_others_cookies_and_another_application_does_not()
    {
        var key = VaultTarget.UniqueKeyName();
        await _vault.CreateKeyAsync(key);
        await using var first = await StartAsync(vaultKey: key);
        await using var second = await StartAsync(vaultKey: key);
        await using var other = await StartAsync(vaultKey: key, applicationName: "billing");

        Assert.Equal("alice", await WhoAmIAsync(second, await SignInAsync(first, "alice")));
        Assert.Equal("bob", await WhoAmIAsync(first, await SignInAsync(second, "bob")));
        Assert.Null(await WhoAmIAsync(other, await SignInAsync(first, "carol")));
    }

    [Fact]
    public async Task A_tampered_and_a_truncated_key_element_are_logged_and_skipped_and_the_app_reads_cookies_of_its_other_key()
    {
        var log = new FakeLogCollector();
        string cookie;
        string[] damaged;
        await using (var app = await StartAsync())
        {
            cookie = await SignInAsync(app, "alice");
            var first = Directory.GetFiles(_temp.Combine("keys"));
            var keys = app.Services.GetRequiredService<IKeyManager>();
            keys.CreateNewKey(DateTimeOffset.UtcNow, DateTimeOffset.UtcNow.AddDays(90));
            keys.CreateNewKey(DateTimeOffset.UtcNow, DateTimeOffset.UtcNow.AddDays(90));
            damaged = [.. Directory.GetFiles(_temp.Combine("keys")).Except(first)];
        }

        Assert.Equal(2, damaged.Length);
        await DamageCiphertextAsync(damaged[0], bytes => { bytes[^1] ^= 1; return bytes; });
        await DamageCiphertextAsync(damaged[1], bytes => bytes[..20]);

        await using var restarted = await StartAsync(log: log);
        Assert.Equal("alice", await WhoAmIAsync(restarted, cookie));
        Assert.Equal("bob", await WhoAmIAsync(restarted, await SignInAsync(restarted, "bob")));
        var skipped = log.GetSnapshot().Where(r => r.Level == LogLevel.Error && r.Exception is InvalidCiphertextException).ToList();
        Assert.NotEmpty(skipped);
        Assert.All(skipped, r => Assert.Contains(damaged, file => file.Contains(r.Message.Split('"')[1], StringComparison.Ordinal)));
    }

    [VaultTestServerFact]
    public async Task A_key_element_the_local_key_ring_wrote_is_skipped_under_Vault_with_an_error_naming_both_providers()
    {
        var key = VaultTarget.UniqueKeyName();
        await _vault.CreateKeyAsync(key);
        string cookie;
        await using (var local = await StartAsync())
        {
            cookie = await SignInAsync(local, "alice");
        }

        var log = new FakeLogCollector();
        await using var vault = await StartAsync(vaultKey: key, log: log);

        Assert.Null(await WhoAmIAsync(vault, cookie));
        var skipped = log.GetSnapshot().Where(r => r.Level == LogLevel.Error && r.Exception is InvalidCiphertextException).ToList();
        Assert.NotEmpty(skipped);
        Assert.All(skipped, r => Assert.Equal(
            "The ciphertext cannot be decrypted: it was written by another key provider than 'vault' (by 'local').",
            r.Exception!.Message));
    }

    [Fact]
    public async Task Without_Trousseau_registered_the_app_does_not_start_and_the_error_names_the_missing_call()
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        builder.WebHost.UseUrls("http://127.0.0.1:0");
        builder.Services.AddDataProtection()
            .PersistKeysToFileSystem(new DirectoryInfo(_temp.Combine("keys")))
            .ProtectKeysWithTrousseau();
        await using var app = builder.Build();

        var error = await Assert.ThrowsAsync<Microsoft.Extensions.Options.OptionsValidationException>(() => app.StartAsync());

        Assert.Contains("ProtectKeysWithTrousseau needs Trousseau: call services.AddTrousseau(...)", Assert.Single(error.Failures), StringComparison.Ordinal);
        Assert.False(Directory.Exists(_temp.Combine("keys")) && Directory.GetFiles(_temp.Combine("keys")).Length > 0, "a key was written without Trousseau");
    }

    private static async Task DamageCiphertextAsync(string file, Func<byte[], byte[]> damage)
    {
        var xml = await File.ReadAllTextAsync(file);
        var ciphertext = System.Text.RegularExpressions.Regex.Match(xml, "<ciphertext>([^<]*)</ciphertext>").Groups[1].Value;
        await File.WriteAllTextAsync(file, xml.Replace(ciphertext, Convert.ToBase64String(damage(Convert.FromBase64String(ciphertext))), StringComparison.Ordinal));
    }

    private async Task<WebApplication> StartAsync(string? vaultKey = null, string? keyRing = null, string applicationName = "orders", FakeLogCollector? log = null)
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        if (log is not null)
        {
            builder.Logging.SetMinimumLevel(LogLevel.Trace).AddProvider(new FakeLoggerProvider(log));
        }

        builder.WebHost.UseUrls("http://127.0.0.1:0");
        var trousseau = builder.Services.AddTrousseau(_ => { }).UseInMemoryStore();
        if (vaultKey is null)
        {
            trousseau.UseLocalKeyRing(ring => ring.KeyFile = keyRing ?? _temp.Combine("ring.json"));
        }
        else
        {
            trousseau.UseVaultTransit(o =>
            {
                o.Address = _vault.Address;
                o.KeyName = vaultKey;
                o.Auth.Token = _vault.Token;
            });
        }

        builder.Services.AddDataProtection()
            .SetApplicationName(applicationName)
            .PersistKeysToFileSystem(new DirectoryInfo(_temp.Combine("keys")))
            .ProtectKeysWithTrousseau();
        builder.Services.AddAuthentication(CookieAuthenticationDefaults.AuthenticationScheme).AddCookie();

        var app = builder.Build();
        app.MapPost("/signin/{name}", (HttpContext context, string name) =>
            context.SignInAsync(new ClaimsPrincipal(new ClaimsIdentity([new Claim(ClaimTypes.Name, name)], CookieAuthenticationDefaults.AuthenticationScheme))));
        app.MapGet("/me", (HttpContext context) =>
            context.User.Identity is { IsAuthenticated: true, Name: { } name } ? Results.Text(name) : Results.StatusCode(StatusCodes.Status401Unauthorized));
        await app.StartAsync();
        return app;
    }

    private static IEnumerable<string> MasterKeys(WebApplication app) =>
        app.Services.GetRequiredService<IKeyManager>().GetAllKeys()
            .Select(k => k.Descriptor.ExportToXml().SerializedDescriptorElement.Descendants("value").Single().Value);

    private static async Task<string> SignInAsync(WebApplication app, string name)
    {
        using var http = Client(app);
        using var response = await http.PostAsync($"signin/{name}", null);
        response.EnsureSuccessStatusCode();
        return response.Headers.GetValues("Set-Cookie").Single().Split(';')[0];
    }

    /// <summary>The signed-in user the app sees with <paramref name="cookie"/>, or null when it does not accept it.</summary>
    private static async Task<string?> WhoAmIAsync(WebApplication app, string cookie)
    {
        using var http = Client(app);
        using var request = new HttpRequestMessage(HttpMethod.Get, "me");
        request.Headers.Add("Cookie", cookie);
        using var response = await http.SendAsync(request);
        return response.StatusCode == HttpStatusCode.OK ? await response.Content.ReadAsStringAsync() : null;
    }

    private static HttpClient Client(WebApplication app) =>
        new(new HttpClientHandler { UseCookies = false, AllowAutoRedirect = false })
        {
            BaseAddress = new Uri(app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.Single() + "/"),
            Timeout = TimeSpan.FromSeconds(30),
        };
}
