using System.Net;
using System.Text.Json;
using System.Text.Json.Nodes;
using Trousseau.Tests.Integration.Infrastructure;

namespace Trousseau.Tests.Integration.Vault;

/// <summary>
/// trousseaud configured for Vault from settings alone: Kubernetes auth at the configured mount, the KV v2 overlay,
/// rewrap before archiving old key versions, its errors. A real Vault when <c>VAULT_ADDR</c> is set
/// (<see cref="VaultTarget"/>).
/// </summary>
public sealed class VaultServerTests : IAsyncLifetime, IDisposable
{
    private const string ConfigPath = "secret/data/trousseau/config";
    private readonly TempDirectory _temp = new();
    private VaultTarget _vault = null!;
    private string _keyName = null!;

    public async Task InitializeAsync()
    {
        _vault = await VaultTarget.StartAsync();
        _keyName = VaultTarget.UniqueKeyName();
        await _vault.CreateKeyAsync(_keyName);
    }

    public async Task DisposeAsync() => await _vault.DisposeAsync();

    public void Dispose() => _temp.Dispose();

    [Fact]
    public async Task Kubernetes_auth_from_configuration_alone_serves_secrets_and_logs_no_token_or_jwt()
    {
        const string Jwt = "eyJhbGciOiJSUzI1NiJ9.service-account-token.signature";
        var jwtFile = _temp.Combine("sa-token");
        await File.WriteAllTextAsync(jwtFile, Jwt);
        var vault = _vault.RequireTestServer();
        vault.AddKubernetesRole("trousseau-kms", Jwt, TimeSpan.FromMinutes(5), TimeSpan.FromHours(1));
        var settings = _temp.Combine("appsettings.json");
        await File.WriteAllTextAsync(settings, $$"""
            { "Trousseau": { "KeyProvider": "vault", "Vault": { "Address": "{{_vault.Address}}", "KeyName": "{{_keyName}}",
              "Auth": { "Method": "kubernetes", "Role": "trousseau-kms", "JwtFile": "{{jwtFile}}" } } } }
            """);

        await using var server = await TrousseauServerProcess.StartAsync(_temp.Combine("data"), ["--config", settings]);
        var clectl = ClectlRunner.For(server, _temp.Combine("data"), _temp.Path);
        var create = await clectl.RunAsync("secret", "create", "k8s/auth", "--from-literal", "k=v");
        var read = await clectl.RunAsync("secret", "get", "k8s/auth", "--key", "k");
        await server.StopAsync();

        Assert.True(create.ExitCode == 0, create.Stderr + server.Log);
        Assert.Equal("v", read.Stdout);
        Assert.Equal(1, vault.Count("auth/kubernetes/login", 200));
        Assert.NotEmpty(vault.IssuedTokens);
        Assert.DoesNotContain(Jwt, server.Log, StringComparison.Ordinal);
        Assert.All(vault.IssuedTokens, token => Assert.DoesNotContain(token, server.Log, StringComparison.Ordinal));
    }

    [Fact]
    public async Task Kubernetes_auth_logs_in_at_the_configured_mount_only()
    {
        const string Jwt = "eyJhbGciOiJSUzI1NiJ9.mounted-elsewhere.signature";
        var jwtFile = _temp.Combine("sa-token");
        await File.WriteAllTextAsync(jwtFile, Jwt);
        var vault = _vault.RequireTestServer();
        vault.AddKubernetesRole("trousseau-kms", Jwt, TimeSpan.FromMinutes(5), TimeSpan.FromHours(1), mount: "k8s-prod");
        string[] kubernetes = ["--Trousseau:KeyProvider=vault", $"--Trousseau:Vault:Address={_vault.Address}", $"--Trousseau:Vault:KeyName={_keyName}",
            "--Trousseau:Vault:Auth:Method=kubernetes", "--Trousseau:Vault:Auth:Role=trousseau-kms", $"--Trousseau:Vault:Auth:JwtFile={jwtFile}", "--Trousseau:Kms:Enabled=false"];

        ProcessResult atDefault, atMount;
        await using (var server = await TrousseauServerProcess.StartAsync(_temp.Combine("data"), kubernetes))
        {
            atDefault = await ClectlRunner.For(server, _temp.Combine("data"), _temp.Path).RunAsync("secret", "create", "k8s/default", "--from-literal", "k=v");
            await server.StopAsync();
        }

        await using (var server = await TrousseauServerProcess.StartAsync(_temp.Combine("data"), [.. kubernetes, "--Trousseau:Vault:Auth:Mount=k8s-prod"]))
        {
            atMount = await ClectlRunner.For(server, _temp.Combine("data"), _temp.Path).RunAsync("secret", "create", "k8s/mounted", "--from-literal", "k=v");
            await server.StopAsync();
        }

        Assert.Equal(6, atDefault.ExitCode);
        Assert.Contains("auth/kubernetes/login", atDefault.Stderr, StringComparison.Ordinal);
        Assert.Equal(0, vault.Count("auth/kubernetes/login", 200));
        Assert.True(atMount.ExitCode == 0, atMount.Stderr);
        Assert.Equal(1, vault.Count("auth/k8s-prod/login", 200));
    }

