using System.Net;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using Trousseau.Tests.Integration.Infrastructure;

namespace Trousseau.Tests.Integration.Vault;

/// <summary>
/// trousseaud configured for Vault from settings alone: Kubernetes auth at the configured mount, the KV v2 overlay,
/// rewrap before archiving old key versions, its errors. One Vault for the class (<see cref="VaultFixture"/>: a
/// real one when <c>VAULT_ADDR</c> is set); each test has its own Transit key and KV path.
/// </summary>
public sealed class VaultServerTests(VaultFixture fixture) : IClassFixture<VaultFixture>, IAsyncLifetime, IDisposable
{
    private readonly TempDirectory _temp = new();
    private readonly VaultTarget _vault = fixture.ForNextTest();
    private readonly string _keyName = VaultTarget.UniqueKeyName();

    /// <summary>This test's own KV v2 path for <c>Vault:ConfigPath</c>.</summary>
    private string ConfigPath => $"secret/data/{_keyName}/config";

    public async Task InitializeAsync() => await _vault.CreateKeyAsync(_keyName);

    public Task DisposeAsync() => Task.CompletedTask;

    public void Dispose() => _temp.Dispose();

    [VaultTestServerFact]
    public async Task Kubernetes_auth_from_configuration_alone_serves_secrets_and_logs_no_token_or_jwt()
    {
        const string Jwt = "eyJhbGciOiJSUzI1NiJ9.service-account-token.signature";
        var jwtFile = _temp.Combine("sa-token");
        await File.WriteAllTextAsync(jwtFile, Jwt);
        var vault = _vault.RequireTestServer();
        vault.AddKubernetesRole("trousseau-kms", Jwt, TimeSpan.FromMinutes(5), TimeSpan.FromHours(1));
        var logins = vault.Count("auth/kubernetes/login", 200);
        var issued = vault.IssuedTokens.Count;
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
        Assert.Equal(1, vault.Count("auth/kubernetes/login", 200) - logins);
        Assert.Equal(issued + 1, vault.IssuedTokens.Count);
        Assert.DoesNotContain(Jwt, server.Log, StringComparison.Ordinal);
        Assert.All(vault.IssuedTokens, token => Assert.DoesNotContain(token, server.Log, StringComparison.Ordinal));
    }

    [VaultTestServerFact]
    public async Task After_kubelet_rotated_the_projected_token_and_vault_revoked_its_token_trousseaud_logs_in_with_the_new_jwt_without_a_restart()
    {
        var (firstJwt, secondJwt) = ("eyJhbGciOiJSUzI1NiJ9.first-" + _keyName, "eyJhbGciOiJSUzI1NiJ9.second-" + _keyName);
        var token = ProjectedServiceAccountToken.Create(_temp.Combine("serviceaccount"), firstJwt);
        var vault = _vault.RequireTestServer();
        vault.AddKubernetesRole("trousseau-rotating", firstJwt, TimeSpan.FromMinutes(5), TimeSpan.FromHours(1));
        var (logins, refusedLogins) = (vault.Count("auth/kubernetes/login", 200), vault.Count("auth/kubernetes/login", 403));
        await using var server = await TrousseauServerProcess.StartAsync(_temp.Combine("data"),
        [
            "--Trousseau:KeyProvider=vault",
            $"--Trousseau:Vault:Address={_vault.Address}",
            $"--Trousseau:Vault:KeyName={_keyName}",
            "--Trousseau:Vault:Auth:Method=kubernetes",
            "--Trousseau:Vault:Auth:Role=trousseau-rotating",
            $"--Trousseau:Vault:Auth:JwtFile={token.Path}",
        ]);
        var clectl = ClectlRunner.For(server, _temp.Combine("data"), _temp.Path);
        var create = await clectl.RunAsync("secret", "create", "k8s/rotated", "--from-literal", "k=v");

        // kubelet swaps in a new token and the API server stops admitting the old one; then Vault's token is revoked,
        // so the next call to Vault (a key rotation) needs a login.
        token.Rotate(secondJwt);
        vault.AddKubernetesRole("trousseau-rotating", secondJwt, TimeSpan.FromMinutes(5), TimeSpan.FromHours(1));
        vault.RejectServiceAccountToken(firstJwt);
        vault.RevokeAllTokens();
        var rotate = await clectl.RunAsync("key", "rotate");
        var read = await clectl.RunAsync("secret", "get", "k8s/rotated", "--key", "k");
        await server.StopAsync();

        Assert.True(create.ExitCode == 0, create.Stderr + server.Log);
        Assert.True(rotate.ExitCode == 0, rotate.Stderr + server.Log);
        Assert.Equal("v", read.Stdout);
        Assert.Equal(2, vault.Count("auth/kubernetes/login", 200) - logins);
        Assert.Equal(0, vault.Count("auth/kubernetes/login", 403) - refusedLogins);
        Assert.DoesNotContain(firstJwt, server.Log, StringComparison.Ordinal);
        Assert.DoesNotContain(secondJwt, server.Log, StringComparison.Ordinal);
        Assert.All(vault.IssuedTokens, issued => Assert.DoesNotContain(issued, server.Log, StringComparison.Ordinal));
    }

