using System.Net;
using System.Text.Json;
using Google.Protobuf;
using Grpc.Core;
using Grpc.Health.V1;
using Trousseau.Kms.V2;
using Trousseau.Tests.Integration.Infrastructure;
using Trousseau.Tests.Integration.Vault;

namespace Trousseau.Tests.Integration.Kms;

/// <summary>
/// One Vault and one <see cref="VaultKmsPlugin"/> on it, shared by <see cref="KmsVaultTests"/>. Tests that restart
/// trousseaud with another Vault address or mount, or change the key's policy, start a plugin of their own.
/// </summary>
public sealed class KmsVaultFixture : IAsyncLifetime
{
    internal VaultTarget Vault { get; private set; } = null!;

    internal VaultKmsPlugin Plugin { get; private set; } = null!;

    public async Task InitializeAsync()
    {
        Vault = await VaultTarget.StartAsync();
        Plugin = await VaultKmsPlugin.StartAsync(Vault);
    }

    public async Task DisposeAsync()
    {
        await Plugin.DisposeAsync();
        await Vault.DisposeAsync();
    }
}

/// <summary>
/// trousseaud as the KMS plugin over a Transit key of its own, configured from settings alone, with a
/// python3-grpcio peer on its socket. The peer's channel stays on the socket path while trousseaud restarts there,
/// as kube-apiserver's channel does.
/// </summary>
internal sealed class VaultKmsPlugin : IAsyncDisposable
{
    private const string Status = "/v2.KeyManagementService/Status";
    private static readonly TimeSpan StartTimeout = TimeSpan.FromSeconds(60);

    private readonly TempDirectory _temp = new();
    private readonly VaultTarget _vault;
    private readonly string[] _settings;

    private VaultKmsPlugin(VaultTarget vault, string[] settings) => (_vault, _settings) = (vault, settings);

    public string KeyName { get; } = VaultTarget.UniqueKeyName();

    public string Socket => _temp.Combine("run", "kms.sock");

    /// <summary>How many calls the plugin's audit trail records as answered DEADLINE_EXCEEDED so far.</summary>
    public int AuditedDeadlines() => AuditedOutcomes("DEADLINE_EXCEEDED").Count;

    /// <summary>The <c>outcome</c> of each call the plugin's audit trail records as answered <paramref name="grpcStatus"/> so far, oldest first.</summary>
    public List<string?> AuditedOutcomes(string grpcStatus) =>
        [.. File.ReadLines(_temp.Combine("data", "audit.log"))
            .Where(line => line.Contains($"\"grpcStatus\":\"{grpcStatus}\"", StringComparison.Ordinal))
            .Select(line =>
            {
                using var record = JsonDocument.Parse(line);
                return record.RootElement.GetProperty("outcome").GetString();
            })];

    public TrousseauServerProcess Server { get; private set; } = null!;

    public KmsPeer Peer { get; private set; } = null!;

    public ClectlRunner Clectl => ClectlRunner.For(Server, _temp.Combine("data"), _temp.Path);

    /// <summary>
    /// Creates a Transit key and starts trousseaud as the KMS plugin over it, with its peer, and with
    /// <paramref name="settings"/> (<c>--Trousseau:KEY=VALUE</c>) when given.
    /// </summary>
    public static async Task<VaultKmsPlugin> StartAsync(VaultTarget vault, string[]? settings = null)
    {
        var plugin = new VaultKmsPlugin(vault, settings ?? []);
        await vault.CreateKeyAsync(plugin.KeyName);
        plugin.Peer = KmsPeer.Start(plugin.Socket);
        await plugin.StartServerAsync(vault.Address, "transit");
        return plugin;
    }

    /// <summary>Stops trousseaud as an operator's restart does (SIGTERM) and starts it with this Vault configuration.</summary>
    public async Task RestartAsync(Uri address, string mount = "transit")
    {
        await Server.StopAsync();
        await Server.DisposeAsync();
        await StartServerAsync(address, mount);
    }