    [Fact]
    public async Task A_vault_timeout_longer_than_the_kms_provider_timeout_is_exit_2_naming_both_keys()
    {
        var refused = await TrousseauServerProcess.RunToExitAsync(_temp.Combine("data"), [.. VaultArgs(), "--Trousseau:Vault:Timeout=00:00:05", "--Trousseau:Kms:ProviderTimeout=00:00:02"]);

        Assert.Equal(2, refused.ExitCode);
        var line = Assert.Single(refused.Stderr.Split('\n', StringSplitOptions.RemoveEmptyEntries));
        Assert.Contains("Trousseau:Vault:Timeout is 00:00:05, more than Trousseau:Kms:ProviderTimeout (00:00:02)", line, StringComparison.Ordinal);

        // Without the KMS plugin, or with a provider timeout to match, the same Vault timeout starts.
        foreach (var fits in new[] { "--Trousseau:Kms:Enabled=false", "--Trousseau:Kms:ProviderTimeout=00:00:05" })
        {
            await using var server = await TrousseauServerProcess.StartAsync(_temp.Combine("data"), [.. VaultArgs(), "--Trousseau:Vault:Timeout=00:00:05", fits]);
            var status = await ClectlRunner.For(server, _temp.Combine("data"), _temp.Path).RunAsync("key", "status");
            Assert.True(status.ExitCode == 0, fits + ": " + status.Stderr);
            await server.StopAsync();
        }
    }

    [Fact]
    public async Task Rewrap_moves_every_secret_to_the_latest_vault_key_version()
    {
        var dataDir = _temp.Combine("data");
        await using (var server = await TrousseauServerProcess.StartAsync(dataDir, VaultArgs()))
        {
            var clectl = ClectlRunner.For(server, dataDir, _temp.Path);
            for (var i = 0; i < 5; i++)
            {
                Assert.Equal(0, (await clectl.RunAsync("secret", "create", $"moved/{i}", "--from-literal", $"k=value-{i}")).ExitCode);
            }

            Assert.Equal(0, (await clectl.RunAsync("key", "rotate")).ExitCode);
            var rewrap = await clectl.RunAsync("key", "rewrap", "-o", "json");
            using var count = JsonDocument.Parse(rewrap.Stdout);
            Assert.Equal(5, count.RootElement.GetProperty("rewrapped").GetInt64());
            await server.StopAsync();
        }

        // Vault now archives version 1 and refuses it: only secrets really moved to version 2 can still be read
        // (after a restart, so that no data key is left in memory), and the key Vault lists starts at version 2.
        await _vault.ConfigureKeyAsync(_keyName, new Dictionary<string, string> { ["min_decryption_version"] = "2" });
        var listed = await _vault.ReadKeyAsync(_keyName);
        Assert.Equal(["2"], listed.GetProperty("keys").EnumerateObject().Select(v => v.Name));
        await using var restarted = await TrousseauServerProcess.StartAsync(dataDir, VaultArgs());
        var again = ClectlRunner.For(restarted, dataDir, _temp.Path);
        for (var i = 0; i < 5; i++)
        {
            var read = await again.RunAsync("secret", "get", $"moved/{i}", "--key", "k");
            Assert.True(read.ExitCode == 0, read.Stderr);
            Assert.Equal($"value-{i}", read.Stdout);
        }
    }

