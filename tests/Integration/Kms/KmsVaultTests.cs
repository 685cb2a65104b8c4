using System.Diagnostics;
using System.Net;
using Trousseau.Tests.Integration.Infrastructure;
using Trousseau.Tests.Integration.Vault;

namespace Trousseau.Tests.Integration.Kms;

/// <summary>trousseaud as the KMS plugin with Vault Transit as the provider, configured from settings alone.</summary>
public sealed class KmsVaultTests : IAsyncLifetime, IDisposable
{
    private const string Status = "/v2.KeyManagementService/Status";
    private const string Encrypt = "/v2.KeyManagementService/Encrypt";
    private const string Decrypt = "/v2.KeyManagementService/Decrypt";
    private static readonly string Dek = Convert.ToBase64String(Enumerable.Range(100, 32).Select(i => (byte)i).ToArray());

    private readonly TempDirectory _temp = new();
    private VaultTarget _vault = null!;
    private string _keyName = null!;
    private TrousseauServerProcess _server = null!;
    private KmsPeer _peer = null!;

    private string Socket => _temp.Combine("data", "kms.sock");

    public async Task InitializeAsync()
    {
        _vault = await VaultTarget.StartAsync();
        _keyName = VaultTarget.UniqueKeyName();
        await _vault.CreateKeyAsync(_keyName);
        await StartAsync(_vault.Address);
    }

    public async Task DisposeAsync()
    {
        await _peer.DisposeAsync();
        await _server.DisposeAsync();
        await _vault.DisposeAsync();
    }

    public void Dispose() => _temp.Dispose();