    [VaultTestServerFact]
    public async Task Kubernetes_auth_logs_in_at_the_configured_mount_only()
    {
        const string Jwt = "eyJhbGciOiJSUzI1NiJ9.mounted-elsewhere.signature";
        var jwtFile = _temp.Combine("sa-token");
        await File.WriteAllTextAsync(jwtFile, Jwt);
        var vault = _vault.RequireTestServer();
        vault.AddKubernetesRole("trousseau-kms", Jwt, TimeSpan.FromMinutes(5), TimeSpan.FromHours(1), mount: "k8s-prod");
        var (atDefaultLogins, atMountLogins) = (vault.Count("auth/kubernetes/login", 200), vault.Count("auth/k8s-prod/login", 200));
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
        Assert.Equal(atDefaultLogins, vault.Count("auth/kubernetes/login", 200));
        Assert.True(atMount.ExitCode == 0, atMount.Stderr);
        Assert.Equal(1, vault.Count("auth/k8s-prod/login", 200) - atMountLogins);
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
    public async Task Right_after_a_rotation_made_in_vault_key_status_names_the_new_version_and_rewrap_moves_every_secret()
    {
        // The worker neither rewraps nor looks at the key during the test: only the calls below may notice the rotation.
        await using var server = await TrousseauServerProcess.StartAsync(
            _temp.Combine("data"), [.. VaultArgs(), "--Trousseau:Worker:RewrapAfterRotation=false", "--Trousseau:Worker:Interval=1.00:00:00"]);
        var clectl = ClectlRunner.For(server, _temp.Combine("data"), _temp.Path);
        for (var i = 0; i < 5; i++)
        {
            ClectlAssert.Ok(await clectl.RunAsync("secret", "create", $"moved/{i}", "--from-literal", $"k=value-{i}"));
        }

        await _vault.RotateKeyAsync(_keyName);
        var status = await clectl.RunAsync("key", "status", "-o", "json");
        var rewrap = await clectl.RunAsync("key", "rewrap", "-o", "json");
        var rewrapAgain = await clectl.RunAsync("key", "rewrap", "-o", "json");

        ClectlAssert.Ok(status);
        Assert.Equal(2, JsonNode.Parse(status.Stdout)!["version"]!.GetValue<int>());
        Assert.Equal(5, JsonNode.Parse(rewrap.Stdout)!["rewrapped"]!.GetValue<long>());
        Assert.Equal(0, JsonNode.Parse(rewrapAgain.Stdout)!["rewrapped"]!.GetValue<long>());
    }

    [VaultTestServerFact]
    public async Task Trousseaud_calls_on_its_transit_key_only_the_paths_the_brokers_documented_vault_policy_grants()
    {
        var server = _vault.RequireTestServer();
        var granted = DocumentedPolicyPaths("docs/broker.md", "trousseau");
        var dataDir = _temp.Combine("data");
        await using (var trousseaud = await TrousseauServerProcess.StartAsync(dataDir, VaultArgs()))
        {
            var clectl = ClectlRunner.For(trousseaud, dataDir, _temp.Path);
            ClectlAssert.Ok(await clectl.RunAsync("secret", "create", "policy/db", "--from-literal", "k=v1"));
            ClectlAssert.Ok(await clectl.RunAsync("secret", "update", "policy/db", "--from-literal", "k=v2"));
            ClectlAssert.Ok(await clectl.RunAsync("key", "rotate"));
            ClectlAssert.Ok(await clectl.RunAsync("key", "rewrap"));
            ClectlAssert.Ok(await clectl.RunAsync("key", "status"));
            var kms = new ClectlRunner(_temp.Path, new Dictionary<string, string?> { ["TROUSSEAU_HOME"] = dataDir });
            var wrapped = await kms.RunWithInputAsync("a data key", "kms", "encrypt");
            ClectlAssert.Ok(wrapped);
            var unwrapped = await kms.RunWithInputAsync(wrapped.Stdout, "kms", "decrypt");
            ClectlAssert.Ok(unwrapped);
            Assert.Equal("a data key", unwrapped.Stdout);
            await trousseaud.StopAsync();
        }

        // Restarted, so that the read below unwraps its data key in Vault instead of finding it in memory.
        await using (var restarted = await TrousseauServerProcess.StartAsync(dataDir, VaultArgs()))
        {
            var read = await ClectlRunner.For(restarted, dataDir, _temp.Path).RunAsync("secret", "get", "policy/db", "--key", "k");
            ClectlAssert.Ok(read);
            Assert.Equal("v2", read.Stdout);
        }

        var transitPaths = server.Requests.Select(r => r.Path).Where(p => p.StartsWith("transit/", StringComparison.Ordinal) && p.Contains(_keyName, StringComparison.Ordinal)).ToHashSet();
        // Every path it calls is granted, and the policy grants no path it never calls.
        Assert.Equal(granted.Order(), transitPaths.Select(p => p.Replace(_keyName, "trousseau", StringComparison.Ordinal)).Order());
    }

    /// <summary>The paths the Vault policy written in <paramref name="page"/> grants, for its Transit key <paramref name="keyName"/>.</summary>
    private static HashSet<string> DocumentedPolicyPaths(string page, string keyName)
    {
        var paths = System.Text.RegularExpressions.Regex.Matches(File.ReadAllText(Path.Combine(RepositoryPaths.Root, page)), "^path \"(transit/[^\"]+)\"", System.Text.RegularExpressions.RegexOptions.Multiline)
            .Select(m => m.Groups[1].Value)
            .ToHashSet();
        Assert.Contains($"transit/encrypt/{keyName}", paths);
        return paths;
    }

    [VaultTestServerFact]
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
        // A string over the command line's: a Vault timeout longer than the KMS provider's stops the start. The local
        // timeout, which the overlay's own read runs under, leaves a loaded machine time to answer that read.
        await _vault.PutKvAsync(ConfigPath, new JsonObject { ["Vault"] = new JsonObject { ["Timeout"] = "00:00:05" } });
        string[] local = [.. VaultArgs(), "--Trousseau:Vault:Timeout=00:00:04", "--Trousseau:Kms:ProviderTimeout=00:00:04", $"--Trousseau:Vault:ConfigPath={ConfigPath}"];
        var refused = await TrousseauServerProcess.RunToExitAsync(_temp.Combine("data"), local);

        // A nested value over the command line's: with a longer KMS provider timeout, the same Vault timeout starts.
        await _vault.PutKvAsync(ConfigPath, new JsonObject { ["Vault"] = new JsonObject { ["Timeout"] = "00:00:05" }, ["Kms"] = new JsonObject { ["ProviderTimeout"] = "00:00:10" } });
        await using var server = await TrousseauServerProcess.StartAsync(_temp.Combine("data"), local);
        var status = await ClectlRunner.For(server, _temp.Combine("data"), _temp.Path).RunAsync("key", "status");

        Assert.True(refused.ExitCode == 2, $"exit {refused.ExitCode}: {refused.Stderr}");
        Assert.Contains("Trousseau:Vault:Timeout is 00:00:05, more than Trousseau:Kms:ProviderTimeout (00:00:04)", refused.Stderr, StringComparison.Ordinal);
        Assert.True(status.ExitCode == 0, status.Stderr + server.Log);
    }