    public async ValueTask DisposeAsync()
    {
        await Peer.DisposeAsync();
        await Server.DisposeAsync();
        _temp.Dispose();
    }

    private async Task StartServerAsync(Uri address, string mount)
    {
        var tokenFile = _temp.Combine("vault-token");
        await File.WriteAllTextAsync(tokenFile, _vault.Token);
        Server = await TrousseauServerProcess.StartAsync(_temp.Combine("data"),
        [
            "--kms-socket", Socket,
            "--Trousseau:KeyProvider=vault",
            $"--Trousseau:Vault:Address={address}",
            $"--Trousseau:Vault:TransitMount={mount}",
            $"--Trousseau:Vault:KeyName={KeyName}",
            $"--Trousseau:Vault:Auth:TokenFile={tokenFile}",
            "--Trousseau:Kms:StatusCacheDuration=00:00:00",
            .. _settings,
        ]);
        await Peer.WaitForOkAsync(Status, StartTimeout);
    }
}

/// <summary>trousseaud as the KMS plugin with Vault Transit as the provider, configured from settings alone.</summary>
/// <remarks>
/// Most tests share the fixture's plugin, which serves them in turn; a test that reads the log looks only at what
/// was written since it began.
/// </remarks>
public sealed class KmsVaultTests : IClassFixture<KmsVaultFixture>
{
    private const string Status = "/v2.KeyManagementService/Status";
    private const string Encrypt = "/v2.KeyManagementService/Encrypt";
    private const string Decrypt = "/v2.KeyManagementService/Decrypt";
    private static readonly byte[] DekBytes = Enumerable.Range(100, 32).Select(i => (byte)i).ToArray();
    private static readonly string Dek = Convert.ToBase64String(DekBytes);

    private readonly KmsVaultFixture _fixture;

    public KmsVaultTests(KmsVaultFixture fixture)
    {
        _fixture = fixture;
        if (Target.TestServer is { } vault)
        {
            // A test that failed half-way must not leave the shared Vault sealed or slow for the next one.
            vault.Sealed = false;
            vault.Latency = TimeSpan.Zero;
        }
    }

    private VaultTarget Target => _fixture.Vault;

    private VaultKmsPlugin Plugin => _fixture.Plugin;

    private TrousseauServerProcess Server => Plugin.Server;

    private KmsPeer Peer => Plugin.Peer;

    [Fact]
    public async Task Kms_v2_round_trips_through_vault_transit_and_rotation_keeps_old_data()
    {
        var status = KmsPeer.Ok(await Peer.CallAsync(Status));
        var first = KmsPeer.Ok(await Peer.CallAsync(Encrypt, new { plaintext = Dek }));
        var rotate = await Plugin.Clectl.RunAsync("key", "rotate", "-o", "json");
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
        Assert.DoesNotContain(Target.Token, Server.Log, StringComparison.Ordinal);
    }