    [Fact]
    public async Task Api_kubernetes_mode_admits_callers_whose_service_account_token_vault_accepts()
    {
        const string CallerJwt = "caller.service-account.jwt";
        _vault.RequireTestServer().AddKubernetesRole("api-callers", CallerJwt, TimeSpan.FromMinutes(5), TimeSpan.FromHours(1));
        var dataDir = _temp.Combine("data");
        await using var server = await TrousseauServerProcess.StartAsync(dataDir, [.. VaultArgs(), "--Trousseau:Api:Auth:Mode=kubernetes", "--Trousseau:Api:Auth:KubernetesRole=api-callers"]);
        var clectl = new ClectlRunner(_temp.Path, new Dictionary<string, string?> { ["TROUSSEAU_SERVER"] = server.BaseAddress.ToString(), ["XDG_CONFIG_HOME"] = _temp.Combine("config") });

        var admitted = await clectl.RunAsync("--token", CallerJwt, "key", "status");
        var again = await clectl.RunAsync("--token", CallerJwt, "secret", "list");
        var refused = await clectl.RunAsync("--token", "some.other.jwt", "key", "status");
        var anonymous = await clectl.RunAsync("key", "status");

        Assert.True(admitted.ExitCode == 0, admitted.Stderr);
        Assert.Equal(0, again.ExitCode);
        Assert.Equal(5, refused.ExitCode);
        Assert.Equal(5, anonymous.ExitCode);
        Assert.False(File.Exists(Path.Combine(dataDir, "api.token")));
        Assert.DoesNotContain(CallerJwt, server.Log, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Api_kubernetes_mode_without_vault_or_role_is_exit_2_naming_the_key()
    {
        var noVault = await TrousseauServerProcess.RunToExitAsync(_temp.Combine("data"), ["--Trousseau:Api:Auth:Mode=kubernetes", "--Trousseau:Api:Auth:KubernetesRole=r"]);
        var noRole = await TrousseauServerProcess.RunToExitAsync(_temp.Combine("data"), [.. VaultArgs(), "--Trousseau:Api:Auth:Mode=kubernetes"]);

        Assert.Equal(2, noVault.ExitCode);
        Assert.Contains("Trousseau:Api:Auth:Mode", noVault.Stderr, StringComparison.Ordinal);
        Assert.Equal(2, noRole.ExitCode);
        Assert.Contains("Trousseau:Api:Auth:KubernetesRole", noRole.Stderr, StringComparison.Ordinal);
    }

    [Fact]
    public async Task The_kv_v2_overlay_is_laid_over_local_configuration()
    {
        // A string and a nested boolean, each of which changes something a user sees.
        await _vault.PutKvAsync(ConfigPath, new JsonObject { ["Store"] = "memory", ["Kms"] = new JsonObject { ["Enabled"] = false } });

        await using var server = await TrousseauServerProcess.StartAsync(_temp.Combine("data"), [.. VaultArgs(), "--Trousseau:Store=sqlite", $"--Trousseau:Vault:ConfigPath={ConfigPath}"]);
        using var http = await BearerClient.FromTokenFileAsync(server.BaseAddress, _temp.Combine("data", "api.token"));
        using var ready = await http.GetAsync(new Uri("readyz", UriKind.Relative));
        using var report = JsonDocument.Parse(await ready.Content.ReadAsStringAsync());

        Assert.Equal(HttpStatusCode.OK, ready.StatusCode);
        Assert.Contains("memory", report.RootElement.GetProperty("checks").GetProperty("store").GetProperty("description").GetString(), StringComparison.OrdinalIgnoreCase);
        Assert.False(File.Exists(_temp.Combine("data", "store.db")));
        Assert.False(File.Exists(_temp.Combine("data", "kms.sock")));
    }

    [Theory]
    [InlineData("""{ "Vault": { "Address": "http://127.0.0.1:9" } }""", "Trousseau:Vault:Address")]
    [InlineData("""{ "Vault": { "Auth": { "Method": "token", "Token": "s.overlay-token" } } }""", "Trousseau:Vault:Auth:Method and Trousseau:Vault:Auth:Token")]
    [InlineData("""{ "Vault": { "CaFile": "/tmp/other-ca.pem" } }""", "Trousseau:Vault:CaFile")]
    [InlineData("""{ "Api": { "Auth": { "Mode": "none" } } }""", "Trousseau:Api:Auth:Mode")]
    [InlineData("""{ "Api:Urls": "http://0.0.0.0:8787" }""", "Trousseau:Api:Urls")]
    [InlineData("""{ "KeyProvider": "local", "Store": "memory" }""", "Trousseau:KeyProvider")]
    public async Task The_kv_v2_overlay_may_not_change_whom_trousseaud_trusts_or_how_its_api_is_served(string overlay, string refusedKeys)
    {
        await _vault.PutKvAsync(ConfigPath, JsonNode.Parse(overlay)!.AsObject());

        var result = await TrousseauServerProcess.RunToExitAsync(_temp.Combine("data"), [.. VaultArgs(), $"--Trousseau:Vault:ConfigPath={ConfigPath}"]);

        Assert.Equal(2, result.ExitCode);
        var line = Assert.Single(result.Stderr.Split('\n', StringSplitOptions.RemoveEmptyEntries));
        Assert.Contains($"Trousseau:Vault:ConfigPath '{ConfigPath}' sets {refusedKeys}, which", line, StringComparison.Ordinal);
        Assert.DoesNotContain("s.overlay-token", line, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_missing_or_forbidden_config_path_stops_startup_with_exit_2_naming_the_key()
    {
        var missing = await TrousseauServerProcess.RunToExitAsync(_temp.Combine("data"), [.. VaultArgs(), "--Trousseau:Vault:ConfigPath=secret/data/nowhere"]);

        var vault = _vault.RequireTestServer();
        await _vault.PutKvAsync(ConfigPath, new JsonObject { ["Store"] = "memory" });
        vault.Forbid(ConfigPath);
        var limited = vault.CreateToken(TimeSpan.FromMinutes(5), TimeSpan.FromHours(1));
        var tokenFile = _temp.Combine("limited-token");
        await File.WriteAllTextAsync(tokenFile, limited);
        var forbidden = await TrousseauServerProcess.RunToExitAsync(_temp.Combine("data"), [.. VaultArgs(tokenFile), $"--Trousseau:Vault:ConfigPath={ConfigPath}"]);

        foreach (var result in new[] { missing, forbidden })
        {
            Assert.Equal(2, result.ExitCode);
            Assert.Contains("Trousseau:Vault:ConfigPath", Assert.Single(result.Stderr.Split('\n', StringSplitOptions.RemoveEmptyEntries)), StringComparison.Ordinal);
            Assert.DoesNotContain(limited, result.Stderr, StringComparison.Ordinal);
        }
    }

    [Fact]
    public async Task An_unreachable_vault_at_startup_is_one_clear_line_and_exit_1()
    {
        var result = await TrousseauServerProcess.RunToExitAsync(_temp.Combine("data"), ["--Trousseau:KeyProvider=vault", $"--Trousseau:Vault:Address=http://127.0.0.1:{FreePort.Next()}", "--Trousseau:Vault:Auth:Token=t", "--Trousseau:Vault:ConfigPath=secret/data/x"]);

        Assert.Equal(1, result.ExitCode);
        Assert.Contains("cannot be reached", Assert.Single(result.Stderr.Split('\n', StringSplitOptions.RemoveEmptyEntries)), StringComparison.Ordinal);
    }

    private string[] VaultArgs(string? tokenFile = null)
    {
        if (tokenFile is null)
        {
            tokenFile = _temp.Combine("root-token");
            File.WriteAllText(tokenFile, _vault.Token);
        }

        return ["--Trousseau:KeyProvider=vault", $"--Trousseau:Vault:Address={_vault.Address}", $"--Trousseau:Vault:KeyName={_keyName}", $"--Trousseau:Vault:Auth:TokenFile={tokenFile}"];
    }
}