    [Theory]
    [InlineData("""{ "Vault": { "Address": "http://127.0.0.1:9" } }""", "Trousseau:Vault:Address")]
    [InlineData("""{ "Vault": { "Auth": { "Method": "token", "Token": "s.overlay-token" } } }""", "Trousseau:Vault:Auth:Method and Trousseau:Vault:Auth:Token")]
    [InlineData("""{ "Vault": { "CaFile": "/tmp/other-ca.pem" } }""", "Trousseau:Vault:CaFile")]
    [InlineData("""{ "Api": { "Auth": { "Mode": "none" } } }""", "Trousseau:Api:Auth:Mode")]
    [InlineData("""{ "Api:Urls": "http://0.0.0.0:8787" }""", "Trousseau:Api:Urls")]
    [InlineData("""{ "KeyProvider": "local", "Store": "memory" }""", "Trousseau:KeyProvider and Trousseau:Store")]
    [InlineData("""{ "Vault": { "KeyName": "overlay-key" } }""", "Trousseau:Vault:KeyName")]
    [InlineData("""{ "Vault": { "Namespace": "overlay-team", "TransitMount": "overlay-transit", "ConfigPath": "secret/data/overlay-other" } }""", "Trousseau:Vault:ConfigPath, Trousseau:Vault:Namespace and Trousseau:Vault:TransitMount")]
    [InlineData("""{ "Etcd": { "Prefix": "/overlay-shared/", "Username": "overlay-user", "Password": "overlay-password" } }""", "Trousseau:Etcd:Password, Trousseau:Etcd:Prefix and Trousseau:Etcd:Username")]
    [InlineData("""{ "DataDir": "/tmp/overlay-data", "Sqlite": { "Path": "/tmp/overlay-store.db" } }""", "Trousseau:DataDir and Trousseau:Sqlite:Path")]
    [InlineData("""{ "Kms": { "Socket": "/tmp/overlay-kms.sock", "AcceptLegacyCiphertext": true } }""", "Trousseau:Kms:AcceptLegacyCiphertext and Trousseau:Kms:Socket")]
    [InlineData("""{ "Kms": { "Enabled": false } }""", "Trousseau:Kms:Enabled")]
    [InlineData("""{ "Api": { "Enabled": false } }""", "Trousseau:Api:Enabled")]
    [InlineData("""{ "Audit": { "FailOpen": true }, "Local": { "KeyFile": "/tmp/overlay-local.keyring" } }""", "Trousseau:Audit:FailOpen and Trousseau:Local:KeyFile")]
    [InlineData("""{ "Audit": { "Sink": { "Http": { "Url": "http://overlay-collector" } } }, "Local": { "Ring": { "File": "/tmp/overlay-ring" } } }""", "Trousseau:Audit:Sink:Http:Url and Trousseau:Local:Ring:File")]
    [InlineData("""{ "Worker": { "Intervall": "00:01:00" }, "Retries": "3" }""", "Trousseau:Retries and Trousseau:Worker:Intervall (did you mean Trousseau:Worker:Interval?)")]
    public async Task The_kv_v2_overlay_may_not_change_whom_trousseaud_trusts_which_key_wraps_where_secrets_go_or_how_its_api_is_served_nor_set_what_is_no_setting(string overlay, string refusedKeys)
    {
        await _vault.PutKvAsync(ConfigPath, JsonNode.Parse(overlay)!.AsObject());

        var result = await TrousseauServerProcess.RunToExitAsync(_temp.Combine("data"), [.. VaultArgs(), $"--Trousseau:Vault:ConfigPath={ConfigPath}"]);

        Assert.Equal(2, result.ExitCode);
        var line = Assert.Single(result.Stderr.Split('\n', StringSplitOptions.RemoveEmptyEntries));
        Assert.Contains($"Trousseau:Vault:ConfigPath '{ConfigPath}' sets {refusedKeys}, which", line, StringComparison.Ordinal);
        Assert.DoesNotContain("overlay-", line, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_missing_config_path_stops_startup_with_exit_2_naming_the_key()
    {
        var missing = await TrousseauServerProcess.RunToExitAsync(_temp.Combine("data"), [.. VaultArgs(), $"--Trousseau:Vault:ConfigPath=secret/data/{_keyName}/nowhere"]);

        Assert.Equal(2, missing.ExitCode);
        Assert.Contains($"Trousseau:Vault:ConfigPath 'secret/data/{_keyName}/nowhere' does not exist", Assert.Single(missing.Stderr.Split('\n', StringSplitOptions.RemoveEmptyEntries)), StringComparison.Ordinal);
    }

    [VaultTestServerFact]
    public async Task A_forbidden_config_path_stops_startup_with_exit_2_naming_the_key_and_not_the_token()
    {
        var vault = _vault.RequireTestServer();
        await _vault.PutKvAsync(ConfigPath, new JsonObject { ["Store"] = "memory" });
        vault.Forbid(ConfigPath);
        var limited = vault.CreateToken(TimeSpan.FromMinutes(5), TimeSpan.FromHours(1));
        var tokenFile = _temp.Combine("limited-token");
        await File.WriteAllTextAsync(tokenFile, limited);

        var forbidden = await TrousseauServerProcess.RunToExitAsync(_temp.Combine("data"), [.. VaultArgs(tokenFile), $"--Trousseau:Vault:ConfigPath={ConfigPath}"]);

        Assert.Equal(2, forbidden.ExitCode);
        Assert.Contains($"Trousseau:Vault:ConfigPath '{ConfigPath}' cannot be read", Assert.Single(forbidden.Stderr.Split('\n', StringSplitOptions.RemoveEmptyEntries)), StringComparison.Ordinal);
        Assert.DoesNotContain(limited, forbidden.Stderr, StringComparison.Ordinal);
    }

    [VaultTestServerFact]
    public async Task AppRole_with_a_single_use_secret_id_and_a_config_path_logs_in_once_serves_and_revokes_that_token_when_it_stops()
    {
        var vault = _vault.RequireTestServer();
        var (roleId, secretId) = (Guid.NewGuid().ToString(), Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(16)));
        vault.AddAppRole(roleId, secretId, secretIdNumUses: 1);
        await _vault.PutKvAsync(ConfigPath, new JsonObject { ["Worker"] = new JsonObject { ["Interval"] = "00:01:00" } });
        var (logins, issued, revoked) = (vault.Count("auth/approle/login"), vault.IssuedTokens.Count, vault.Count("auth/token/revoke-self", 204));

        ProcessResult create, read;
        string log, token;
        bool liveWhileServing;
        await using (var server = await TrousseauServerProcess.StartAsync(_temp.Combine("data"), [.. await AppRoleArgsAsync(roleId, secretId), $"--Trousseau:Vault:ConfigPath={ConfigPath}"]))
        {
            var clectl = ClectlRunner.For(server, _temp.Combine("data"), _temp.Path);
            create = await clectl.RunAsync("secret", "create", "approle/db", "--from-literal", "password=once");
            read = await clectl.RunAsync("secret", "get", "approle/db", "--key", "password");
            token = Assert.Single(vault.IssuedTokens.Skip(issued));
            liveWhileServing = vault.IsLive(token);
            await server.StopAsync();
            log = server.Log;
        }

        Assert.True(create.ExitCode == 0, create.Stderr + log);
        Assert.Equal("once", read.Stdout);
        Assert.Equal(1, vault.Count("auth/approle/login") - logins);
        Assert.True(liveWhileServing, "the token of the one login was revoked although the key provider kept it");
        Assert.False(vault.IsLive(token), "the token of trousseaud's login outlived trousseaud");
        Assert.Equal(1, vault.Count("auth/token/revoke-self", 204) - revoked);
        Assert.DoesNotContain(secretId, log, StringComparison.Ordinal);
        Assert.DoesNotContain(token, log, StringComparison.Ordinal);
    }

    [VaultTestServerFact]
    public async Task The_config_path_login_is_revoked_when_the_key_provider_does_not_keep_it()
    {
        var vault = _vault.RequireTestServer();
        var (roleId, secretId) = (Guid.NewGuid().ToString(), Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(16)));
        vault.AddAppRole(roleId, secretId);
        await _vault.PutKvAsync(ConfigPath, new JsonObject { ["Worker"] = new JsonObject { ["Interval"] = "00:01:00" } });
        var (issued, revoked) = (vault.IssuedTokens.Count, vault.Count("auth/token/revoke-self", 204));

        // The local key ring as the key provider: only the overlay needed Vault.
        string[] args = [.. (await AppRoleArgsAsync(roleId, secretId)).Where(a => !a.StartsWith("--Trousseau:KeyProvider=", StringComparison.Ordinal)), "--Trousseau:KeyProvider=local", $"--Trousseau:Vault:ConfigPath={ConfigPath}"];
        await using var server = await TrousseauServerProcess.StartAsync(_temp.Combine("data"), args);
        var status = await ClectlRunner.For(server, _temp.Combine("data"), _temp.Path).RunAsync("key", "status");

        Assert.True(status.ExitCode == 0, status.Stderr + server.Log);
        var token = Assert.Single(vault.IssuedTokens.Skip(issued));
        Assert.False(vault.IsLive(token), "the overlay's login outlived its use");
        Assert.Equal(1, vault.Count("auth/token/revoke-self", 204) - revoked);
    }