    [VaultTestServerFact]
    public async Task A_sealed_vault_makes_status_and_the_grpc_health_service_unhealthy_calls_unavailable_within_the_apiserver_deadline_and_readiness_503_until_unsealed()
    {
        var vault = Target.RequireTestServer();
        var logFrom = Server.Log.Length;
        var before = KmsPeer.Ok(await Peer.CallAsync(Encrypt, new { plaintext = Dek }));
        using var channel = KmsSocketTests.ChannelFor(Plugin.Socket);
        var health = new Health.HealthClient(channel);

        vault.Sealed = true;
        // Within kube-apiserver's 3 s deadline, or the peer would see DEADLINE_EXCEEDED instead.
        var refused = await Peer.CallAsync(Encrypt, new { plaintext = Dek }, timeoutSeconds: 3);
        var status = KmsPeer.Ok(await Peer.CallAsync(Status));
        var sealedHealth = await health.CheckAsync(new HealthCheckRequest(), deadline: DateTime.UtcNow.AddSeconds(10));

        Assert.Equal("UNAVAILABLE", refused.GetProperty("code").GetString());
        Assert.NotEqual("ok", status.GetProperty("healthz").GetString());
        Assert.Equal(HealthCheckResponse.Types.ServingStatus.NotServing, sealedHealth.Status);
        await Server.WaitForReadinessAsync(HttpStatusCode.ServiceUnavailable);

        vault.Sealed = false;
        var recovered = KmsPeer.Ok(await Peer.CallAsync(Status));
        var old = KmsPeer.Ok(await Peer.CallAsync(Decrypt, new { ciphertext = before.GetProperty("ciphertext").GetString(), key_id = before.GetProperty("key_id").GetString() }));
        var unsealedHealth = await health.CheckAsync(new HealthCheckRequest(), deadline: DateTime.UtcNow.AddSeconds(10));

        Assert.Equal("ok", recovered.GetProperty("healthz").GetString());
        Assert.Equal(Dek, old.GetProperty("plaintext").GetString());
        Assert.Equal(HealthCheckResponse.Types.ServingStatus.Serving, unsealedHealth.Status);
        await Server.WaitForReadinessAsync(HttpStatusCode.OK);

        // The outage is logged once, as the provider's; the refused call adds no line of grpc-dotnet's own.
        Assert.DoesNotContain("Error status code", Server.Log[logFrom..], StringComparison.Ordinal);
    }

    [VaultTestServerFact]
    public async Task While_vault_is_sealed_status_is_unhealthy_under_the_key_id_it_last_had_so_kube_apiserver_sees_no_rotation()
    {
        var vault = Target.RequireTestServer();
        var keyId = KmsPeer.Ok(await Peer.CallAsync(Status)).GetProperty("key_id").GetString();
        var keyRead = $"transit/keys/{Plugin.KeyName}";
        var refusedReads = vault.Count(keyRead, 503);

        vault.Sealed = true;

        // What the provider remembers of the key lasts 10 s; the Status answered once it has asked the sealed Vault
        // for the key again is the one kube-apiserver sees for the rest of the outage.
        var sealedStatus = KmsPeer.Ok(await Eventually.ReturnsAsync(
            () => Peer.CallAsync(Status),
            _ => vault.Count(keyRead, 503) > refusedReads,
            awaited: $"a Status that asked the sealed Vault for {keyRead}",
            show: r => r.ToString()));
        vault.Sealed = false;
        var recovered = KmsPeer.Ok(await Peer.CallAsync(Status));

        Assert.NotEqual("ok", sealedStatus.GetProperty("healthz").GetString());
        Assert.Equal(keyId, sealedStatus.GetProperty("key_id").GetString());
        Assert.Equal("ok", recovered.GetProperty("healthz").GetString());
        Assert.Equal(keyId, recovered.GetProperty("key_id").GetString());
    }

