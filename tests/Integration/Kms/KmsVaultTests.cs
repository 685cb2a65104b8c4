using System.Net;
using Grpc.Health.V1;
using Trousseau.Tests.Integration.Infrastructure;
using Trousseau.Tests.Integration.Vault;

namespace Trousseau.Tests.Integration.Kms;

/// <summary>
/// One Vault and one python3-grpcio peer, shared by <see cref="KmsVaultTests"/>. The peer's channel stays on the
/// socket path while each test starts (and restarts) its own trousseaud there, as kube-apiserver's channel does.
/// </summary>
public sealed class KmsVaultFixture : IAsyncLifetime, IDisposable
{
    private readonly TempDirectory _temp = new();

    internal VaultTarget Vault { get; private set; } = null!;

    internal KmsPeer Peer { get; private set; } = null!;

    internal string Socket => _temp.Combine("run", "kms.sock");

    public async Task InitializeAsync()
    {
        Vault = await VaultTarget.StartAsync();
        Peer = KmsPeer.Start(Socket);
    }

    public async Task DisposeAsync()
    {
        await Peer.DisposeAsync();
        await Vault.DisposeAsync();
    }

    public void Dispose() => _temp.Dispose();
}

/// <summary>trousseaud as the KMS plugin with Vault Transit as the provider, configured from settings alone.</summary>
public sealed class KmsVaultTests(KmsVaultFixture fixture) : IClassFixture<KmsVaultFixture>, IAsyncLifetime, IDisposable
{
    private const string Status = "/v2.KeyManagementService/Status";
    private const string Encrypt = "/v2.KeyManagementService/Encrypt";
    private const string Decrypt = "/v2.KeyManagementService/Decrypt";
    private static readonly string Dek = Convert.ToBase64String(Enumerable.Range(100, 32).Select(i => (byte)i).ToArray());

    private readonly TempDirectory _temp = new();
    private readonly string _keyName = VaultTarget.UniqueKeyName();
    private TrousseauServerProcess _server = null!;

    private VaultTarget Target => fixture.Vault;

    private KmsPeer Peer => fixture.Peer;

    public async Task InitializeAsync()
    {
        if (Target.TestServer is { } vault)
        {
            // A test that failed half-way must not leave the shared Vault sealed or slow for the next one.
            vault.Sealed = false;
            vault.Latency = TimeSpan.Zero;
        }

        await Target.CreateKeyAsync(_keyName);
        await StartAsync(Target.Address);
    }

    public async Task DisposeAsync() => await _server.DisposeAsync();

    public void Dispose() => _temp.Dispose();

    [Fact]
    public async Task Kms_v2_round_trips_through_vault_transit_and_rotation_keeps_old_data()
    {
        var status = KmsPeer.Ok(await Peer.CallAsync(Status));
        var first = KmsPeer.Ok(await Peer.CallAsync(Encrypt, new { plaintext = Dek }));
        var rotate = await ClectlRunner.For(_server, _temp.Combine("data"), _temp.Path).RunAsync("key", "rotate", "-o", "json");
        var after = KmsPeer.Ok(await Peer.CallAsync(Status));
        var second = KmsPeer.Ok(await Peer.CallAsync(Encrypt, new { plaintext = Dek }));
        var old = KmsPeer.Ok(await Peer.CallAsync(Decrypt, new { ciphertext = first.GetProperty("ciphertext").GetString(), key_id = first.GetProperty("key_id").GetString() }));

        Assert.Equal("ok", status.GetProperty("healthz").GetString());
        Assert.StartsWith("vault-", status.GetProperty("key_id").GetString(), StringComparison.Ordinal);
        Assert.Equal(status.GetProperty("key_id").GetString(), first.GetProperty("key_id").GetString());
        Assert.True(rotate.ExitCode == 0, rotate.Stderr);
        Assert.NotEqual(status.GetProperty("key_id").GetString(), after.GetProperty("key_id").GetString());
        Assert.Equal(after.GetProperty("key_id").GetString(), second.GetProperty("key_id").GetString());
        Assert.InRange(Convert.FromBase64String(second.GetProperty("ciphertext").GetString()!).Length, 1, 1024);
        Assert.Equal(Dek, old.GetProperty("plaintext").GetString());
        Assert.DoesNotContain(Target.Token, _server.Log, StringComparison.Ordinal);
    }