    [VaultTestServerFact]
    public async Task A_conditional_get_naming_the_current_revision_is_304_without_asking_vault_to_decrypt()
    {
        var vault = _vault.RequireTestServer();
        var (data, tokenFile) = (_temp.Combine("data"), _temp.Combine("data", "api.token"));
        string etag;
        await using (var first = await TrousseauServerProcess.StartAsync(data, VaultArgs()))
        {
            using var http = await BearerClient.FromTokenFileAsync(first.BaseAddress, tokenFile);
            using var created = await http.PostAsync(
                new Uri("v1/secrets", UriKind.Relative), new StringContent("""{"name":"conditional/cold","data":{"k":"v"}}""", Encoding.UTF8, "application/json"));
            Assert.Equal(HttpStatusCode.Created, created.StatusCode);
            etag = created.Headers.ETag!.Tag;
            await first.StopAsync();
        }

        // A new process holds no data key, so the value cannot be read without Vault decrypting one.
        await using var server = await TrousseauServerProcess.StartAsync(data, VaultArgs());
        using var client = await BearerClient.FromTokenFileAsync(server.BaseAddress, tokenFile);
        var decrypts = vault.Count($"transit/decrypt/{_keyName}");
        vault.Fault = new VaultTestServer.VaultFault(503, "Vault is sealed", PathContains: "transit/decrypt");
        using var conditional = new HttpRequestMessage(HttpMethod.Get, "v1/secrets/conditional/cold");
        conditional.Headers.TryAddWithoutValidation("If-None-Match", etag);
        using var notModified = await client.SendAsync(conditional);
        var decryptsForConditional = vault.Count($"transit/decrypt/{_keyName}") - decrypts;
        using var read = await client.GetAsync(new Uri("v1/secrets/conditional/cold", UriKind.Relative));
        vault.ClearFaults();

        Assert.Equal(HttpStatusCode.NotModified, notModified.StatusCode);
        Assert.Equal(etag, notModified.Headers.ETag?.Tag);
        Assert.Equal(0, decryptsForConditional);
        Assert.Equal(HttpStatusCode.ServiceUnavailable, read.StatusCode);
        Assert.True(vault.Count($"transit/decrypt/{_keyName}") > decrypts, "the plain read asked Vault for no decrypt");
    }