    [Fact]
    public async Task Kms_v2_round_trips_through_vault_transit_and_rotation_keeps_old_data()
    {
        var status = Ok(await _peer.CallAsync(Status));
        var first = Ok(await _peer.CallAsync(Encrypt, new { plaintext = Dek }));
        var rotate = await ClectlRunner.For(_server, _temp.Combine("data"), _temp.Path).RunAsync("key", "rotate", "-o", "json");
        var after = Ok(await _peer.CallAsync(Status));
        var second = Ok(await _peer.CallAsync(Encrypt, new { plaintext = Dek }));
        var old = Ok(await _peer.CallAsync(Decrypt, new { ciphertext = first.GetProperty("ciphertext").GetString(), key_id = first.GetProperty("key_id").GetString() }));

        Assert.Equal("ok", status.GetProperty("healthz").GetString());
        Assert.StartsWith("vault-", status.GetProperty("key_id").GetString(), StringComparison.Ordinal);
        Assert.Equal(status.GetProperty("key_id").GetString(), first.GetProperty("key_id").GetString());
        Assert.True(rotate.ExitCode == 0, rotate.Stderr);
        Assert.NotEqual(status.GetProperty("key_id").GetString(), after.GetProperty("key_id").GetString());
        Assert.Equal(after.GetProperty("key_id").GetString(), second.GetProperty("key_id").GetString());
        Assert.InRange(Convert.FromBase64String(second.GetProperty("ciphertext").GetString()!).Length, 1, 1024);
        Assert.Equal(Dek, old.GetProperty("plaintext").GetString());
        Assert.DoesNotContain(_vault.Token, _server.Log, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_sealed_vault_makes_status_unhealthy_calls_unavailable_fast_and_readiness_503_until_unsealed()
    {
        var vault = _vault.TestServer ?? throw new InvalidOperationException("Sealing needs the in-repo Vault test server; unset VAULT_ADDR to run this test.");
        var before = Ok(await _peer.CallAsync(Encrypt, new { plaintext = Dek }));

        vault.Sealed = true;
        var clock = Stopwatch.StartNew();
        var refused = await _peer.CallAsync(Encrypt, new { plaintext = Dek });
        clock.Stop();
        var status = Ok(await _peer.CallAsync(Status));

        Assert.Equal("UNAVAILABLE", refused.GetProperty("code").GetString());
        Assert.True(clock.Elapsed < TimeSpan.FromSeconds(3), $"UNAVAILABLE took {clock.Elapsed}");
        Assert.NotEqual("ok", status.GetProperty("healthz").GetString());
        await _server.WaitForReadinessAsync(HttpStatusCode.ServiceUnavailable);

        vault.Sealed = false;
        var recovered = Ok(await _peer.CallAsync(Status));
        var old = Ok(await _peer.CallAsync(Decrypt, new { ciphertext = before.GetProperty("ciphertext").GetString(), key_id = before.GetProperty("key_id").GetString() }));

        Assert.Equal("ok", recovered.GetProperty("healthz").GetString());
        Assert.Equal(Dek, old.GetProperty("plaintext").GetString());
        await _server.WaitForReadinessAsync(HttpStatusCode.OK);
    }

    [Fact]
    public async Task A_slow_vault_gives_unavailable_within_the_apiserver_deadline()
    {
        var vault = _vault.TestServer ?? throw new InvalidOperationException("Latency needs the in-repo Vault test server; unset VAULT_ADDR to run this test.");
        Ok(await _peer.CallAsync(Status));

        vault.Latency = TimeSpan.FromSeconds(4);
        var clock = Stopwatch.StartNew();
        var slow = await _peer.CallAsync(Encrypt, new { plaintext = Dek }, timeoutSeconds: 3);
        clock.Stop();
        vault.Latency = TimeSpan.Zero;

        Assert.Equal("UNAVAILABLE", slow.GetProperty("code").GetString());
        Assert.True(clock.Elapsed < TimeSpan.FromSeconds(3), $"UNAVAILABLE took {clock.Elapsed}");
        Assert.Contains("did not answer", slow.GetProperty("details").GetString(), StringComparison.Ordinal);
        Ok(await _peer.CallAsync(Encrypt, new { plaintext = Dek }));
    }

    [Fact]
    public async Task Secrets_are_stored_under_the_vault_key_through_clectl()
    {
        var clectl = ClectlRunner.For(_server, _temp.Combine("data"), _temp.Path);

        var create = await clectl.RunAsync("secret", "create", "vault/db", "--from-literal", "password=vault-protected");
        var read = await clectl.RunAsync("secret", "get", "vault/db", "--key", "password");
        var status = await clectl.RunAsync("key", "status", "-o", "json");

        Assert.True(create.ExitCode == 0, create.Stderr);
        Assert.Equal("vault-protected", read.Stdout);
        Assert.Contains("\"provider\": \"vault\"", status.Stdout, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Key_ids_survive_a_respelled_vault_address_and_mount_and_the_previous_releases_key_ids_still_decrypt()
    {
        var status = Ok(await _peer.CallAsync(Status));
        var encrypted = Ok(await _peer.CallAsync(Encrypt, new { plaintext = Dek }));
        var ciphertext = encrypted.GetProperty("ciphertext").GetString();
        var keyId = encrypted.GetProperty("key_id").GetString();
        var previous = PreviousVaultKeyIds.For(_vault.Address, null, "transit", _keyName, await _vault.ReadKeyAsync(_keyName), 1);

        var changes = new (Uri Address, string Mount)[] { (await _vault.AlternateAddressAsync(), "transit"), (_vault.Address, "transit/"), (await _vault.AlternateAddressAsync(), "/transit/") };
        foreach (var (address, mount) in changes)
        {
            await RestartAsync(address, mount);
            var after = Ok(await _peer.CallAsync(Status));
            var withCurrent = await _peer.CallAsync(Decrypt, new { ciphertext, key_id = keyId });
            var withPrevious = await _peer.CallAsync(Decrypt, new { ciphertext, key_id = previous });

            Assert.Equal(status.GetProperty("key_id").GetString(), after.GetProperty("key_id").GetString());
            Assert.Equal(Dek, Ok(withCurrent).GetProperty("plaintext").GetString());
            Assert.Equal(Dek, Ok(withPrevious).GetProperty("plaintext").GetString());
        }
    }

    [Fact]
    public async Task Archiving_version_1_changes_no_key_id_and_current_and_previous_key_ids_decrypt_what_vault_still_allows()
    {
        var underVersion1 = Ok(await _peer.CallAsync(Encrypt, new { plaintext = Dek }));
        var rotate = await ClectlRunner.For(_server, _temp.Combine("data"), _temp.Path).RunAsync("key", "rotate");
        var underVersion2 = Ok(await _peer.CallAsync(Encrypt, new { plaintext = Dek }));
        var status = Ok(await _peer.CallAsync(Status));
        var previous = PreviousVaultKeyIds.For(_vault.Address, null, "transit", _keyName, await _vault.ReadKeyAsync(_keyName), 2);

        await _vault.ConfigureKeyAsync(_keyName, new Dictionary<string, string> { ["min_decryption_version"] = "2" });
        await RestartAsync(_vault.Address);
        var after = Ok(await _peer.CallAsync(Status));
        var ciphertext = underVersion2.GetProperty("ciphertext").GetString();
        var withCurrent = await _peer.CallAsync(Decrypt, new { ciphertext, key_id = underVersion2.GetProperty("key_id").GetString() });
        var withPrevious = await _peer.CallAsync(Decrypt, new { ciphertext, key_id = previous });
        var archived = await _peer.CallAsync(Decrypt, new { ciphertext = underVersion1.GetProperty("ciphertext").GetString(), key_id = underVersion1.GetProperty("key_id").GetString() });

        Assert.True(rotate.ExitCode == 0, rotate.Stderr);
        Assert.Equal(status.GetProperty("key_id").GetString(), after.GetProperty("key_id").GetString());
        Assert.Equal(Dek, Ok(withCurrent).GetProperty("plaintext").GetString());
        Assert.Equal(Dek, Ok(withPrevious).GetProperty("plaintext").GetString());
        Assert.Equal("INVALID_ARGUMENT", archived.GetProperty("code").GetString());
        Assert.Contains("disallowed by policy (too old)", archived.GetProperty("details").GetString(), StringComparison.Ordinal);
    }

    /// <summary>Starts trousseaud as the KMS plugin over the test's Vault key, and the peer on its socket.</summary>
    private async Task StartAsync(Uri address, string mount = "transit")
    {
        var tokenFile = _temp.Combine("vault-token");
        await File.WriteAllTextAsync(tokenFile, _vault.Token);
        _server = await TrousseauServerProcess.StartAsync(_temp.Combine("data"),
        [
            "--Trousseau:KeyProvider=vault",
            $"--Trousseau:Vault:Address={address}",
            $"--Trousseau:Vault:TransitMount={mount}",
            $"--Trousseau:Vault:KeyName={_keyName}",
            $"--Trousseau:Vault:Auth:TokenFile={tokenFile}",
            "--Trousseau:Kms:StatusCacheDuration=00:00:00",
        ]);
        _peer = KmsPeer.Start(Socket);
    }

    /// <summary>Stops trousseaud as an operator's restart does (SIGTERM) and starts it with this Vault configuration.</summary>
    private async Task RestartAsync(Uri address, string mount = "transit")
    {
        await _peer.DisposeAsync();
        await _server.StopAsync();
        await _server.DisposeAsync();
        await StartAsync(address, mount);
    }

    private static System.Text.Json.JsonElement Ok(System.Text.Json.JsonElement result)
    {
        Assert.True(result.GetProperty("code").GetString() == "OK", $"{result.GetProperty("code")}: {result.GetProperty("details")}");
        return result.GetProperty("response");
    }
}