    [VaultTestServerFact]
    public async Task A_sealed_vault_makes_status_and_the_grpc_health_service_unhealthy_calls_unavailable_within_the_apiserver_deadline_and_readiness_503_until_unsealed()
    {
        var vault = Target.RequireTestServer();
        var before = KmsPeer.Ok(await Peer.CallAsync(Encrypt, new { plaintext = Dek }));
        using var channel = KmsSocketTests.ChannelFor(fixture.Socket);
        var health = new Health.HealthClient(channel);

        vault.Sealed = true;
        // Within kube-apiserver's 3 s deadline, or the peer would see DEADLINE_EXCEEDED instead.
        var refused = await Peer.CallAsync(Encrypt, new { plaintext = Dek }, timeoutSeconds: 3);
        var status = KmsPeer.Ok(await Peer.CallAsync(Status));
        var sealedHealth = await health.CheckAsync(new HealthCheckRequest(), deadline: DateTime.UtcNow.AddSeconds(10));

        Assert.Equal("UNAVAILABLE", refused.GetProperty("code").GetString());
        Assert.NotEqual("ok", status.GetProperty("healthz").GetString());
        Assert.Equal(HealthCheckResponse.Types.ServingStatus.NotServing, sealedHealth.Status);
        await _server.WaitForReadinessAsync(HttpStatusCode.ServiceUnavailable);

        vault.Sealed = false;
        var recovered = KmsPeer.Ok(await Peer.CallAsync(Status));
        var old = KmsPeer.Ok(await Peer.CallAsync(Decrypt, new { ciphertext = before.GetProperty("ciphertext").GetString(), key_id = before.GetProperty("key_id").GetString() }));
        var unsealedHealth = await health.CheckAsync(new HealthCheckRequest(), deadline: DateTime.UtcNow.AddSeconds(10));

        Assert.Equal("ok", recovered.GetProperty("healthz").GetString());
        Assert.Equal(Dek, old.GetProperty("plaintext").GetString());
        Assert.Equal(HealthCheckResponse.Types.ServingStatus.Serving, unsealedHealth.Status);
        await _server.WaitForReadinessAsync(HttpStatusCode.OK);

        // The outage is logged once, as the provider's; the refused call adds no line of grpc-dotnet's own.
        Assert.DoesNotContain("Error status code", _server.Log, StringComparison.Ordinal);
    }

    [VaultTestServerFact]
    public async Task A_slow_vault_gives_unavailable_within_the_apiserver_deadline()
    {
        var vault = Target.RequireTestServer();
        KmsPeer.Ok(await Peer.CallAsync(Status));

        vault.Latency = TimeSpan.FromSeconds(4);
        // Kms:ProviderTimeout (2 s) ends the call before kube-apiserver's 3 s deadline would.
        var slow = await Peer.CallAsync(Encrypt, new { plaintext = Dek }, timeoutSeconds: 3);
        vault.Latency = TimeSpan.Zero;

        Assert.Equal("UNAVAILABLE", slow.GetProperty("code").GetString());
        Assert.Contains("did not answer", slow.GetProperty("details").GetString(), StringComparison.Ordinal);
        KmsPeer.Ok(await Peer.CallAsync(Encrypt, new { plaintext = Dek }));
    }

    [VaultTestServerFact]
    public async Task A_deadline_that_passes_while_vault_is_slow_ends_the_call_deadline_exceeded_and_the_plugin_keeps_serving()
    {
        var vault = Target.RequireTestServer();
        KmsPeer.Ok(await Peer.CallAsync(Status));
        using var http = KmsSocketTests.ClientFor(fixture.Socket);
        var request = KmsSocketTests.Frame([0x0a, 0x20, .. Convert.FromBase64String(Dek)]);

        vault.Latency = TimeSpan.FromSeconds(4);
        // The peer's deadline is what kube-apiserver sees; the raw call shows the plugin's own answer in its trailers.
        var peerCall = await Peer.CallAsync(Encrypt, new { plaintext = Dek }, timeoutSeconds: 0.5);
        var (rawStatus, _) = await KmsSocketTests.CallAsync(http, Encrypt, request, timeout: "500m");
        vault.Latency = TimeSpan.Zero;

        Assert.Equal("DEADLINE_EXCEEDED", peerCall.GetProperty("code").GetString());
        Assert.Equal("4", rawStatus);
        KmsPeer.Ok(await Peer.CallAsync(Encrypt, new { plaintext = Dek }));
        Assert.DoesNotContain("failed unexpectedly", _server.Log, StringComparison.Ordinal);
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
        var status = KmsPeer.Ok(await Peer.CallAsync(Status));
        var encrypted = KmsPeer.Ok(await Peer.CallAsync(Encrypt, new { plaintext = Dek }));
        var ciphertext = encrypted.GetProperty("ciphertext").GetString();
        var keyId = encrypted.GetProperty("key_id").GetString();
        var previous = PreviousVaultKeyIds.For(Target.Address, null, "transit", _keyName, await Target.ReadKeyAsync(_keyName), 1);

        var changes = new (Uri Address, string Mount)[] { (await Target.AlternateAddressAsync(), "transit"), (Target.Address, "transit/"), (await Target.AlternateAddressAsync(), "/transit/") };
        foreach (var (address, mount) in changes)
        {
            await RestartAsync(address, mount);
            var after = KmsPeer.Ok(await Peer.CallAsync(Status));
            var withCurrent = await Peer.CallAsync(Decrypt, new { ciphertext, key_id = keyId });
            var withPrevious = await Peer.CallAsync(Decrypt, new { ciphertext, key_id = previous });

            Assert.Equal(status.GetProperty("key_id").GetString(), after.GetProperty("key_id").GetString());
            Assert.Equal(Dek, KmsPeer.Ok(withCurrent).GetProperty("plaintext").GetString());
            Assert.Equal(Dek, KmsPeer.Ok(withPrevious).GetProperty("plaintext").GetString());
        }
    }