    [VaultTestServerFact]
    public async Task A_rewrap_that_vault_cuts_off_exits_6_saying_how_far_it_got_and_a_rewrap_after_vault_is_back_moves_the_rest()
    {
        var vault = _vault.RequireTestServer();
        var data = _temp.Combine("data");
        await using (var first = await TrousseauServerProcess.StartAsync(data, VaultArgs()))
        {
            ClectlAssert.Ok(await ClectlRunner.For(first, data, _temp.Path).RunAsync("secret", "create", "cut/off", "--from-literal", "k=v"));
            await first.StopAsync();
        }

        // A new process holds no data key: moving the secret needs Vault to decrypt one, which it now refuses.
        await _vault.RotateKeyAsync(_keyName);
        await using var server = await TrousseauServerProcess.StartAsync(data, [.. VaultArgs(), "--Trousseau:Worker:RewrapAfterRotation=false"]);
        var clectl = ClectlRunner.For(server, data, _temp.Path);
        vault.Fault = new VaultTestServer.VaultFault(503, "Vault is sealed", PathContains: "transit/decrypt");
        var cut = await clectl.RunAsync("key", "rewrap");
        vault.ClearFaults();
        var resumed = await clectl.RunAsync("key", "rewrap", "-o", "json");

        Assert.EndsWith(
            "The rewrap stopped there, after moving 0 secrets to the current key (0 needed no move, 0 could not be moved); run it again to move the rest; it asks to wait 1 s before trying again.",
            ClectlAssert.Fails(cut, 6),
            StringComparison.Ordinal);
        ClectlAssert.Ok(resumed);
        Assert.Equal(1, JsonNode.Parse(resumed.Stdout)!["rewrapped"]!.GetValue<long>());
    }