    [VaultTestServerFact]
    public async Task While_vault_does_not_answer_for_its_key_status_still_answers_within_the_apiserver_deadline_unhealthy_under_the_key_id_it_last_had()
    {
        var vault = Target.RequireTestServer();
        var keyId = KmsPeer.Ok(await Peer.CallAsync(Status)).GetProperty("key_id").GetString();
        var release = new TaskCompletionSource();
        vault.Hold = new VaultTestServer.VaultHold($"transit/keys/{Plugin.KeyName}", release.Task);
        try
        {
            // The provider's health and key last it 10 s. The first Status not answered healthy found both gone and asked
            // Vault for the key for each: kube-apiserver, waiting 3 s, must get that answer, not DEADLINE_EXCEEDED.
            var answer = await Eventually.ReturnsAsync(
                () => Peer.CallAsync(Status, timeoutSeconds: 3),
                r => r.GetProperty("code").GetString() != "OK" || r.GetProperty("response").GetProperty("healthz").GetString() != "ok",
                awaited: "a Status that is not healthy",
                show: r => r.ToString());

            // Kms:ProviderTimeout and Vault:Timeout are both 2 s: whichever runs out first names what did not answer.
            var status = KmsPeer.Ok(answer);
            var healthz = status.GetProperty("healthz").GetString();
            Assert.Contains("did not answer", healthz, StringComparison.Ordinal);
            Assert.Contains("within 2 s", healthz, StringComparison.Ordinal);
            Assert.Equal(keyId, status.GetProperty("key_id").GetString());
        }
        finally
        {
            vault.Hold = null;
            release.TrySetResult();
        }

        await Eventually.ReturnsAsync(
            () => Peer.CallAsync(Status),
            r => r.GetProperty("code").GetString() == "OK" && r.GetProperty("response").GetProperty("healthz").GetString() == "ok",
            awaited: "a healthy Status once Vault answers again",
            show: r => r.ToString());
    }

    [VaultTestServerFact]
    public async Task On_sigterm_an_encrypt_waiting_for_vault_is_answered_before_the_plugin_exits_and_the_socket_is_removed()
    {
        var vault = Target.RequireTestServer();

        // Stopped by the test: a plugin of its own, whose calls may wait for Vault long enough to be stopped meanwhile.
        await using var plugin = await VaultKmsPlugin.StartAsync(Target, ["--Trousseau:Kms:ProviderTimeout=00:00:20", "--Trousseau:Vault:Timeout=00:00:20"]);
        var release = new TaskCompletionSource();
        var heldBefore = vault.Held;
        vault.Hold = new VaultTestServer.VaultHold($"transit/encrypt/{plugin.KeyName}", release.Task);
        try
        {
            var call = plugin.Peer.CallAsync(Encrypt, new { plaintext = Dek }, timeoutSeconds: 30);
            await Eventually.HoldsAsync(() => vault.Held > heldBefore);
            var stopped = plugin.Server.StopAsync();
            await Eventually.HoldsAsync(() => plugin.Server.Log.Contains("Application is shutting down", StringComparison.Ordinal));
            release.SetResult();

            var answered = KmsPeer.Ok(await call);
            Assert.Equal(0, await stopped);
            Assert.StartsWith("vault-", answered.GetProperty("key_id").GetString(), StringComparison.Ordinal);
            Assert.False(File.Exists(plugin.Socket), $"{plugin.Socket} is left after the plugin exited");
        }
        finally
        {
            vault.Hold = null;
            release.TrySetResult();
        }
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
        Assert.Equal("unavailable", Plugin.AuditedOutcomes("UNAVAILABLE").Last());
        KmsPeer.Ok(await Peer.CallAsync(Encrypt, new { plaintext = Dek }));
    }

    [VaultTestServerFact]
    public async Task A_vault_policy_that_refuses_the_key_gives_permission_denied_with_vaults_words_and_the_plugin_serves_once_it_allows_it_again()
    {
        var vault = Target.RequireTestServer();
        KmsPeer.Ok(await Peer.CallAsync(Encrypt, new { plaintext = Dek }));

        // A policy change took the plugin's token the right to encrypt with its key: kube-apiserver must see that the
        // plugin is refused (PERMISSION_DENIED), not that Vault is down (UNAVAILABLE) or that the plugin failed (INTERNAL).
        vault.Fault = new VaultTestServer.VaultFault(403, "permission denied", PathContains: $"transit/encrypt/{Plugin.KeyName}");
        JsonElement refused;
        try
        {
            refused = await Peer.CallAsync(Encrypt, new { plaintext = Dek });
        }
        finally
        {
            vault.Fault = null;
        }

        Assert.Equal("PERMISSION_DENIED", refused.GetProperty("code").GetString());
        Assert.Contains("permission denied", refused.GetProperty("details").GetString(), StringComparison.Ordinal);
        KmsPeer.Ok(await Peer.CallAsync(Encrypt, new { plaintext = Dek }));
    }