    [Fact]
    public async Task Archiving_version_1_changes_no_key_id_and_current_and_previous_key_ids_decrypt_what_vault_still_allows()
    {
        var underVersion1 = KmsPeer.Ok(await Peer.CallAsync(Encrypt, new { plaintext = Dek }));
        var rotate = await ClectlRunner.For(_server, _temp.Combine("data"), _temp.Path).RunAsync("key", "rotate");
        var underVersion2 = KmsPeer.Ok(await Peer.CallAsync(Encrypt, new { plaintext = Dek }));
        var status = KmsPeer.Ok(await Peer.CallAsync(Status));
        var previous = PreviousVaultKeyIds.For(Target.Address, null, "transit", _keyName, await Target.ReadKeyAsync(_keyName), 2);

        await Target.ConfigureKeyAsync(_keyName, new Dictionary<string, string> { ["min_decryption_version"] = "2" });
        await RestartAsync(Target.Address);
        var after = KmsPeer.Ok(await Peer.CallAsync(Status));
        var ciphertext = underVersion2.GetProperty("ciphertext").GetString();
        var withCurrent = await Peer.CallAsync(Decrypt, new { ciphertext, key_id = underVersion2.GetProperty("key_id").GetString() });
        var withPrevious = await Peer.CallAsync(Decrypt, new { ciphertext, key_id = previous });
        var archived = await Peer.CallAsync(Decrypt, new { ciphertext = underVersion1.GetProperty("ciphertext").GetString(), key_id = underVersion1.GetProperty("key_id").GetString() });

        Assert.True(rotate.ExitCode == 0, rotate.Stderr);
        Assert.Equal(status.GetProperty("key_id").GetString(), after.GetProperty("key_id").GetString());
        Assert.Equal(Dek, KmsPeer.Ok(withCurrent).GetProperty("plaintext").GetString());
        Assert.Equal(Dek, KmsPeer.Ok(withPrevious).GetProperty("plaintext").GetString());
        Assert.Equal("INVALID_ARGUMENT", archived.GetProperty("code").GetString());
        Assert.Contains("disallowed by policy (too old)", archived.GetProperty("details").GetString(), StringComparison.Ordinal);
    }

    /// <summary>Starts trousseaud as the KMS plugin over the test's Vault key, on the socket the peer calls.</summary>
    private async Task StartAsync(Uri address, string mount = "transit")
    {
        var tokenFile = _temp.Combine("vault-token");
        await File.WriteAllTextAsync(tokenFile, Target.Token);
        _server = await TrousseauServerProcess.StartAsync(_temp.Combine("data"),
        [
            "--kms-socket", fixture.Socket,
            "--Trousseau:KeyProvider=vault",
            $"--Trousseau:Vault:Address={address}",
            $"--Trousseau:Vault:TransitMount={mount}",
            $"--Trousseau:Vault:KeyName={_keyName}",
            $"--Trousseau:Vault:Auth:TokenFile={tokenFile}",
            "--Trousseau:Kms:StatusCacheDuration=00:00:00",
        ]);

        // The peer's channel outlives the plugin it last talked to; like kube-apiserver's, it may fail a call or two
        // (UNAVAILABLE) before it has reconnected.
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(60);
        System.Text.Json.JsonElement status;
        while ((status = await Peer.CallAsync(Status)).GetProperty("code").GetString() != "OK")
        {
            Assert.True(DateTime.UtcNow < deadline, $"The plugin on {fixture.Socket} did not answer Status OK within 60 s; last: {status.GetProperty("code")}: {status.GetProperty("details")}");
            await Task.Delay(100);
        }
    }

    /// <summary>Stops trousseaud as an operator's restart does (SIGTERM) and starts it with this Vault configuration.</summary>
    private async Task RestartAsync(Uri address, string mount = "transit")
    {
        await _server.StopAsync();
        await _server.DisposeAsync();
        await StartAsync(address, mount);
    }
}