    [VaultTestServerFact]
    public async Task A_stop_during_a_rewrap_cuts_it_off_at_once_telling_the_caller_how_far_it_got_and_to_run_it_again_and_trousseaud_exits_0()
    {
        var vault = _vault.RequireTestServer();
        var data = _temp.Combine("data");
        await using (var first = await TrousseauServerProcess.StartAsync(data, VaultArgs()))
        {
            ClectlAssert.Ok(await ClectlRunner.For(first, data, _temp.Path).RunAsync("secret", "create", "stopped/during", "--from-literal", "k=v"));
            await first.StopAsync();
        }

        // Vault may take up to 5 min to answer: the rewrap waits on it longer than the host's shutdown timeout (30 s).
        await _vault.RotateKeyAsync(_keyName);
        await using var server = await TrousseauServerProcess.StartAsync(data,
            [.. VaultArgs(), "--Trousseau:Worker:RewrapAfterRotation=false", "--Trousseau:Kms:Enabled=false", "--Trousseau:Vault:Timeout=00:05:00", "--Trousseau:Vault:AttemptTimeout=00:05:00"]);
        var clectl = ClectlRunner.For(server, data, _temp.Path);
        var never = new TaskCompletionSource();
        vault.Hold = new VaultTestServer.VaultHold("transit/decrypt", never.Task);
        var rewrap = clectl.RunAsync("key", "rewrap", "--request-timeout", "600");
        await Eventually.HoldsAsync(() => vault.Held > 0, () => "the rewrap never asked Vault to decrypt a data key\n" + server.Log);

        var exitCode = await server.StopAsync();
        var line = ClectlAssert.Fails(await rewrap, 6);
        vault.ClearFaults();

        Assert.Equal(0, exitCode);
        Assert.EndsWith(
            "The rewrap was cut off because the server is stopping, after moving 0 secrets to the current key (0 needed no move, 0 could not be moved); the secrets it moved stay moved: run it again to move the rest; it asks to wait 1 s before trying again.",
            line,
            StringComparison.Ordinal);
    }

