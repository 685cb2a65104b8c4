using System.Diagnostics;
using System.Diagnostics.Metrics;
using System.Net;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json.Nodes;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Diagnostics.Metrics.Testing;
using Microsoft.Extensions.Time.Testing;
using Trousseau.Vault;

namespace Trousseau.Tests.Integration.Vault;

/// <summary>
/// Vault Transit as Trousseau's key provider, over Vault's HTTP API. One Vault for the class
/// (<see cref="VaultFixture"/>: a real one when <c>VAULT_ADDR</c> is set); each test has its own Transit keys, and
/// counts the in-repo server's requests from where it starts.
/// </summary>
public sealed class VaultTransitTests(VaultFixture fixture) : IClassFixture<VaultFixture>, IAsyncLifetime
{
    private readonly VaultTarget _vault = fixture.ForNextTest();
    private readonly List<ServiceProvider> _providers = [];

    public Task InitializeAsync() => Task.CompletedTask;

    public async Task DisposeAsync()
    {
        foreach (var provider in _providers)
        {
            await provider.DisposeAsync();
        }
    }

    [Fact]
    public async Task Wrap_and_unwrap_round_trip_and_rotation_changes_the_key_id_but_not_old_data()
    {
        var (services, _) = await BuildAsync();
        var provider = services.GetRequiredService<IKeyProvider>();
        var dek = Enumerable.Range(0, 32).Select(i => (byte)i).ToArray();

        var before = await provider.GetCurrentKeyAsync();
        var wrapped = await provider.WrapAsync(dek);
        var rotated = await provider.RotateAsync();
        var wrappedAfter = await provider.WrapAsync(dek);

        Assert.Equal("vault", provider.Name);
        Assert.Matches(KeyIdShape(1), before.KeyId);
        Assert.Matches(KeyIdShape(2), rotated.KeyId);
        Assert.StartsWith("vault:v1:", Encoding.ASCII.GetString(wrapped.Ciphertext.Span), StringComparison.Ordinal);
        Assert.Equal(before.KeyId, wrapped.KeyId);
        Assert.Equal(2u, rotated.Version);
        Assert.NotEqual(before.KeyId, rotated.KeyId);
        Assert.Equal(rotated.KeyId, wrappedAfter.KeyId);
        Assert.Equal(dek, await provider.UnwrapAsync(wrapped));
        Assert.Equal(dek, await provider.UnwrapAsync(wrappedAfter));
    }

    [Fact]
    public async Task Key_ids_of_another_form_or_version_and_tampered_ciphertext_are_invalid_ciphertext()
    {
        var (services, _) = await BuildAsync();
        var provider = services.GetRequiredService<IKeyProvider>();
        var wrapped = await provider.WrapAsync("dek"u8.ToArray());
        var tampered = wrapped.Ciphertext.ToArray();
        // A character well inside the base64 body: its every bit is significant (the last ones may be padding).
        tampered[20] = tampered[20] == (byte)'A' ? (byte)'B' : (byte)'A';

        foreach (var keyId in new[] { "local-9f2c4e1a7b3d5e60-v1", "vault-0000000000000000-v2", "vault-00000000-v1", "vault-0000000000000000-v01", "vault-0000000000000000-v1 " })
        {
            await Assert.ThrowsAsync<InvalidCiphertextException>(async () => await provider.UnwrapAsync(wrapped with { KeyId = keyId }));
        }

        await Assert.ThrowsAsync<InvalidCiphertextException>(async () => await provider.UnwrapAsync(wrapped with { KeyVersion = 2 }));
        await Assert.ThrowsAsync<InvalidCiphertextException>(async () => await provider.UnwrapAsync(wrapped with { Ciphertext = tampered }));
        await Assert.ThrowsAsync<InvalidCiphertextException>(async () => await provider.UnwrapAsync(wrapped with { Ciphertext = "not-vault"u8.ToArray() }));
    }

    [Fact]
    public async Task The_key_id_and_wrapped_keys_do_not_depend_on_how_the_vault_address_is_spelled()
    {
        var keyName = VaultTarget.UniqueKeyName();
        await _vault.CreateKeyAsync(keyName);
        var alternate = await _vault.AlternateAddressAsync();
        var (asConfigured, _) = await BuildAsync(keyName: keyName);
        var (respelled, _) = await BuildAsync(o => o.Address = alternate, keyName);
        var first = asConfigured.GetRequiredService<IKeyProvider>();
        var second = respelled.GetRequiredService<IKeyProvider>();

        var wrapped = await first.WrapAsync("dek"u8.ToArray());

        Assert.NotEqual(_vault.Address, alternate);
        Assert.Equal((await first.GetCurrentKeyAsync()).KeyId, (await second.GetCurrentKeyAsync()).KeyId);
        Assert.Equal(wrapped.KeyId, (await second.GetCurrentKeyAsync()).KeyId);
        Assert.Equal("dek"u8.ToArray(), await second.UnwrapAsync(wrapped));
    }

    [Fact]
    public async Task The_key_id_and_wrapped_keys_do_not_depend_on_slashes_around_the_transit_mount()
    {
        var keyName = VaultTarget.UniqueKeyName();
        await _vault.CreateKeyAsync(keyName);
        var (plain, _) = await BuildAsync(o => o.TransitMount = "transit", keyName);
        var wrapped = await plain.GetRequiredService<IKeyProvider>().WrapAsync("dek"u8.ToArray());

        foreach (var mount in new[] { "transit/", "/transit", "/transit/" })
        {
            var (slashed, _) = await BuildAsync(o => o.TransitMount = mount, keyName);
            var provider = slashed.GetRequiredService<IKeyProvider>();

            Assert.Equal(wrapped.KeyId, (await provider.GetCurrentKeyAsync()).KeyId);
            Assert.Equal("dek"u8.ToArray(), await provider.UnwrapAsync(wrapped));
        }
    }