    [VaultTestServerFact]
    public async Task A_deadline_that_passes_while_vault_is_slow_ends_the_call_deadline_exceeded_and_the_plugin_keeps_serving()
    {
        var vault = Target.RequireTestServer();
        KmsPeer.Ok(await Peer.CallAsync(Status));
        var logFrom = Server.Log.Length;
        var deadlinesBefore = Plugin.AuditedDeadlines();
        using var channel = KmsSocketTests.ChannelFor(Plugin.Socket);
        var kms = new KmsV2Client(channel.CreateCallInvoker());

        vault.Latency = TimeSpan.FromSeconds(4);
        var peerCall = await Peer.CallAsync(Encrypt, new { plaintext = Dek }, timeoutSeconds: 0.5);
        var clientCall = await Assert.ThrowsAsync<RpcException>(() => kms.EncryptAsync(
            new EncryptRequest { Plaintext = ByteString.CopyFrom(DekBytes) },
            new CallOptions(deadline: DateTime.UtcNow.AddMilliseconds(500))));

        // The callers' deadlines are what they see; the plugin's own answer to the peer's call is in its audit trail.
        // (Grpc.Net.Client may reset its call at the deadline before the plugin has read it, so only the peer's call
        // is sure to reach the plugin.)
        await Eventually.HoldsAsync(() => Plugin.AuditedDeadlines() > deadlinesBefore, () => "no Encrypt recorded as DEADLINE_EXCEEDED", TimeSpan.FromSeconds(15));
        vault.Latency = TimeSpan.Zero;

        Assert.Equal("DEADLINE_EXCEEDED", peerCall.GetProperty("code").GetString());
        Assert.All(Plugin.AuditedOutcomes("DEADLINE_EXCEEDED"), outcome => Assert.Equal("unavailable", outcome));
        Assert.Equal(StatusCode.DeadlineExceeded, clientCall.StatusCode);
        KmsPeer.Ok(await Peer.CallAsync(Encrypt, new { plaintext = Dek }));
        Assert.DoesNotContain("failed unexpectedly", Server.Log[logFrom..], StringComparison.Ordinal);
    }