    [Fact]
    public async Task An_unreachable_vault_at_startup_is_one_clear_line_and_exit_1()
    {
        var result = await TrousseauServerProcess.RunToExitAsync(_temp.Combine("data"), ["--Trousseau:KeyProvider=vault", $"--Trousseau:Vault:Address=http://127.0.0.1:{FreePort.Next()}", "--Trousseau:Vault:Auth:Token=t", "--Trousseau:Vault:ConfigPath=secret/data/x"]);

        Assert.Equal(1, result.ExitCode);
        Assert.Contains("cannot be reached", Assert.Single(result.Stderr.Split('\n', StringSplitOptions.RemoveEmptyEntries)), StringComparison.Ordinal);
    }

    /// <summary>trousseaud on this test's key, logged in with AppRole; the secret id in a file, as an operator would deliver it.</summary>
    private async Task<string[]> AppRoleArgsAsync(string roleId, string secretId)
    {
        var secretIdFile = _temp.Combine("secret-id");
        await File.WriteAllTextAsync(secretIdFile, secretId);
        return ["--Trousseau:KeyProvider=vault", $"--Trousseau:Vault:Address={_vault.Address}", $"--Trousseau:Vault:KeyName={_keyName}",
            "--Trousseau:Vault:Auth:Method=approle", $"--Trousseau:Vault:Auth:RoleId={roleId}", $"--Trousseau:Vault:Auth:SecretIdFile={secretIdFile}"];
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