    [Fact]
    public async Task Archiving_version_1_with_min_decryption_version_keeps_the_key_id_and_what_vault_still_decrypts()
    {
        var keyName = VaultTarget.UniqueKeyName();
        await _vault.CreateKeyAsync(keyName);
        var (services, _) = await BuildAsync(keyName: keyName);
        var provider = services.GetRequiredService<IKeyProvider>();
        var underVersion1 = await provider.WrapAsync("one"u8.ToArray());
        await provider.RotateAsync();
        var underVersion2 = await provider.WrapAsync("two"u8.ToArray());
        var before = await provider.GetCurrentKeyAsync();

        await _vault.ConfigureKeyAsync(keyName, new Dictionary<string, string> { ["min_decryption_version"] = "2" });
        var listed = await _vault.ReadKeyAsync(keyName);
        var (restarted, _) = await BuildAsync(keyName: keyName);
        var after = restarted.GetRequiredService<IKeyProvider>();

        Assert.Equal("2", Assert.Single(listed.GetProperty("keys").EnumerateObject()).Name);
        Assert.Equal(before, await after.GetCurrentKeyAsync());
        Assert.Equal("two"u8.ToArray(), await after.UnwrapAsync(underVersion2));
        var refused = await Assert.ThrowsAsync<InvalidCiphertextException>(async () => await after.UnwrapAsync(underVersion1));
        Assert.Contains("ciphertext or signature version is disallowed by policy (too old)", refused.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_bad_key_configuration_is_refused_with_400_and_vaults_errors_and_changes_nothing()
    {
        var keyName = VaultTarget.UniqueKeyName();
        await _vault.CreateKeyAsync(keyName);
        await _vault.RotateKeyAsync(keyName);

        var tooNew = await _vault.TryConfigureKeyAsync(keyName, new Dictionary<string, string> { ["min_decryption_version"] = "3" });
        var negative = await _vault.TryConfigureKeyAsync(keyName, new Dictionary<string, string> { ["min_encryption_version"] = "-1" });
        var belowDecryption = await _vault.TryConfigureKeyAsync(keyName, new Dictionary<string, string> { ["min_decryption_version"] = "2", ["min_encryption_version"] = "1" });
        var key = await _vault.ReadKeyAsync(keyName);

        Assert.Equal(HttpStatusCode.BadRequest, tooNew.Status);
        Assert.Equal("cannot set min decryption version of 3, latest key version is 2", Assert.Single(tooNew.Errors));
        Assert.Equal(HttpStatusCode.BadRequest, negative.Status);
        Assert.Equal("min encryption version cannot be negative", Assert.Single(negative.Errors));
        Assert.Equal(HttpStatusCode.BadRequest, belowDecryption.Status);
        Assert.Equal("cannot set min encryption/decryption values; min encryption version of 1 must be greater than or equal to min decryption version of 2", Assert.Single(belowDecryption.Errors));
        Assert.Equal(1, key.GetProperty("min_decryption_version").GetInt32());
        Assert.Equal(["1", "2"], key.GetProperty("keys").EnumerateObject().Select(v => v.Name).Order());
    }

    [Fact]
    public async Task A_key_wrapped_under_the_previous_key_id_format_unwraps_whatever_the_address_or_mount_spelling()
    {
        var keyName = VaultTarget.UniqueKeyName();
        await _vault.CreateKeyAsync(keyName);
        var (original, _) = await BuildAsync(keyName: keyName);
        var provider = original.GetRequiredService<IKeyProvider>();
        var wrapped = await provider.WrapAsync("dek"u8.ToArray());
        await provider.RotateAsync();
        var wrappedAfterRotation = await provider.WrapAsync("dek-2"u8.ToArray());
        var key = await _vault.ReadKeyAsync(keyName);
        var alternate = await _vault.AlternateAddressAsync();

        var (respelled, _) = await BuildAsync(o => (o.Address, o.TransitMount) = (alternate, "transit/"), keyName);
        var reader = respelled.GetRequiredService<IKeyProvider>();

        Assert.Equal("dek"u8.ToArray(), await reader.UnwrapAsync(wrapped with { KeyId = PreviousVaultKeyIds.For(_vault.Address, null, "transit", keyName, key, 1) }));
        Assert.Equal("dek-2"u8.ToArray(), await reader.UnwrapAsync(wrappedAfterRotation with { KeyId = PreviousVaultKeyIds.For(_vault.Address, null, "transit", keyName, key, 2) }));
    }

    [Fact]
    public async Task A_deleted_and_recreated_key_never_repeats_a_key_id()
    {
        var keyName = VaultTarget.UniqueKeyName();
        await _vault.CreateKeyAsync(keyName);
        var (services, _) = await BuildAsync(keyName: keyName);
        var provider = services.GetRequiredService<IKeyProvider>();
        var first = await provider.GetCurrentKeyAsync();
        var wrapped = await provider.WrapAsync("dek"u8.ToArray());
        var created = (await _vault.ReadKeyAsync(keyName)).GetProperty("keys").GetProperty("1").GetInt64();

        await _vault.ConfigureKeyAsync(keyName, new Dictionary<string, string> { ["deletion_allowed"] = "true" });
        await _vault.DeleteKeyAsync(keyName);
        // Vault stamps key versions in whole seconds: an operator's recreation comes at least a second later.
        await Infrastructure.Eventually.HoldsAsync(() => DateTimeOffset.UtcNow.ToUnixTimeSeconds() > created + 1);
        await _vault.CreateKeyAsync(keyName);
        var (recreated, _) = await BuildAsync(keyName: keyName);
        var second = await recreated.GetRequiredService<IKeyProvider>().GetCurrentKeyAsync();

        Assert.Equal(first.Version, second.Version);
        Assert.NotEqual(first.KeyId, second.KeyId);
        await Assert.ThrowsAsync<InvalidCiphertextException>(async () => await recreated.GetRequiredService<IKeyProvider>().UnwrapAsync(wrapped));
    }

    [Theory]
    [InlineData(1)]
    [InlineData(2)]
    public async Task A_write_after_the_key_was_deleted_and_recreated_in_vault_and_read_again_is_sealed_under_the_new_key_and_reads_back_after_a_restart(int versionsBeforeDeletion)
    {
        // The clock moves only when the test says. The deletion is never seen as a 404: the key is there again by the
        // time the provider reads it, as the readiness check does once its facts are 10 s old.
        var keyName = VaultTarget.UniqueKeyName();
        await _vault.CreateKeyAsync(keyName);
        var clock = new FakeTimeProvider(DateTimeOffset.UtcNow);
        using var directory = new Infrastructure.TempDirectory();
        var store = directory.Combine("store.db");
        var (services, _) = await BuildAsync(keyName: keyName, time: clock, storePath: store);
        var trousseau = services.GetRequiredService<ITrousseau>();
        var keys = services.GetRequiredService<IKeyAdministration>();
        for (var v = 1; v < versionsBeforeDeletion; v++)
        {
            await keys.RotateKeyAsync();
        }

        await trousseau.CreateSecretAsync("recreated/before", SecretType.Opaque, new Dictionary<string, string> { ["k"] = "before-deletion" });
        var created = (await _vault.ReadKeyAsync(keyName)).GetProperty("keys").EnumerateObject().Max(v => v.Value.GetInt64());

        await _vault.ConfigureKeyAsync(keyName, new Dictionary<string, string> { ["deletion_allowed"] = "true" });
        await _vault.DeleteKeyAsync(keyName);
        // Vault stamps key versions in whole seconds: an operator's recreation comes at least a second later.
        await Infrastructure.Eventually.HoldsAsync(() => DateTimeOffset.UtcNow.ToUnixTimeSeconds() > created + 1);
        await _vault.CreateKeyAsync(keyName);
        clock.Advance(TimeSpan.FromSeconds(11));
        var health = await services.GetRequiredService<IKeyProvider>().CheckHealthAsync();
        await trousseau.CreateSecretAsync("recreated/after", SecretType.Opaque, new Dictionary<string, string> { ["k"] = "after-recreation" });
        await services.DisposeAsync();
        var (restarted, _) = await BuildAsync(keyName: keyName, time: clock, storePath: store);

        // Read by a provider started afresh, with none of the first one's data keys in memory. A process another test
        // starts at this moment shares the closed store's lock until it has exec'd (its copy of the descriptor), so the
        // restarted store may find the lock held for that instant; it takes the lock at its next call.
        Assert.True(health.IsHealthy, health.Description);
        var read = await Infrastructure.Eventually.ReturnsAsync(
            () => restarted.GetRequiredService<ITrousseau>().GetSecretAsync("recreated/after").AsTask(),
            secret => secret.Data["k"] == "after-recreation",
            show: secret => secret.Data["k"],
            transient: e => e is DependencyUnavailableException { Message: var message } && message.Contains("is in use by another process", StringComparison.Ordinal));
        Assert.Equal("after-recreation", read.Data["k"]);
    }

    [Fact]
    public async Task Batch_calls_report_errors_per_item_and_rewrap_and_datakey_use_the_latest_version()
    {
        var (services, _) = await BuildAsync();
        var provider = services.GetRequiredService<VaultTransitKeyProvider>();

        var wrapped = await provider.WrapBatchAsync(["one"u8.ToArray(), "two"u8.ToArray(), "three"u8.ToArray()]);
        var good = wrapped.Select(r => r.Value!).ToList();
        var broken = good[1] with { Ciphertext = Encoding.ASCII.GetBytes("vault:v1:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA") };
        var unwrapped = await provider.UnwrapBatchAsync([good[0], broken, good[2]]);

        Assert.All(wrapped, r => Assert.True(r.Succeeded));
        Assert.Equal("one"u8.ToArray(), unwrapped[0].Value);
        Assert.False(unwrapped[1].Succeeded);
        Assert.Contains("message authentication failed", unwrapped[1].Error, StringComparison.Ordinal);
        Assert.Equal("three"u8.ToArray(), unwrapped[2].Value);

        await provider.RotateAsync();
        var rewrapped = await provider.RewrapAsync(good[0]);
        var (plaintext, dataKey) = await provider.GenerateDataKeyAsync();

        Assert.Equal(2u, rewrapped.KeyVersion);
        Assert.Equal("one"u8.ToArray(), await provider.UnwrapAsync(rewrapped));
        Assert.Equal(32, plaintext.Length);
        Assert.Equal(2u, dataKey.KeyVersion);
        Assert.Equal(plaintext, await provider.UnwrapAsync(dataKey));
    }

    [Fact]
    public async Task A_rewrap_right_after_a_rotation_made_in_vault_moves_every_secret_and_key_status_names_the_new_version()
    {
        // The clock stands still, so whatever the provider remembers of the key never grows old on its own.
        var keyName = VaultTarget.UniqueKeyName();
        await _vault.CreateKeyAsync(keyName);
        var (services, _) = await BuildAsync(keyName: keyName, time: new FakeTimeProvider(DateTimeOffset.UtcNow));
        var trousseau = services.GetRequiredService<ITrousseau>();
        var keys = services.GetRequiredService<IKeyAdministration>();
        for (var i = 0; i < 5; i++)
        {
            await trousseau.CreateSecretAsync($"moved/{i}", SecretType.Opaque, new Dictionary<string, string> { ["k"] = $"value-{i}" });
        }

        var before = await keys.GetKeyStatusAsync();
        await _vault.RotateKeyAsync(keyName);
        var moved = (await keys.RewrapSecretsAsync()).Rewrapped;
        var after = await keys.GetKeyStatusAsync();
        var movedAgain = (await keys.RewrapSecretsAsync()).Rewrapped;

        Assert.Equal(1u, before.Version);
        Assert.Equal(5, moved);
        Assert.Equal(2u, after.Version);
        Assert.Matches(KeyIdShape(2), after.KeyId);
        Assert.Equal(0, movedAgain);
        Assert.Equal("value-3", (await trousseau.GetSecretAsync("moved/3")).Data["k"]);
    }

    [Fact]
    public async Task A_key_read_answered_before_a_rotation_in_vault_but_arriving_after_key_status_does_not_bring_the_older_key_back()
    {
        // The clock stands still, so whatever the provider remembers of the key never grows old on its own.
        var keyName = VaultTarget.UniqueKeyName();
        await _vault.CreateKeyAsync(keyName);
        var lateRead = new LateKeyReadHandler();
        var (services, _) = await BuildAsync(keyName: keyName, time: new FakeTimeProvider(DateTimeOffset.UtcNow), answers: lateRead);
        var provider = services.GetRequiredService<VaultTransitKeyProvider>();
        var keys = services.GetRequiredService<IKeyAdministration>();

        // A read of the key (what KMS Status asks) gets Vault's answer, version 1, late; meanwhile the key is rotated in
        // Vault and key status reads version 2.
        var slowRead = provider.GetCurrentKeyAsync().AsTask();
        await lateRead.Answered;
        await _vault.RotateKeyAsync(keyName);
        var status = await keys.GetKeyStatusAsync();
        lateRead.Release();
        await Infrastructure.Eventually.EndsAsync(slowRead, awaited: "the key read whose answer Vault let arrive late");

        var current = await provider.GetCurrentKeyAsync();
        var health = await provider.CheckHealthAsync();

        Assert.Equal(2u, status.Version);
        Assert.Equal(status.KeyId, current.KeyId);
        Assert.EndsWith($"current key {status.KeyId}", health.Description, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Once_a_wrap_after_a_rotation_in_vault_has_named_the_new_version_the_current_key_and_the_health_name_it_too()
    {
        // The clock stands still, so neither the cached key nor the cached health ever grows old on its own.
        var keyName = VaultTarget.UniqueKeyName();
        await _vault.CreateKeyAsync(keyName);
        var (services, _) = await BuildAsync(keyName: keyName, time: new FakeTimeProvider(DateTimeOffset.UtcNow));
        var provider = services.GetRequiredService<IKeyProvider>();
        var before = await provider.CheckHealthAsync();

        await _vault.RotateKeyAsync(keyName);
        var wrapped = await provider.WrapAsync("dek"u8.ToArray());
        var current = await provider.GetCurrentKeyAsync();
        var health = await provider.CheckHealthAsync();

        Assert.True(before.IsHealthy, before.Description);
        Assert.Matches(KeyIdShape(2), wrapped.KeyId);
        Assert.Equal(wrapped.KeyId, current.KeyId);
        Assert.True(health.IsHealthy, health.Description);
        Assert.EndsWith($"current key {wrapped.KeyId}", health.Description, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Health_and_the_current_key_with_a_cancelled_token_throw_that_token_even_when_the_last_answer_is_still_fresh()
    {
        // The clock stands still, so the cached key and health would answer without asking Vault.
        var (services, _) = await BuildAsync(time: new FakeTimeProvider(DateTimeOffset.UtcNow));
        var provider = services.GetRequiredService<IKeyProvider>();
        Assert.True((await provider.CheckHealthAsync()).IsHealthy);
        await provider.GetCurrentKeyAsync();
        using var cancelled = new CancellationTokenSource();
        await cancelled.CancelAsync();

        var health = await Assert.ThrowsAnyAsync<OperationCanceledException>(async () => await provider.CheckHealthAsync(cancelled.Token));
        var key = await Assert.ThrowsAnyAsync<OperationCanceledException>(async () => await provider.GetCurrentKeyAsync(cancelled.Token));

        Assert.Equal(cancelled.Token, health.CancellationToken);
        Assert.Equal(cancelled.Token, key.CancellationToken);
    }

    [Fact]
    public async Task Once_its_service_provider_is_disposed_every_call_throws_ObjectDisposedException_naming_the_vault_key_provider()
    {
        var (services, _) = await BuildAsync();
        var provider = services.GetRequiredService<VaultTransitKeyProvider>();
        var wrapped = await provider.WrapAsync("dek"u8.ToArray());
        Assert.True((await provider.CheckHealthAsync()).IsHealthy);
        await services.DisposeAsync();

        var calls = new Func<Task>[]
        {
            async () => await provider.GetCurrentKeyAsync(),
            async () => await provider.RefreshCurrentKeyAsync(),
            async () => await provider.WrapAsync("dek"u8.ToArray()),
            async () => await provider.UnwrapAsync(wrapped),
            async () => await provider.RotateAsync(),
            async () => await provider.CheckHealthAsync(),
        };

        foreach (var call in calls)
        {
            var error = await Assert.ThrowsAsync<ObjectDisposedException>(call);
            Assert.StartsWith("The Vault key provider (", error.Message, StringComparison.Ordinal);
            Assert.Contains("has been disposed: the service provider (host) that made it has stopped", error.Message, StringComparison.Ordinal);
        }
    }

    [Fact]
    public async Task A_key_deleted_and_recreated_in_vault_shows_with_its_lower_version_at_the_next_key_status()
    {
        var keyName = VaultTarget.UniqueKeyName();
        await _vault.CreateKeyAsync(keyName);
        var (services, _) = await BuildAsync(keyName: keyName, time: new FakeTimeProvider(DateTimeOffset.UtcNow));
        var provider = services.GetRequiredService<IKeyProvider>();
        var keys = services.GetRequiredService<IKeyAdministration>();
        var rotated = await keys.RotateKeyAsync();

        await _vault.ConfigureKeyAsync(keyName, new Dictionary<string, string> { ["deletion_allowed"] = "true" });
        await _vault.DeleteKeyAsync(keyName);
        await _vault.CreateKeyAsync(keyName);
        var status = await keys.GetKeyStatusAsync();

        Assert.Equal(2u, rotated.Version);
        Assert.Equal(1u, status.Version);
        Assert.Equal(status.KeyId, (await provider.GetCurrentKeyAsync()).KeyId);
    }

    [Fact]
    public async Task Empty_batches_are_answered_empty_without_asking_vault()
    {
        // Vault refuses an empty batch_input (400 "missing batch input to process"): nothing to send is no call.
        var (services, transitCalls) = await BuildAsync();
        var provider = services.GetRequiredService<VaultTransitKeyProvider>();

        var wrapped = await provider.WrapBatchAsync([]);
        var unwrapped = await provider.UnwrapBatchAsync([]);

        Assert.Empty(wrapped);
        Assert.Empty(unwrapped);
        Assert.Empty(transitCalls);
    }

    [Fact]
    public async Task A_data_key_under_a_missing_transit_key_is_refused_and_creates_no_key()
    {
        // Unlike encrypt, Transit's datakey never creates the key it is asked for.
        var keyName = VaultTarget.UniqueKeyName();
        var (services, _) = await BuildAsync(keyName: keyName);
        var provider = services.GetRequiredService<VaultTransitKeyProvider>();

        var error = await Assert.ThrowsAsync<DependencyUnavailableException>(async () => await provider.GenerateDataKeyAsync());
        var (status, _) = await _vault.SendAsync(HttpMethod.Get, $"transit/keys/{keyName}");

        Assert.Contains("encryption key not found", error.Message, StringComparison.Ordinal);
        Assert.Equal(HttpStatusCode.NotFound, status);
    }

    [Fact]
    public async Task Under_an_rsa_key_a_batch_with_a_forged_item_gives_the_other_items_and_that_items_error_after_one_vault_call()
    {
        var keyName = VaultTarget.UniqueKeyName();
        await CreateKeyAsync(keyName, new JsonObject { ["type"] = "rsa-2048" });
        var (services, calls) = await BuildAsync(keyName: keyName);
        var provider = services.GetRequiredService<VaultTransitKeyProvider>();
        var good = (await provider.WrapBatchAsync(["one"u8.ToArray(), "three"u8.ToArray()])).Select(r => r.Value!).ToList();
        var forged = good[0] with { Ciphertext = Encoding.ASCII.GetBytes("vault:v1:" + Convert.ToBase64String(RandomNumberGenerator.GetBytes(256))) };
        var before = calls.Count;

        // Vault answers a batch that an item fails inside its RSA key with 500 and every item's result.
        var unwrapped = await provider.UnwrapBatchAsync([good[0], forged, good[1]]);

        Assert.Equal("one"u8.ToArray(), unwrapped[0].Value);
        Assert.False(unwrapped[1].Succeeded);
        Assert.StartsWith("failed to RSA decrypt the ciphertext", unwrapped[1].Error, StringComparison.Ordinal);
        Assert.Equal("three"u8.ToArray(), unwrapped[2].Value);
        Assert.Equal(1, calls.Count - before);
    }

    [Theory]
    [InlineData("aes128-gcm96", false)]
    [InlineData("chacha20-poly1305", false)]
    [InlineData("rsa-2048", false)]
    [InlineData("aes256-gcm96", true)]
    public async Task A_transit_key_of_any_type_that_encrypts_wraps_unwraps_rewraps_and_makes_data_keys(string type, bool exportable)
    {
        var keyName = VaultTarget.UniqueKeyName();
        await CreateKeyAsync(keyName, new JsonObject { ["type"] = type, ["exportable"] = exportable, ["allow_plaintext_backup"] = exportable });
        var (services, _) = await BuildAsync(keyName: keyName);
        var provider = services.GetRequiredService<VaultTransitKeyProvider>();
        var dek = RandomNumberGenerator.GetBytes(32);

        var health = await provider.CheckHealthAsync();
        var wrapped = await provider.WrapAsync(dek);
        var (plaintext, dataKey) = await provider.GenerateDataKeyAsync();
        var rewrapped = await provider.RewrapAsync(wrapped);
        var batch = await provider.UnwrapBatchAsync((await provider.WrapBatchAsync([dek])).Select(r => r.Value!).ToList());

        Assert.True(health.IsHealthy, health.Description);
        Assert.Equal(dek, await provider.UnwrapAsync(wrapped));
        Assert.Equal(plaintext, await provider.UnwrapAsync(dataKey));
        Assert.Equal(dek, await provider.UnwrapAsync(rewrapped));
        Assert.Equal(dek, Assert.Single(batch).Value);
    }

    [Theory]
    [InlineData("ecdsa-p256", false, false, "ecdsa-p256")]
    [InlineData("ed25519", false, false, "ed25519")]
    [InlineData("hmac", false, false, "hmac")]
    [InlineData("aes256-gcm96", true, false, "derived")]
    [InlineData("aes256-gcm96", true, true, "derived")]
    public async Task A_transit_key_that_cannot_wrap_turns_health_red_naming_the_key_and_why_and_wraps_fail_typed(string type, bool derived, bool convergent, string why)
    {
        var keyName = VaultTarget.UniqueKeyName();
        await CreateKeyAsync(keyName, new JsonObject { ["type"] = type, ["derived"] = derived, ["convergent_encryption"] = convergent });
        var (services, _) = await BuildAsync(keyName: keyName);
        var provider = services.GetRequiredService<VaultTransitKeyProvider>();

        var health = await provider.CheckHealthAsync();
        var wrap = await Assert.ThrowsAsync<DependencyUnavailableException>(async () => await provider.WrapAsync(new byte[32]));
        var dataKey = await Assert.ThrowsAsync<DependencyUnavailableException>(async () => await provider.GenerateDataKeyAsync());

        Assert.False(health.IsHealthy, health.Description);
        Assert.Contains($"'{keyName}'", health.Description, StringComparison.Ordinal);
        Assert.Contains(type, health.Description, StringComparison.Ordinal);
        Assert.Contains(why, health.Description, StringComparison.Ordinal);
        Assert.Contains(keyName, wrap.Message, StringComparison.Ordinal);
        Assert.Contains(keyName, dataKey.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Two_hundred_secret_writes_and_a_read_make_one_transit_call()
    {
        var (services, transitCalls) = await BuildAsync();
        var trousseau = services.GetRequiredService<ITrousseau>();

        for (var i = 0; i < 200; i++)
        {
            await trousseau.CreateSecretAsync($"dek-cache/{i:D3}", SecretType.Opaque, new Dictionary<string, string> { ["k"] = $"v{i}" });
        }

        Assert.Equal("v199", (await trousseau.GetSecretAsync("dek-cache/199")).Data["k"]);
        Assert.Single(transitCalls);
    }

    [VaultTestServerFact]
    public async Task A_sealed_vault_is_a_typed_unavailable_error_after_exactly_two_retries_and_unsealing_recovers_without_restart()
    {
        var server = RequireTestServer();
        var (services, _) = await BuildAsync();
        var provider = services.GetRequiredService<IKeyProvider>();
        await provider.WrapAsync("warm"u8.ToArray());

        server.Sealed = true;
        var before = server.Count("/encrypt/", 503);
        var error = await Assert.ThrowsAsync<DependencyUnavailableException>(async () => await provider.WrapAsync("dek"u8.ToArray()));
        var health = await provider.CheckHealthAsync();

        Assert.Contains("sealed", error.Message, StringComparison.Ordinal);
        Assert.Equal(3, server.Count("/encrypt/", 503) - before);
        Assert.False(health.IsHealthy);
        Assert.Contains("sealed", health.Description, StringComparison.Ordinal);

        server.Sealed = false;
        Assert.True((await provider.CheckHealthAsync()).IsHealthy);
        Assert.Equal("dek"u8.ToArray(), await provider.UnwrapAsync(await provider.WrapAsync("dek"u8.ToArray())));
    }

    [VaultTestServerFact]
    public async Task A_health_check_answered_before_vault_sealed_but_arriving_after_a_call_failed_leaves_the_next_check_red()
    {
        // The clock stands still, so a healthy answer, once remembered, would be reused by every later check.
        var server = RequireTestServer();
        var (services, _) = await BuildAsync(time: new FakeTimeProvider(DateTimeOffset.UtcNow));
        var provider = services.GetRequiredService<IKeyProvider>();
        await provider.GetCurrentKeyAsync();

        // A health check (the monitor's, or KMS Status) gets Vault's healthy answer late; meanwhile Vault seals, and a
        // call (a rotation, sent once) fails on it.
        var release = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var heldBefore = server.Held;
        server.Hold = new VaultTestServer.VaultHold("sys/health", release.Task, Answered: true);
        var slowCheck = provider.CheckHealthAsync().AsTask();
        DependencyUnavailableException failed;
        try
        {
            await Infrastructure.Eventually.HoldsAsync(() => server.Held > heldBefore, () => $"held {server.Held - heldBefore}");
            server.Sealed = true;

            // A rotation retried would wait its backoff on the clock that stands still, for ever: the backstop ends it.
            using var backstop = new CancellationTokenSource(TimeSpan.FromMinutes(1));
            failed = await Assert.ThrowsAsync<DependencyUnavailableException>(async () => await provider.RotateAsync(backstop.Token));
        }
        finally
        {
            // Held, the health check would keep the provider (disposed after the test) from stopping.
            release.SetResult();
        }

        var late = await Infrastructure.Eventually.EndsAsync(slowCheck, awaited: "the health check whose answer Vault let arrive late");
        server.Hold = null;

        var health = await provider.CheckHealthAsync();

        Assert.Contains("sealed", failed.Message, StringComparison.Ordinal);
        Assert.True(late.IsHealthy, late.Description);
        Assert.False(health.IsHealthy, $"a check after a call failed on a sealed Vault answered healthy: {health.Description}");
        Assert.Contains("sealed", health.Description, StringComparison.Ordinal);
    }

    [VaultTestServerFact]
    public async Task Health_follows_sys_health_standby_uninitialized_and_unreachable()
    {
        // A server of its own, since this test stops it.
        var server = await VaultTestServer.StartAsync();
        var keyName = VaultTarget.UniqueKeyName();
        server.CreateKey(keyName);
        var (services, _) = await BuildAsync(o => (o.Address, o.Auth.Token) = (server.Address, server.RootToken), keyName);
        var provider = services.GetRequiredService<VaultTransitKeyProvider>();

        server.HealthStatus = 429;
        var standby = await provider.RefreshHealthAsync(default);
        server.HealthStatus = 501;
        var uninitialized = await provider.RefreshHealthAsync(default);
        server.HealthStatus = null;
        var healthy = await provider.RefreshHealthAsync(default);
        await server.DisposeAsync();
        var unreachable = await provider.RefreshHealthAsync(default);

        Assert.True(standby.IsHealthy, standby.Description);
        Assert.False(uninitialized.IsHealthy);
        Assert.Contains("not initialized", uninitialized.Description, StringComparison.Ordinal);
        Assert.True(healthy.IsHealthy, healthy.Description);
        Assert.False(unreachable.IsHealthy);
        Assert.Contains("cannot be reached", unreachable.Description, StringComparison.Ordinal);
    }

    [VaultTestServerFact]
    public async Task Every_request_carries_the_configured_namespace()
    {
        var server = RequireTestServer();
        var (services, _) = await BuildAsync(o => o.Namespace = "team-a/payments");
        var provider = services.GetRequiredService<IKeyProvider>();
        var before = server.Namespaces.Count;

        await provider.UnwrapAsync(await provider.WrapAsync("dek"u8.ToArray()));

        var sent = server.Namespaces.Skip(before).ToList();
        Assert.NotEmpty(sent);
        Assert.All(sent, n => Assert.Equal("team-a/payments", n));
    }

    [VaultTestServerFact]
    public async Task A_standby_redirecting_each_call_to_the_active_node_is_followed_with_the_token_the_namespace_and_the_body()
    {
        var active = RequireTestServer();
        await using var standby = await VaultTestServer.StartAsync();
        standby.RedirectTo = active.Address;
        var (services, _) = await BuildAsync(o => (o.Address, o.Namespace) = (standby.Address, "team-a"));
        var provider = services.GetRequiredService<VaultTransitKeyProvider>();
        var before = active.Namespaces.Count;
        var dek = RandomNumberGenerator.GetBytes(32);

        var unwrapped = await provider.UnwrapAsync(await provider.WrapAsync(dek));
        var health = await provider.RefreshHealthAsync(default);

        Assert.Equal(dek, unwrapped);
        Assert.True(health.IsHealthy, health.Description);
        Assert.Contains(standby.Requests, r => r.Path.Contains("/encrypt/", StringComparison.Ordinal) && r.Status == 307);
        Assert.NotEmpty(active.Namespaces.Skip(before));
        Assert.All(active.Namespaces.Skip(before), n => Assert.Equal("team-a", n));
    }

    [VaultTestServerFact]
    public async Task A_standby_served_over_https_redirecting_to_a_plain_http_address_is_not_followed_so_the_token_never_travels_in_clear()
    {
        var active = RequireTestServer();
        using var ca = Infrastructure.TestCertificateAuthority.Create("Vault test CA");
        await using var standby = await VaultTestServer.StartAsync(ca.IssueServer());
        standby.RedirectTo = active.Address;
        using var directory = new Infrastructure.TempDirectory();
        var caFile = ca.WriteCertificate(directory.Combine("ca.pem"));
        var (services, _) = await BuildAsync(o => (o.Address, o.CaFile) = (standby.Address, caFile));
        var provider = services.GetRequiredService<IKeyProvider>();
        var before = active.Requests.Count;

        var refused = await Assert.ThrowsAsync<DependencyUnavailableException>(async () => await provider.WrapAsync("dek"u8.ToArray()));

        Assert.Equal(Uri.UriSchemeHttps, standby.Address.Scheme);
        Assert.Contains(standby.Requests, r => r.Status == 307);
        Assert.Equal(before, active.Requests.Count);
        Assert.Equal(
            $"Vault answered 307 to v1/auth/token/lookup-self, a redirect to {active.Address.GetLeftPart(UriPartial.Authority)}, which is not followed: a redirect from https to http would send the token in clear. Give Trousseau:Vault:Address the active node's address, or serve every node over TLS.",
            refused.Message);
    }

    [VaultTestServerFact]
    public async Task Transient_5xx_answers_are_retried_and_4xx_are_not()
    {
        var server = RequireTestServer();
        var (services, calls) = await BuildAsync();
        var provider = services.GetRequiredService<IKeyProvider>();
        await provider.GetCurrentKeyAsync();
        var (failed, encrypted) = (server.Count("/encrypt/", 500), server.Count("/encrypt/", 200));

        server.FailNext(2);
        var wrapped = await provider.WrapAsync("dek"u8.ToArray());
        var before = calls.Count;
        await Assert.ThrowsAsync<InvalidCiphertextException>(async () => await provider.UnwrapAsync(wrapped with { Ciphertext = Encoding.ASCII.GetBytes("vault:v1:AAAA") }));

        Assert.Equal(2, server.Count("/encrypt/", 500) - failed);
        Assert.Equal(1, server.Count("/encrypt/", 200) - encrypted);
        Assert.Equal(1, calls.Count - before);
    }

    [VaultTestServerFact]
    public async Task A_key_rotation_and_a_login_are_sent_once_whatever_vault_answers()
    {
        var server = RequireTestServer();
        var provider = await AppRoleProviderAsync(server, "role-id-once", "secret-id-once");
        var (loginsBefore, rotationsBefore) = (server.Count("auth/approle/login"), server.Count("/rotate"));

        server.Fault = new VaultTestServer.VaultFault(500, "internal error", PathContains: "/login");
        var login = await Assert.ThrowsAsync<DependencyUnavailableException>(async () => await provider.WrapAsync("dek"u8.ToArray()));
        var logins = server.Count("auth/approle/login") - loginsBefore;
        server.Fault = new VaultTestServer.VaultFault(503, "Vault is sealed", PathContains: "/rotate");
        var rotation = await Assert.ThrowsAsync<DependencyUnavailableException>(async () => await provider.RotateAsync());
        server.Fault = null;

        Assert.Contains("500", login.Message, StringComparison.Ordinal);
        Assert.Equal(1, logins);
        Assert.Contains("sealed", rotation.Message, StringComparison.Ordinal);
        Assert.Equal(1, server.Count("/rotate") - rotationsBefore);
        Assert.Equal(1u, (await provider.GetCurrentKeyAsync()).Version);
    }

    [VaultTestServerFact]
    public async Task A_retry_after_longer_than_the_call_can_wait_ends_the_retries_and_reaches_the_caller()
    {
        var server = RequireTestServer();
        var (services, _) = await BuildAsync();
        var provider = services.GetRequiredService<IKeyProvider>();
        await provider.GetCurrentKeyAsync();

        var before = server.Count("/encrypt/");

        server.Fault = new VaultTestServer.VaultFault(429, "rate limit quota exceeded", RetryAfter: TimeSpan.FromSeconds(7), PathContains: "/encrypt/");
        var error = await Assert.ThrowsAsync<DependencyUnavailableException>(async () => await provider.WrapAsync("dek"u8.ToArray()));
        server.Fault = null;

        Assert.Equal(TimeSpan.FromSeconds(7), error.RetryAfter);
        Assert.Equal(1, server.Count("/encrypt/") - before);
    }

    [VaultTestServerFact]
    public async Task Vault_rate_limiting_a_call_with_429_for_a_second_has_it_retried_and_answered()
    {
        var server = RequireTestServer();
        var (services, _) = await BuildAsync();
        var provider = services.GetRequiredService<IKeyProvider>();
        await provider.GetCurrentKeyAsync();
        var (limited, encrypted) = (server.Count("/encrypt/", 429), server.Count("/encrypt/", 200));

        server.Fault = new VaultTestServer.VaultFault(429, "rate limit quota exceeded", RetryAfter: TimeSpan.FromSeconds(1), PathContains: "/encrypt/");
        var lifted = Task.Run(async () =>
        {
            await Infrastructure.Eventually.HoldsAsync(() => server.Count("/encrypt/", 429) > limited);
            server.Fault = null;
        });
        var wrapped = await provider.WrapAsync("dek"u8.ToArray());
        await lifted;

        Assert.Equal("dek"u8.ToArray(), await provider.UnwrapAsync(wrapped));
        Assert.Equal(1, server.Count("/encrypt/", 429) - limited);
        Assert.Equal(1, server.Count("/encrypt/", 200) - encrypted);
    }

    [VaultTestServerFact]
    public async Task Vault_asking_again_for_a_wait_longer_than_the_time_the_call_has_left_ends_the_retries_with_its_retry_after()
    {
        var server = RequireTestServer();
        var (services, _) = await BuildAsync(o => o.Timeout = TimeSpan.FromSeconds(3));
        var provider = services.GetRequiredService<IKeyProvider>();
        await provider.GetCurrentKeyAsync();
        var before = server.Count("/encrypt/");

        // The first Retry-After (2 s) fits in the call's 3 s; the second no longer does, with 1 s left.
        server.Fault = new VaultTestServer.VaultFault(503, "Vault is sealed", RetryAfter: TimeSpan.FromSeconds(2), PathContains: "/encrypt/");
        var error = await Assert.ThrowsAsync<DependencyUnavailableException>(async () => await provider.WrapAsync("dek"u8.ToArray()));
        server.Fault = null;

        Assert.Contains("sealed", error.Message, StringComparison.Ordinal);
        Assert.Equal(TimeSpan.FromSeconds(2), error.RetryAfter);
        Assert.Equal(2, server.Count("/encrypt/") - before);
    }

    [VaultTestServerFact]
    public async Task A_retry_after_the_call_can_wait_is_waited_before_each_retry()
    {
        var server = RequireTestServer();
        var clock = new WaitRecordingClock();
        // An attempt timeout other than the Retry-After, so that the only waits of 1 s the call sets are its retries'.
        var (services, _) = await BuildAsync(o => (o.Timeout, o.AttemptTimeout) = (TimeSpan.FromSeconds(10), TimeSpan.FromSeconds(5)), time: clock);
        var provider = services.GetRequiredService<IKeyProvider>();
        await provider.GetCurrentKeyAsync();
        var (before, waited) = (server.Count("/encrypt/"), clock.Waits(TimeSpan.FromSeconds(1)));

        server.Fault = new VaultTestServer.VaultFault(503, "Vault is sealed", RetryAfter: TimeSpan.FromSeconds(1), PathContains: "/encrypt/");
        var wrap = provider.WrapAsync("dek"u8.ToArray()).AsTask();
        try
        {
            // The call's clock moves only when the test moves it: each retry is sent once it has moved by Vault's Retry-After.
            for (var retry = 1; retry <= Trousseau.Vault.Internal.VaultResilience.Retries; retry++)
            {
                await Infrastructure.Eventually.HoldsAsync(
                    () => clock.Waits(TimeSpan.FromSeconds(1)) - waited == retry, awaited: $"the call to wait Vault's Retry-After of 1 s before retry {retry}");
                Assert.True(server.Count("/encrypt/") - before <= retry, $"retry {retry} was sent before the call's clock reached Vault's Retry-After");
                clock.Advance(TimeSpan.FromSeconds(1));
            }
        }
        catch
        {
            // Past the call's 10 s: a call that waited otherwise ends, instead of holding the provider's disposal.
            clock.Advance(TimeSpan.FromSeconds(10));
            throw;
        }

        var error = await Assert.ThrowsAsync<DependencyUnavailableException>(() =>
            Infrastructure.Eventually.EndsAsync(wrap, awaited: "the call after its last retry on a sealed Vault"));
        server.Fault = null;

        Assert.Equal(TimeSpan.FromSeconds(1), error.RetryAfter);
        Assert.Equal(Trousseau.Vault.Internal.VaultResilience.Retries + 1, server.Count("/encrypt/") - before);
    }

    /// <summary>
    /// A <c>Retry-After</c> given as a date is the wait it names: a minute ahead, more than the call can wait, ends the
    /// retries and reaches the caller; a date already past asks for no wait (RFC 9110), so the call is retried at once,
    /// and the caller's error carries a wait of 0, as the remote client's does, rather than none.
    /// </summary>
    [VaultTestServerTheory]
    [InlineData(false, 50, 60, 1)]
    [InlineData(true, 0, 0, 1 + Trousseau.Vault.Internal.VaultResilience.Retries)]
    public async Task A_retry_after_given_as_a_date_is_the_wait_it_names_and_none_once_past(bool past, int fewestSeconds, int mostSeconds, int sent)
    {
        var server = RequireTestServer();
        var (services, _) = await BuildAsync(answers: new RetryAfterAsDate(past));
        var provider = services.GetRequiredService<IKeyProvider>();
        await provider.GetCurrentKeyAsync();
        var before = server.Count("/encrypt/");

        server.Fault = new VaultTestServer.VaultFault(429, "rate limit quota exceeded", RetryAfter: TimeSpan.FromSeconds(60), PathContains: "/encrypt/");
        var error = await Assert.ThrowsAsync<DependencyUnavailableException>(async () => await provider.WrapAsync("dek"u8.ToArray()));
        server.Fault = null;

        // A date is a whole second: a minute ahead is a minute from when the answer passed the proxy, less the time since.
        Assert.NotNull(error.RetryAfter);
        Assert.InRange(error.RetryAfter.Value, TimeSpan.FromSeconds(fewestSeconds), TimeSpan.FromSeconds(mostSeconds));
        Assert.Equal(sent, server.Count("/encrypt/") - before);
    }

    [VaultTestServerFact]
    public async Task A_standby_not_caught_up_answering_412_has_the_call_retried_and_answered()
    {
        var server = RequireTestServer();
        var (services, _) = await BuildAsync();
        var provider = services.GetRequiredService<IKeyProvider>();
        await provider.GetCurrentKeyAsync();
        var (refused, encrypted) = (server.Count("/encrypt/", 412), server.Count("/encrypt/", 200));

        // Vault's answer from a node that has not yet caught up with the index state a request asks for.
        server.FailNext(1, 412, "required index state not present");
        var wrapped = await provider.WrapAsync("dek"u8.ToArray());

        Assert.Equal("dek"u8.ToArray(), await provider.UnwrapAsync(wrapped));
        Assert.Equal(1, server.Count("/encrypt/", 412) - refused);
        Assert.Equal(1, server.Count("/encrypt/", 200) - encrypted);
    }

    [VaultTestServerFact]
    public async Task An_attempt_vault_leaves_unanswered_past_the_attempt_timeout_is_sent_again_and_answered()
    {
        var server = RequireTestServer();
        var clock = new FakeTimeProvider(DateTimeOffset.UtcNow);
        var (services, _) = await BuildAsync(o => (o.Timeout, o.AttemptTimeout) = (TimeSpan.FromMinutes(1), TimeSpan.FromSeconds(20)), time: clock);
        var provider = services.GetRequiredService<IKeyProvider>();
        await provider.GetCurrentKeyAsync();
        var held = server.Held;
        var release = new TaskCompletionSource();
        server.Hold = new VaultTestServer.VaultHold("/encrypt/", release.Task);

        var wrap = provider.WrapAsync("dek"u8.ToArray()).AsTask();
        await Infrastructure.Eventually.HoldsAsync(() => server.Held > held, awaited: "the first encrypt to reach Vault");
        server.Hold = null;
        clock.Advance(TimeSpan.FromSeconds(20));
        // The backoff before the retry is jittered: the clock moves on in steps of 10 ms, far below the retry's own
        // attempt timeout, until the call ends.
        await Infrastructure.Eventually.HoldsAsync(
            () =>
            {
                clock.Advance(TimeSpan.FromMilliseconds(10));
                return wrap.IsCompleted;
            },
            awaited: "the call to end after its first attempt timed out");
        release.SetResult();

        // Answered by the retry: the first request was still held when the call ended.
        Assert.Equal("dek"u8.ToArray(), await provider.UnwrapAsync(await wrap));
    }

    [VaultTestServerFact]
    public async Task A_call_whose_every_attempt_vault_leaves_unanswered_names_the_attempt_timeout_not_the_call_s_timeout()
    {
        var server = RequireTestServer();
        var clock = new FakeTimeProvider(DateTimeOffset.UtcNow);
        var (services, _) = await BuildAsync(o => (o.Timeout, o.AttemptTimeout) = (TimeSpan.FromMinutes(5), TimeSpan.FromSeconds(20)), time: clock);
        var provider = services.GetRequiredService<IKeyProvider>();
        await provider.GetCurrentKeyAsync();
        var seen = server.Held;
        var release = new TaskCompletionSource();
        server.Hold = new VaultTestServer.VaultHold("/encrypt/", release.Task);

        var wrap = provider.WrapAsync("dek"u8.ToArray()).AsTask();
        // Each attempt, once Vault holds it, is let run past its attempt timeout; the jittered backoffs between them
        // pass in steps of 10 ms. Three attempts take a minute of the call's five.
        await Infrastructure.Eventually.HoldsAsync(
            () =>
            {
                if (server.Held > seen)
                {
                    seen = server.Held;
                    clock.Advance(TimeSpan.FromSeconds(20));
                }
                else
                {
                    clock.Advance(TimeSpan.FromMilliseconds(10));
                }

                return wrap.IsCompleted;
            },
            awaited: "the call to end after every attempt timed out");
        release.SetResult();

        var failure = await Assert.ThrowsAsync<DependencyUnavailableException>(() => wrap);
        Assert.Contains("within 20 s", failure.Message, StringComparison.Ordinal);
        Assert.Contains("Trousseau:Vault:AttemptTimeout", failure.Message, StringComparison.Ordinal);
        Assert.DoesNotContain("300 s", failure.Message, StringComparison.Ordinal);
    }

    [VaultTestServerFact]
    public async Task A_login_and_a_key_rotation_slower_than_the_attempt_timeout_are_waited_for_and_sent_once()
    {
        var server = RequireTestServer();
        var clock = new FakeTimeProvider(DateTimeOffset.UtcNow);
        var (roleId, secretId) = ("role-id-" + Guid.NewGuid().ToString("N"), "secret-id-" + Guid.NewGuid().ToString("N"));
        server.AddAppRole(roleId, secretId);
        var (services, _) = await BuildAsync(
            o =>
            {
                (o.Auth.Method, o.Auth.RoleId, o.Auth.SecretId) = ("approle", roleId, secretId);
                (o.Timeout, o.AttemptTimeout) = (TimeSpan.FromMinutes(1), TimeSpan.FromSeconds(1));
            },
            time: clock);
        var provider = services.GetRequiredService<IKeyProvider>();
        var (logins, rotations) = (server.Count("auth/approle/login"), server.Count("/rotate"));

        var wrapped = await AnsweredAfterTheAttemptTimeoutAsync(server, clock, "auth/approle/login", () => provider.WrapAsync("dek"u8.ToArray()).AsTask());
        var rotated = await AnsweredAfterTheAttemptTimeoutAsync(server, clock, "/rotate", () => provider.RotateAsync().AsTask());

        Assert.Equal("dek"u8.ToArray(), await provider.UnwrapAsync(wrapped));
        Assert.Equal(2u, rotated.Version);
        Assert.Equal(1, server.Count("auth/approle/login") - logins);
        Assert.Equal(1, server.Count("/rotate") - rotations);
    }

    [VaultTestServerFact]
    public async Task Kubernetes_auth_with_a_5_second_ttl_survives_a_minute_of_traffic_without_vault_refusing_a_token()
    {
        var server = RequireTestServer();
        var clock = new FakeTimeProvider(DateTimeOffset.UtcNow);
        server.Clock = clock;
        var (refusedBefore, loginsBefore, renewalsBefore) = (server.Count("transit/", 403), server.Count("auth/kubernetes/login", 200), server.Count("renew-self", 200));
        using var jwtDirectory = new Infrastructure.TempDirectory();
        var jwtFile = jwtDirectory.Combine("token");
        await File.WriteAllTextAsync(jwtFile, "jwt-1");
        server.AddKubernetesRole("trousseau", "jwt-1", TimeSpan.FromSeconds(5), TimeSpan.FromSeconds(20));
        // Vault's timeouts run on the same clock, which the loop moves 200 ms per call whatever a renewal or login in
        // the background is doing. With the default 2 s, a login that a busy machine kept waiting for ten calls was cut
        // off on the client after the server had answered it, and the two sides' counts never met. Five minutes is
        // more than the loop moves the clock.
        var (services, _) = await BuildAsync(o =>
        {
            o.Auth.Method = "kubernetes";
            o.Auth.Role = "trousseau";
            o.Auth.JwtFile = jwtFile;
            o.Timeout = o.AttemptTimeout = TimeSpan.FromMinutes(5);
        }, time: clock);
        var provider = services.GetRequiredService<IKeyProvider>();
        var meters = services.GetRequiredService<IMeterFactory>();
        using var renewals = new MetricCollector<long>(meters, TrousseauDiagnostics.MeterName, "trousseau.vault.token.renewals");
        using var logins = new MetricCollector<long>(meters, TrousseauDiagnostics.MeterName, "trousseau.vault.token.logins");
        using var ttls = new MetricCollector<double>(meters, TrousseauDiagnostics.MeterName, "trousseau.vault.token.ttl");

        // A minute of traffic, a call every 200 ms, on the clock Vault's token TTLs and the provider share.
        for (var calls = 1; calls <= 300; calls++)
        {
            Assert.Equal("dek"u8.ToArray(), await provider.UnwrapAsync(await provider.WrapAsync("dek"u8.ToArray())));
            if (calls == 50)
            {
                // Projected service-account tokens rotate: the next login must read the new one. Vault admits a token
                // from the moment kubelet writes it, so it learns the new one first: the other way round, a login
                // running beside the loop could send it in between and be refused.
                server.AddKubernetesRole("trousseau", "jwt-2", TimeSpan.FromSeconds(5), TimeSpan.FromSeconds(20));
                await File.WriteAllTextAsync(jwtFile, "jwt-2");
            }

            ttls.RecordObservableInstruments();
            clock.Advance(TimeSpan.FromMilliseconds(200));
        }

        // The last renewal or login may still run beside the calls: wait until both sides have counted it. Renewal and
        // re-login ahead of expiry mean Vault never had to refuse the token of a call: a re-login after a 403 would hide
        // an expired token, so the server's 403s on the calls' Transit paths are counted. Not those of a renewal or
        // revocation in the background: the loop moves the clock 200 ms while such a request may be on its way, so
        // Vault can see it after the token's end where no real clock would (a renewal Vault refuses is followed by a
        // login, which the counts above hold).
        var tokens = services.GetRequiredService<Trousseau.Vault.Internal.VaultTokenSource>();
        await Infrastructure.Eventually.HoldsAsync(() =>
            tokens.Logins == server.Count("auth/kubernetes/login", 200) - loginsBefore && tokens.Renewals == server.Count("renew-self", 200) - renewalsBefore
            && tokens.Logins == logins.GetMeasurementSnapshot().EvaluateAsCounter() && tokens.Renewals == renewals.GetMeasurementSnapshot().EvaluateAsCounter());
        Assert.Equal(0, server.Count("transit/", 403) - refusedBefore);
        Assert.True(tokens.Renewals >= 3, $"renewals: {tokens.Renewals}");
        Assert.True(tokens.Logins >= 3, $"logins: {tokens.Logins}");
        Assert.Equal(tokens.Renewals, renewals.GetMeasurementSnapshot().EvaluateAsCounter());
        Assert.Equal(tokens.Logins, logins.GetMeasurementSnapshot().EvaluateAsCounter());
        var observed = ttls.GetMeasurementSnapshot();
        Assert.NotEmpty(observed);
        Assert.All(observed, ttl =>
        {
            Assert.InRange(ttl.Value, 0, 5.5);
            Assert.Equal("kubernetes", ttl.Tags["trousseau.vault.auth.method"]);
            Assert.Equal(server.Address.Host, ttl.Tags["server.address"]);
            Assert.Equal(server.Address.Port, ttl.Tags["server.port"]);
        });
    }

    [VaultTestServerFact]
    public async Task Revoked_tokens_are_replaced_by_a_new_login_and_approle_works()
    {
        var server = RequireTestServer();
        var (refused, logins) = (server.Count("", 403), server.Count("auth/approle/login", 200));
        var provider = await AppRoleProviderAsync(server, "role-id-1", "secret-id-1");
        await provider.WrapAsync("dek"u8.ToArray());

        server.RevokeAllTokens();

        Assert.Equal("dek"u8.ToArray(), await provider.UnwrapAsync(await provider.WrapAsync("dek"u8.ToArray())));
        Assert.Equal(1, server.Count("", 403) - refused);
        Assert.Equal(2, server.Count("auth/approle/login", 200) - logins);
    }

    [VaultTestServerFact]
    public async Task A_policy_that_still_denies_the_key_after_a_fresh_login_is_forbidden_not_unavailable()
    {
        var server = RequireTestServer();
        var keyName = VaultTarget.UniqueKeyName();
        await _vault.CreateKeyAsync(keyName);
        server.Forbid($"transit/encrypt/{keyName}");
        var logins = server.Count("auth/approle/login", 200);
        var provider = await AppRoleProviderAsync(server, "role-id-policy", "secret-id-policy", keyName);

        var refused = await Assert.ThrowsAsync<AccessForbiddenException>(async () => await provider.WrapAsync("dek"u8.ToArray()));

        Assert.Contains("permission denied", refused.Message, StringComparison.Ordinal);
        Assert.Equal(2, server.Count($"transit/encrypt/{keyName}", 403));
        Assert.Equal(2, server.Count("auth/approle/login", 200) - logins);
    }

    [VaultTestServerFact]
    public async Task Calls_a_vault_policy_denies_log_in_again_once_not_each_and_are_served_as_soon_as_the_policy_allows_them()
    {
        var (server, clock, keyName, provider) = await LoggedInAppRoleProviderAsync();
        var logins = server.Count("auth/approle/login", 200);

        // A policy without Transit encrypt on the key: every call is refused, and only the first logs in again to see
        // whether a fresh token is allowed; the others do not each make Vault issue one more token.
        server.Forbid($"transit/encrypt/{keyName}");
        for (var call = 0; call < 5; call++)
        {
            await Assert.ThrowsAsync<AccessForbiddenException>(async () => await provider.WrapAsync("dek"u8.ToArray()));
        }

        var loginsWhileDenied = server.Count("auth/approle/login", 200) - logins;

        // Once the backoff has passed a refused call logs in again, since a role given the policy since issues tokens
        // that carry it; once the policy allows the call, the token in hand is served at once.
        clock.Advance(TimeSpan.FromSeconds(1));
        await Assert.ThrowsAsync<AccessForbiddenException>(async () => await provider.WrapAsync("dek"u8.ToArray()));
        var loginsAfterBackoff = server.Count("auth/approle/login", 200) - logins;
        server.Allow($"transit/encrypt/{keyName}");
        await provider.UnwrapAsync(await provider.WrapAsync("dek"u8.ToArray()));

        Assert.Equal(1, loginsWhileDenied);
        Assert.Equal(2, loginsAfterBackoff);
        Assert.Equal(2, server.Count("auth/approle/login", 200) - logins);
    }

    [VaultTestServerFact]
    public async Task Calls_a_vault_policy_denies_during_the_backoff_share_one_lookup_of_the_token_not_one_each()
    {
        var (server, _, keyName, provider) = await LoggedInAppRoleProviderAsync();
        server.Forbid($"transit/encrypt/{keyName}");
        await Assert.ThrowsAsync<AccessForbiddenException>(async () => await provider.WrapAsync("dek"u8.ToArray()));
        var lookups = server.Count("auth/token/lookup-self");

        // Under load, many calls are refused within the same backoff: checking that Vault still knows the token takes
        // one lookup, not one more Vault request per refused call.
        await Task.WhenAll(Enumerable.Range(0, 8).Select(_ => Assert.ThrowsAsync<AccessForbiddenException>(async () => await provider.WrapAsync("dek"u8.ToArray()))));
        for (var call = 0; call < 4; call++)
        {
            await Assert.ThrowsAsync<AccessForbiddenException>(async () => await provider.WrapAsync("dek"u8.ToArray()));
        }

        Assert.Equal(1, server.Count("auth/token/lookup-self") - lookups);
    }

    [VaultTestServerFact]
    public async Task A_token_revoked_in_vault_while_a_policy_denial_is_waited_out_is_replaced_by_a_login_at_the_next_call()
    {
        var (server, clock, keyName, provider) = await LoggedInAppRoleProviderAsync();

        // A policy without Transit encrypt on the key: refusals in a row, each backoff waited out, bring it to 16 s.
        server.Forbid($"transit/encrypt/{keyName}");
        foreach (var backoff in new[] { 1, 2, 4, 8 })
        {
            await Assert.ThrowsAsync<AccessForbiddenException>(async () => await provider.WrapAsync("dek"u8.ToArray()));
            clock.Advance(TimeSpan.FromSeconds(backoff));
        }

        await Assert.ThrowsAsync<AccessForbiddenException>(async () => await provider.WrapAsync("dek"u8.ToArray()));
        var logins = server.Count("auth/approle/login", 200);

        // The operator gives the role the policy and revokes the tokens it issued before, so that clients log in for
        // one that carries it: Vault answers 403 to the revoked token, as to a denied one.
        server.Allow($"transit/encrypt/{keyName}");
        server.RevokeAllTokens();
        var wrapped = await provider.WrapAsync("dek"u8.ToArray());

        Assert.Equal("dek"u8.ToArray(), await provider.UnwrapAsync(wrapped));
        Assert.Equal(1, server.Count("auth/approle/login", 200) - logins);
    }

    [VaultTestServerFact]
    public async Task A_denied_token_that_cannot_look_itself_up_still_waits_out_the_backoff_without_a_login_per_call()
    {
        var (server, clock, keyName, provider) = await LoggedInAppRoleProviderAsync();

        // A role whose tokens lack the default policy: Vault refuses their lookup-self as it refuses a revoked token's,
        // so the refusal of a lookup tells nothing, and calls the policy denies do not each log in.
        server.Forbid("auth/token/lookup-self");
        server.Forbid($"transit/encrypt/{keyName}");
        var logins = server.Count("auth/approle/login", 200);
        try
        {
            for (var call = 0; call < 5; call++)
            {
                await Assert.ThrowsAsync<AccessForbiddenException>(async () => await provider.WrapAsync("dek"u8.ToArray()));
            }
        }
        finally
        {
            server.Allow("auth/token/lookup-self");
        }

        Assert.Equal(1, server.Count("auth/approle/login", 200) - logins);
    }

    [VaultTestServerFact]
    public async Task A_batch_decrypt_vault_fails_with_a_500_of_its_own_is_retried_then_unavailable_naming_vaults_error()
    {
        var server = RequireTestServer();
        var (services, _) = await BuildAsync();
        var provider = services.GetRequiredService<VaultTransitKeyProvider>();
        var wrapped = (await provider.WrapBatchAsync(["dek"u8.ToArray()])).Single().Value!;
        var before = server.Count("/decrypt/", 500);

        server.Fault = new VaultTestServer.VaultFault(500, "internal error", PathContains: "/decrypt/");
        try
        {
            var error = await Assert.ThrowsAsync<DependencyUnavailableException>(async () => await provider.UnwrapBatchAsync([wrapped]));

            Assert.Matches("^Vault answered 500 to v1/transit/decrypt/[^:]+: internal error$", error.Message);
            Assert.Equal(3, server.Count("/decrypt/", 500) - before);
        }
        finally
        {
            server.Fault = null;
        }
    }

    [VaultTestServerTheory]
    [InlineData("datakey/plaintext/", """{"data":{"plaintext":"not base64!","ciphertext":"vault:v1:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"}}""")]
    [InlineData("decrypt/", """{"data":{"batch_results":[{"plaintext":"not base64!"}]}}""")]
    public async Task A_vault_answer_with_malformed_base64_is_unavailable_not_a_crash(string path, string body)
    {
        var server = RequireTestServer();
        var (services, _) = await BuildAsync();
        var provider = services.GetRequiredService<VaultTransitKeyProvider>();
        var wrapped = await provider.WrapAsync("dek"u8.ToArray());

        server.Fault = new VaultTestServer.VaultFault(200, "", PathContains: path, Body: body);
        try
        {
            var error = path.StartsWith("datakey", StringComparison.Ordinal)
                ? await Assert.ThrowsAsync<DependencyUnavailableException>(async () => await provider.GenerateDataKeyAsync())
                : await Assert.ThrowsAsync<DependencyUnavailableException>(async () => await provider.UnwrapBatchAsync([wrapped]));

            Assert.Contains("not what its API documents", error.Message, StringComparison.Ordinal);
        }
        finally
        {
            server.Fault = null;
        }
    }

    [Fact]
    public async Task A_token_vault_refuses_makes_vault_unavailable_and_its_value_appears_in_no_error()
    {
        const string Wrong = "hvs.definitely-not-a-valid-token";
        var (services, _) = await BuildAsync(o => o.Auth.Token = Wrong);
        var provider = services.GetRequiredService<IKeyProvider>();

        var error = await Assert.ThrowsAsync<DependencyUnavailableException>(async () => await provider.WrapAsync("dek"u8.ToArray()));

        Assert.Contains("Vault refused Trousseau's token credentials", error.Message, StringComparison.Ordinal);
        Assert.IsType<AccessForbiddenException>(error.InnerException);
        Assert.DoesNotContain(Wrong, error.ToString(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_secret_write_is_one_trace_through_the_store_the_key_provider_and_vault_without_its_value()
    {
        const string Value = "trace-canary-c41d07";
        var (services, _) = await BuildAsync();
        var trousseau = services.GetRequiredService<ITrousseau>();
        using var recorder = new Infrastructure.TraceRecorder();
        using (recorder.StartRoot())
        {
            await trousseau.CreateSecretAsync("traced/db", SecretType.Opaque, new Dictionary<string, string> { ["password"] = Value });
        }

        var trace = recorder.Spans;

        var create = trace.Single(a => a.OperationName == "trousseau.secret.create");
        var store = trace.Single(a => a.OperationName == "trousseau.store.create");
        var wrap = trace.Single(a => a.OperationName == "trousseau.keyprovider.wrap");
        var vault = trace.Single(a => a.ParentSpanId == wrap.SpanId && ((string?)a.GetTagItem("url.path"))?.Contains("/transit/encrypt/", StringComparison.Ordinal) == true);
        Assert.Equal(create.SpanId, store.ParentSpanId);
        Assert.Equal(create.SpanId, wrap.ParentSpanId);
        Assert.Equal("memory", store.GetTagItem("db.system.name"));
        Assert.Equal("vault", wrap.GetTagItem("trousseau.key_provider"));
        Assert.Equal("trousseau.vault.request", vault.OperationName);
        Assert.Equal(ActivityKind.Client, vault.Kind);
        Assert.Equal(200, vault.GetTagItem("http.response.status_code"));
        var tagValues = trace.SelectMany(a => a.TagObjects).Select(t => t.Value?.ToString() ?? "").ToList();
        Assert.DoesNotContain(tagValues, v => v.Contains(Value, StringComparison.Ordinal) || v.Contains("traced/db", StringComparison.Ordinal));
    }

    /// <summary>The exact form of a Vault key id: <c>vault-</c>, 16 lowercase hex digits, <c>-v</c> and the version.</summary>
    private static string KeyIdShape(uint version) => $"^vault-[0-9a-f]{{16}}-v{version}$";

    private VaultTestServer RequireTestServer() => _vault.RequireTestServer();

    /// <summary>A provider logged in with a role and secret id of its own, on a new key, whose clock the test moves.</summary>
    private async Task<(VaultTestServer Server, FakeTimeProvider Clock, string KeyName, IKeyProvider Provider)> LoggedInAppRoleProviderAsync()
    {
        var server = RequireTestServer();
        var clock = new FakeTimeProvider(DateTimeOffset.UtcNow);
        var keyName = VaultTarget.UniqueKeyName();
        await _vault.CreateKeyAsync(keyName);
        var provider = await AppRoleProviderAsync(server, "role-id-" + Guid.NewGuid().ToString("N"), "secret-id-" + Guid.NewGuid().ToString("N"), keyName, clock);
        await provider.GetCurrentKeyAsync();
        return (server, clock, keyName, provider);
    }

    /// <summary>
    /// The Vault key provider signed in with AppRole, the role and secret id made known to the test server first, on
    /// <paramref name="time"/> when given.
    /// </summary>
    private async Task<IKeyProvider> AppRoleProviderAsync(VaultTestServer server, string roleId, string secretId, string? keyName = null, TimeProvider? time = null)
    {
        server.AddAppRole(roleId, secretId);
        var (services, _) = await BuildAsync(
            o =>
            {
                o.Auth.Method = "approle";
                o.Auth.RoleId = roleId;
                o.Auth.SecretId = secretId;
            },
            keyName,
            time);
        return services.GetRequiredService<IKeyProvider>();
    }

    /// <summary>Creates a Transit key with <paramref name="settings"/>, as <c>vault write transit/keys/NAME type=...</c> would.</summary>
    private async Task CreateKeyAsync(string keyName, JsonObject settings)
    {
        var (status, body) = await _vault.SendAsync(HttpMethod.Post, $"transit/keys/{keyName}", settings);
        Assert.True(status == HttpStatusCode.OK, $"{status}: {body}");
    }

    /// <summary>A provider over <paramref name="keyName"/>, or over a new key of its own when none is given.</summary>
    /// <remarks><paramref name="answers"/>, when given, sees every request to Vault and its answer.</remarks>
    /// <remarks><paramref name="storePath"/>, when given, is a SQLite store that outlives the provider; else the store is in memory.</remarks>
    private async Task<(ServiceProvider Services, List<string> TransitCalls)> BuildAsync(Action<VaultOptions>? configure = null, string? keyName = null, TimeProvider? time = null, DelegatingHandler? answers = null, string? storePath = null)
    {
        if (keyName is null)
        {
            keyName = VaultTarget.UniqueKeyName();
            await _vault.CreateKeyAsync(keyName);
        }

        var calls = new List<string>();
        var services = new ServiceCollection();
        if (time is not null)
        {
            services.AddSingleton(time);
        }

        var builder = services.AddTrousseau(_ => { })
            .UseVaultTransit(o =>
            {
                o.Address = _vault.Address;
                o.KeyName = keyName;
                o.Auth.Token = _vault.Token;
                configure?.Invoke(o);
            });
        if (storePath is null)
        {
            builder.UseInMemoryStore();
        }
        else
        {
            builder.UseSqliteStore(o => o.Path = storePath);
        }

        services.AddHttpClient("Trousseau.Vault").AddHttpMessageHandler(() => new CountingHandler(calls));
        if (answers is not null)
        {
            services.AddHttpClient("Trousseau.Vault").AddHttpMessageHandler(() => answers);
        }

        var provider = services.BuildServiceProvider();
        _providers.Add(provider);
        return (provider, calls);
    }

    /// <summary>
    /// Holds Vault's answer to the first read of the Transit key (<c>GET transit/keys/NAME</c>) until the test lets it
    /// go, as a slow network would: Vault answers at once, and the provider sees the answer late.
    /// </summary>
    private sealed class LateKeyReadHandler : DelegatingHandler
    {
        private readonly TaskCompletionSource _answered = new(TaskCreationOptions.RunContinuationsAsynchronously);
        private readonly TaskCompletionSource _release = new(TaskCreationOptions.RunContinuationsAsynchronously);
        private int _reads;

        /// <summary>Completes once Vault has answered the first read.</summary>
        public Task Answered => _answered.Task;

        /// <summary>Hands the held answer to the provider.</summary>
        public void Release() => _release.TrySetResult();

        protected override async Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
        {
            var response = await base.SendAsync(request, cancellationToken);
            if (request.Method == HttpMethod.Get && request.RequestUri!.AbsolutePath.Contains("/transit/keys/", StringComparison.Ordinal) && Interlocked.Increment(ref _reads) == 1)
            {
                await response.Content.LoadIntoBufferAsync(cancellationToken);
                _answered.SetResult();
                await _release.Task.WaitAsync(cancellationToken);
            }

            return response;
        }
    }

    /// <summary>
    /// Runs <paramref name="call"/> while Vault holds its request to <paramref name="path"/>, moves the call's clock
    /// 2 s on, past a 1 s attempt timeout and within a 1 min call timeout, then lets Vault answer.
    /// </summary>
    private static async Task<T> AnsweredAfterTheAttemptTimeoutAsync<T>(VaultTestServer server, FakeTimeProvider clock, string path, Func<Task<T>> call)
    {
        var release = new TaskCompletionSource();
        var held = server.Held;
        server.Hold = new VaultTestServer.VaultHold(path, release.Task);
        var running = call();
        await Infrastructure.Eventually.HoldsAsync(() => server.Held > held, awaited: $"the request to {path} to reach Vault");
        server.Hold = null;
        clock.Advance(TimeSpan.FromSeconds(2));
        release.SetResult();
        try
        {
            return await Infrastructure.Eventually.EndsAsync(running, awaited: $"the call whose request to {path} Vault answered after the attempt timeout");
        }
        catch
        {
            // Past the call's Vault:Timeout: a call still waiting on the clock ends, instead of holding the provider's disposal.
            clock.Advance(TimeSpan.FromMinutes(1));
            throw;
        }
    }

    /// <summary>A fake clock that keeps how long each one-shot timer set on it was to wait.</summary>
    private sealed class WaitRecordingClock() : FakeTimeProvider(DateTimeOffset.UtcNow)
    {
        private readonly List<TimeSpan> _waits = [];

        /// <summary>How many one-shot timers of exactly <paramref name="wait"/> were set so far.</summary>
        public int Waits(TimeSpan wait)
        {
            lock (_waits)
            {
                return _waits.Count(w => w == wait);
            }
        }

        public override ITimer CreateTimer(TimerCallback callback, object? state, TimeSpan dueTime, TimeSpan period)
        {
            if (period == global::System.Threading.Timeout.InfiniteTimeSpan)
            {
                lock (_waits)
                {
                    _waits.Add(dueTime);
                }
            }

            return base.CreateTimer(callback, state, dueTime, period);
        }
    }

    /// <summary>
    /// Gives Vault's <c>Retry-After</c> as the date it names (RFC 9110, section 10.2.3), as a proxy in front of Vault may;
    /// <paramref name="past"/>: as a date that long ago instead.
    /// </summary>
    private sealed class RetryAfterAsDate(bool past) : DelegatingHandler
    {
        protected override async Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
        {
            var response = await base.SendAsync(request, cancellationToken);
            if (response.Headers.RetryAfter?.Delta is { } delta)
            {
                response.Headers.RetryAfter = new System.Net.Http.Headers.RetryConditionHeaderValue(DateTimeOffset.UtcNow + (past ? -delta : delta));
            }

            return response;
        }
    }

    /// <summary>Records every Transit encrypt or decrypt request that leaves the process.</summary>
    private sealed class CountingHandler(List<string> calls) : DelegatingHandler
    {
        protected override Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
        {
            var path = request.RequestUri!.AbsolutePath;
            if (path.Contains("/encrypt/", StringComparison.Ordinal) || path.Contains("/decrypt/", StringComparison.Ordinal))
            {
                lock (calls)
                {
                    calls.Add(path);
                }
            }

            return base.SendAsync(request, cancellationToken);
        }
    }
}