    [Fact]
    public async Task After_a_rotation_made_in_vault_the_status_and_key_status_following_an_encrypt_under_the_new_version_name_its_key_id()
    {
        // Rotates its key in Vault: a plugin (and key) of its own, not the shared one.
        await using var plugin = await VaultKmsPlugin.StartAsync(Target);
        var peer = plugin.Peer;
        var before = KmsPeer.Ok(await peer.CallAsync(Status));

        await Target.RotateKeyAsync(plugin.KeyName);
        var encrypted = KmsPeer.Ok(await peer.CallAsync(Encrypt, new { plaintext = Dek }));
        var after = KmsPeer.Ok(await peer.CallAsync(Status));
        var keyStatus = await plugin.Clectl.RunAsync("key", "status", "-o", "json");

        var newKeyId = encrypted.GetProperty("key_id").GetString();
        Assert.EndsWith("-v2", newKeyId, StringComparison.Ordinal);
        Assert.NotEqual(before.GetProperty("key_id").GetString(), newKeyId);
        Assert.Equal(newKeyId, after.GetProperty("key_id").GetString());
        Assert.Equal("ok", after.GetProperty("healthz").GetString());
        Assert.True(keyStatus.ExitCode == 0, keyStatus.Stderr);
        Assert.Contains($"\"keyId\": \"{newKeyId}\"", keyStatus.Stdout, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Secrets_are_stored_under_the_vault_key_through_clectl()
    {
        var clectl = Plugin.Clectl;

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
        // Restarts with other spellings of the address and mount: a plugin of its own, not the shared one.
        await using var plugin = await VaultKmsPlugin.StartAsync(Target);
        var peer = plugin.Peer;
        var status = KmsPeer.Ok(await peer.CallAsync(Status));
        var encrypted = KmsPeer.Ok(await peer.CallAsync(Encrypt, new { plaintext = Dek }));
        var ciphertext = encrypted.GetProperty("ciphertext").GetString();
        var keyId = encrypted.GetProperty("key_id").GetString();
        var previous = PreviousVaultKeyIds.For(Target.Address, null, "transit", plugin.KeyName, await Target.ReadKeyAsync(plugin.KeyName), 1);

        var changes = new (Uri Address, string Mount)[] { (await Target.AlternateAddressAsync(), "transit"), (Target.Address, "transit/"), (await Target.AlternateAddressAsync(), "/transit/") };
        foreach (var (address, mount) in changes)
        {
            await plugin.RestartAsync(address, mount);
            var after = KmsPeer.Ok(await peer.CallAsync(Status));
            var withCurrent = await peer.CallAsync(Decrypt, new { ciphertext, key_id = keyId });
            var withPrevious = await peer.CallAsync(Decrypt, new { ciphertext, key_id = previous });

            Assert.Equal(status.GetProperty("key_id").GetString(), after.GetProperty("key_id").GetString());
            Assert.Equal(Dek, KmsPeer.Ok(withCurrent).GetProperty("plaintext").GetString());
            Assert.Equal(Dek, KmsPeer.Ok(withPrevious).GetProperty("plaintext").GetString());
        }
    }

    [Fact]
    public async Task Archiving_version_1_changes_no_key_id_and_current_and_previous_key_ids_decrypt_what_vault_still_allows()
    {
        // Changes its key's policy and restarts: a plugin (and key) of its own, not the shared one.
        await using var plugin = await VaultKmsPlugin.StartAsync(Target);
        var peer = plugin.Peer;
        var underVersion1 = KmsPeer.Ok(await peer.CallAsync(Encrypt, new { plaintext = Dek }));
        var rotate = await plugin.Clectl.RunAsync("key", "rotate");
        var underVersion2 = KmsPeer.Ok(await peer.CallAsync(Encrypt, new { plaintext = Dek }));
        var status = KmsPeer.Ok(await peer.CallAsync(Status));
        var previous = PreviousVaultKeyIds.For(Target.Address, null, "transit", plugin.KeyName, await Target.ReadKeyAsync(plugin.KeyName), 2);

        await Target.ConfigureKeyAsync(plugin.KeyName, new Dictionary<string, string> { ["min_decryption_version"] = "2" });
        await plugin.RestartAsync(Target.Address);
        var after = KmsPeer.Ok(await peer.CallAsync(Status));
        var ciphertext = underVersion2.GetProperty("ciphertext").GetString();
        var withCurrent = await peer.CallAsync(Decrypt, new { ciphertext, key_id = underVersion2.GetProperty("key_id").GetString() });
        var withPrevious = await peer.CallAsync(Decrypt, new { ciphertext, key_id = previous });
        var archived = await peer.CallAsync(Decrypt, new { ciphertext = underVersion1.GetProperty("ciphertext").GetString(), key_id = underVersion1.GetProperty("key_id").GetString() });

        Assert.True(rotate.ExitCode == 0, rotate.Stderr);
        Assert.Equal(status.GetProperty("key_id").GetString(), after.GetProperty("key_id").GetString());
        Assert.Equal(Dek, KmsPeer.Ok(withCurrent).GetProperty("plaintext").GetString());
        Assert.Equal(Dek, KmsPeer.Ok(withPrevious).GetProperty("plaintext").GetString());
        Assert.Equal("INVALID_ARGUMENT", archived.GetProperty("code").GetString());
        Assert.Contains("disallowed by policy (too old)", archived.GetProperty("details").GetString(), StringComparison.Ordinal);
    }
}
