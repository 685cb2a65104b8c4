using System.Globalization;
using System.Net;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace Trousseau.Tests.Integration.Vault;

/// <summary>
/// Vault's documented HTTP API as Trousseau's Vault provider meets it, request by request: statuses, error texts and
/// the shape of every answer. Against the in-repo <see cref="VaultTestServer"/> these check that the stand-in answers
/// as Vault does; with <c>VAULT_ADDR</c> and <c>VAULT_TOKEN</c> set they run against the real Vault (but for those
/// marked <see cref="VaultTestServerFactAttribute"/>), so a difference between the two shows as a failure here.
/// </summary>
public sealed class VaultApiShapeTests(VaultFixture fixture) : IClassFixture<VaultFixture>
{
    private static readonly string[] EnvelopeFields = ["request_id", "lease_id", "renewable", "lease_duration", "data", "wrap_info", "warnings", "auth", "mount_type"];

    private readonly VaultTarget _vault = fixture.ForNextTest();

    [Fact]
    public async Task A_data_key_takes_128_256_or_512_bits_and_its_wrapped_form_answers_no_plaintext()
    {
        var key = await NewKeyAsync();

        var (refused, refusal) = await _vault.SendAsync(HttpMethod.Post, $"transit/datakey/plaintext/{key}", new JsonObject { ["bits"] = 100 });
        var (_, wrapped) = await _vault.SendAsync(HttpMethod.Post, $"transit/datakey/wrapped/{key}", new JsonObject { ["bits"] = 512 });
        var (_, plain) = await _vault.SendAsync(HttpMethod.Post, $"transit/datakey/plaintext/{key}", new JsonObject { ["bits"] = 128 });

        Assert.Equal(HttpStatusCode.BadRequest, refused);
        Assert.Equal(["invalid bit length"], Errors(refusal));
        Assert.Equal(["ciphertext", "key_version"], Fields(wrapped!.Value.GetProperty("data")));
        Assert.Equal(1, wrapped.Value.GetProperty("data").GetProperty("key_version").GetInt32());
        Assert.Equal(16, Convert.FromBase64String(plain!.Value.GetProperty("data").GetProperty("plaintext").GetString()!).Length);
    }

    [Fact]
    public async Task Decrypt_tells_a_ciphertext_too_short_for_its_nonce_from_one_whose_tag_fails()
    {
        var key = await NewKeyAsync();

        var (shortStatus, tooShort) = await DecryptAsync(key, "vault:v1:" + Convert.ToBase64String(new byte[11]));
        var (forgedStatus, forged) = await DecryptAsync(key, "vault:v1:" + Convert.ToBase64String(new byte[20]));

        Assert.Equal(HttpStatusCode.BadRequest, shortStatus);
        Assert.Equal(["invalid ciphertext length"], Errors(tooShort));
        Assert.Equal(HttpStatusCode.BadRequest, forgedStatus);
        Assert.Equal(["cipher: message authentication failed"], Errors(forged));
    }

    [Fact]
    public async Task A_missing_ciphertext_is_refused_before_the_key_is_looked_up()
    {
        var missingKey = VaultTarget.UniqueKeyName();

        var (decryptStatus, decrypt) = await _vault.SendAsync(HttpMethod.Post, $"transit/decrypt/{missingKey}", []);
        var (rewrapStatus, rewrap) = await _vault.SendAsync(HttpMethod.Post, $"transit/rewrap/{missingKey}", []);
        var (unknownStatus, unknown) = await DecryptAsync(missingKey, "vault:v1:AAAA");

        Assert.Equal(HttpStatusCode.BadRequest, decryptStatus);
        Assert.Equal(["missing ciphertext to decrypt"], Errors(decrypt));
        Assert.Equal(HttpStatusCode.BadRequest, rewrapStatus);
        Assert.Equal(["missing ciphertext to decrypt"], Errors(rewrap));
        Assert.Equal(HttpStatusCode.BadRequest, unknownStatus);
        Assert.Equal(["encryption key not found"], Errors(unknown));
    }

    [Fact]
    public async Task Plaintext_that_is_not_base64_is_refused_with_the_offset_of_the_bad_byte()
    {
        var key = await NewKeyAsync();

        var (status, body) = await _vault.SendAsync(HttpMethod.Post, $"transit/encrypt/{key}", new JsonObject { ["plaintext"] = "abc!" });

        Assert.Equal(HttpStatusCode.BadRequest, status);
        Assert.Equal(["illegal base64 data at input byte 3"], Errors(body));
    }

    [Fact]
    public async Task Batch_results_carry_each_items_reference_and_a_failed_decrypt_keeps_an_empty_plaintext()
    {
        var key = await NewKeyAsync();
        var (_, encrypted) = await _vault.SendAsync(HttpMethod.Post, $"transit/encrypt/{key}", new JsonObject
        {
            ["batch_input"] = new JsonArray(new JsonObject { ["plaintext"] = "b25l", ["reference"] = "first" }, new JsonObject { ["plaintext"] = "dHdv" }),
        });
        var sealedItems = encrypted!.Value.GetProperty("data").GetProperty("batch_results").EnumerateArray().ToList();

        var (status, decrypted) = await _vault.SendAsync(HttpMethod.Post, $"transit/decrypt/{key}", new JsonObject
        {
            ["batch_input"] = new JsonArray(
                new JsonObject { ["ciphertext"] = sealedItems[0].GetProperty("ciphertext").GetString(), ["reference"] = "good" },
                new JsonObject { ["ciphertext"] = "vault:v1:" + Convert.ToBase64String(new byte[40]), ["reference"] = "forged" }),
        });
        var opened = decrypted!.Value.GetProperty("data").GetProperty("batch_results").EnumerateArray().ToList();

        Assert.Equal(["ciphertext", "key_version", "reference"], Fields(sealedItems[0]));
        Assert.Equal("first", sealedItems[0].GetProperty("reference").GetString());
        Assert.Equal("", sealedItems[1].GetProperty("reference").GetString());
        Assert.Equal(1, sealedItems[1].GetProperty("key_version").GetInt32());
        Assert.Equal(HttpStatusCode.BadRequest, status);
        Assert.Equal(["plaintext", "reference"], Fields(opened[0]));
        Assert.Equal("b25l", opened[0].GetProperty("plaintext").GetString());
        Assert.Equal(["error", "plaintext", "reference"], Fields(opened[1]));
        Assert.Equal("", opened[1].GetProperty("plaintext").GetString());
        Assert.Equal("forged", opened[1].GetProperty("reference").GetString());
        Assert.Equal("cipher: message authentication failed", opened[1].GetProperty("error").GetString());
    }

    [Fact]
    public async Task A_partial_batch_failure_answers_the_status_asked_for_and_a_total_one_still_400()
    {
        var key = await NewKeyAsync();
        var good = new JsonObject { ["plaintext"] = "b25l" };

        var (partial, _) = await _vault.SendAsync(HttpMethod.Post, $"transit/encrypt/{key}", new JsonObject
        {
            ["partial_failure_response_code"] = 207,
            ["batch_input"] = new JsonArray(good, new JsonObject { ["plaintext"] = "abc!" }),
        });
        var (total, _) = await _vault.SendAsync(HttpMethod.Post, $"transit/encrypt/{key}", new JsonObject
        {
            ["partial_failure_response_code"] = 207,
            ["batch_input"] = new JsonArray(new JsonObject { ["plaintext"] = "abc!" }),
        });

        Assert.Equal((HttpStatusCode)207, partial);
        Assert.Equal(HttpStatusCode.BadRequest, total);
    }

    [Fact]
    public async Task A_batch_item_without_its_field_fails_the_whole_request()
    {
        var key = await NewKeyAsync();

        var (status, body) = await _vault.SendAsync(HttpMethod.Post, $"transit/encrypt/{key}", new JsonObject
        {
            ["batch_input"] = new JsonArray(new JsonObject { ["plaintext"] = "b25l" }, new JsonObject { ["reference"] = "no plaintext" }),
        });

        Assert.Equal(HttpStatusCode.InternalServerError, status);
        Assert.Contains("'[1].plaintext' missing plaintext to encrypt", Assert.Single(Errors(body)), StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_transit_operation_read_with_a_method_it_has_no_handler_for_is_405()
    {
        var key = await NewKeyAsync();

        var (encrypt, body) = await _vault.SendAsync(HttpMethod.Get, $"transit/encrypt/{key}");
        var (rotate, _) = await _vault.SendAsync(HttpMethod.Get, $"transit/keys/{key}/rotate");

        Assert.Equal(HttpStatusCode.MethodNotAllowed, encrypt);
        Assert.Contains("unsupported operation", Assert.Single(Errors(body)), StringComparison.Ordinal);
        Assert.Equal(HttpStatusCode.MethodNotAllowed, rotate);
    }

    [Fact]
    public async Task Deleting_a_key_not_marked_deletable_or_not_there_is_400_and_a_deletion_answers_no_body()
    {
        var key = await NewKeyAsync();
        var missing = VaultTarget.UniqueKeyName();

        var (refusedStatus, refused) = await _vault.SendAsync(HttpMethod.Delete, $"transit/keys/{key}");
        var (missingStatus, notThere) = await _vault.SendAsync(HttpMethod.Delete, $"transit/keys/{missing}");
        await _vault.ConfigureKeyAsync(key, new Dictionary<string, string> { ["deletion_allowed"] = "true" });
        var (deletedStatus, deleted) = await _vault.SendAsync(HttpMethod.Delete, $"transit/keys/{key}");

        Assert.Equal(HttpStatusCode.BadRequest, refusedStatus);
        Assert.Equal([$"error deleting policy {key}: deletion is not allowed for this key"], Errors(refused));
        Assert.Equal(HttpStatusCode.BadRequest, missingStatus);
        Assert.Equal([$"error deleting policy {missing}: could not delete key; not found"], Errors(notThere));
        Assert.Equal(HttpStatusCode.NoContent, deletedStatus);
        Assert.Null(deleted);
    }

    [Fact]
    public async Task Every_answer_with_a_body_has_vaults_envelope_and_token_lookup_describes_the_token()
    {
        var key = await NewKeyAsync();
        var path = $"secret/data/shape-{Guid.NewGuid():N}";

        var (_, lookup) = await _vault.SendAsync(HttpMethod.Get, "auth/token/lookup-self");
        var (_, encrypted) = await _vault.SendAsync(HttpMethod.Post, $"transit/encrypt/{key}", new JsonObject { ["plaintext"] = "b25l" });
        var (_, written) = await _vault.SendAsync(HttpMethod.Post, path, new JsonObject { ["data"] = new JsonObject { ["a"] = "b" } });
        var (_, read) = await _vault.SendAsync(HttpMethod.Get, path);

        foreach (var answer in new[] { lookup, encrypted, written, read })
        {
            Assert.Equal(EnvelopeFields.Order(StringComparer.Ordinal), Fields(answer!.Value));
            Assert.True(Guid.TryParse(answer.Value.GetProperty("request_id").GetString(), out _));
        }

        var token = lookup!.Value.GetProperty("data");
        Assert.Equal("token", lookup.Value.GetProperty("mount_type").GetString());
        Assert.Equal(_vault.Token, token.GetProperty("id").GetString());
        Assert.Subset(Fields(token).ToHashSet(), new HashSet<string> { "accessor", "creation_time", "creation_ttl", "display_name", "entity_id", "expire_time", "explicit_max_ttl", "id", "meta", "num_uses", "orphan", "path", "policies", "ttl", "type" });
        Assert.Equal(JsonValueKind.Number, token.GetProperty("ttl").ValueKind);
        if (token.GetProperty("expire_time").ValueKind == JsonValueKind.Null)
        {
            // A token without a lease (the root token) says nothing of renewal: Vault leaves those fields out.
            Assert.Equal(0, token.GetProperty("ttl").GetInt64());
            Assert.False(token.TryGetProperty("renewable", out _));
            Assert.False(token.TryGetProperty("issue_time", out _));
        }

        Assert.Equal("transit", encrypted!.Value.GetProperty("mount_type").GetString());
        Assert.Equal(["ciphertext", "key_version"], Fields(encrypted.Value.GetProperty("data")));
        Assert.Equal(["created_time", "custom_metadata", "deletion_time", "destroyed", "version"], Fields(written!.Value.GetProperty("data")));
        Assert.Equal(["created_time", "custom_metadata", "deletion_time", "destroyed", "version"], Fields(read!.Value.GetProperty("data").GetProperty("metadata")));
        Assert.Equal("b", read.Value.GetProperty("data").GetProperty("data").GetProperty("a").GetString());
    }

    [VaultTestServerFact]
    public async Task Login_and_renewal_answer_the_whole_auth_block_with_data_null()
    {
        var server = _vault.RequireTestServer();
        var jwt = "jwt-" + Guid.NewGuid().ToString("N");
        server.AddKubernetesRole("shape", jwt, TimeSpan.FromMinutes(10), TimeSpan.FromHours(1), serviceAccountNamespace: "payments", serviceAccountName: "api");

        var (_, login) = await _vault.SendAsync(HttpMethod.Post, "auth/kubernetes/login", new JsonObject { ["role"] = "shape", ["jwt"] = jwt });
        var issued = login!.Value.GetProperty("auth").GetProperty("client_token").GetString()!;
        var (_, renewal) = await _vault.SendAsync(HttpMethod.Post, "auth/token/renew-self", [], issued);
        var (_, lookup) = await _vault.SendAsync(HttpMethod.Get, "auth/token/lookup-self", token: issued);

        string[] authFields = ["accessor", "client_token", "entity_id", "lease_duration", "metadata", "mfa_requirement", "num_uses", "orphan", "policies", "renewable", "token_policies", "token_type"];
        foreach (var answer in new[] { login, renewal })
        {
            Assert.Equal(EnvelopeFields.Order(StringComparer.Ordinal), Fields(answer!.Value));
            Assert.Equal(JsonValueKind.Null, answer.Value.GetProperty("data").ValueKind);
            Assert.Equal(authFields, Fields(answer.Value.GetProperty("auth")));
            Assert.Equal("service", answer.Value.GetProperty("auth").GetProperty("token_type").GetString());
        }

        Assert.Equal("kubernetes", login.Value.GetProperty("mount_type").GetString());
        Assert.Equal(600, login.Value.GetProperty("auth").GetProperty("lease_duration").GetInt64());
        Assert.Equal("payments", login.Value.GetProperty("auth").GetProperty("metadata").GetProperty("service_account_namespace").GetString());
        Assert.Equal(login.Value.GetProperty("auth").GetProperty("accessor").GetString(), renewal!.Value.GetProperty("auth").GetProperty("accessor").GetString());
        Assert.Equal("auth/kubernetes/login", lookup!.Value.GetProperty("data").GetProperty("path").GetString());
        Assert.True(lookup.Value.GetProperty("data").GetProperty("renewable").GetBoolean());
        Assert.True(DateTimeOffset.TryParse(lookup.Value.GetProperty("data").GetProperty("last_renewal").GetString(), CultureInfo.InvariantCulture, out _));
        Assert.Equal("api", lookup.Value.GetProperty("data").GetProperty("meta").GetProperty("service_account_name").GetString());
    }

    [VaultTestServerFact]
    public async Task Renewing_the_root_token_which_has_no_lease_is_400_invalid_lease_id()
    {
        var (status, body) = await _vault.SendAsync(HttpMethod.Post, "auth/token/renew-self", []);

        Assert.Equal(HttpStatusCode.BadRequest, status);
        Assert.Equal(["invalid lease ID"], Errors(body));
    }

    [Fact]
    public async Task A_token_vault_does_not_know_is_refused_as_permission_denied_and_invalid_token()
    {
        var (status, body) = await _vault.SendAsync(HttpMethod.Get, "auth/token/lookup-self", token: "hvs.made-up-" + Guid.NewGuid().ToString("N"));

        Assert.Equal(HttpStatusCode.Forbidden, status);
        var error = Assert.Single(Errors(body));
        Assert.Contains("permission denied", error, StringComparison.Ordinal);
        Assert.Contains("invalid token", error, StringComparison.Ordinal);
    }

    [VaultTestServerFact]
    public async Task Revoke_self_answers_204_without_a_body_then_vault_refuses_the_token_and_a_batch_token_cannot_be_revoked()
    {
        var server = _vault.RequireTestServer();
        var (serviceJwt, batchJwt) = ("jwt-" + Guid.NewGuid().ToString("N"), "jwt-" + Guid.NewGuid().ToString("N"));
        server.AddKubernetesRole("revoked", serviceJwt, TimeSpan.FromMinutes(10), TimeSpan.FromHours(1));
        server.AddKubernetesRole("batch", batchJwt, TimeSpan.FromMinutes(10), TimeSpan.FromHours(1), batchTokens: true);
        var token = await LoginAsync("revoked", serviceJwt);
        var batch = await LoginAsync("batch", batchJwt);

        using var http = new HttpClient { BaseAddress = _vault.Address };
        using var revoke = new HttpRequestMessage(HttpMethod.Post, new Uri("v1/auth/token/revoke-self", UriKind.Relative));
        revoke.Headers.Add("X-Vault-Token", token);
        using var revoked = await http.SendAsync(revoke);
        var revokedBody = await revoked.Content.ReadAsByteArrayAsync();
        var (lookupStatus, lookup) = await _vault.SendAsync(HttpMethod.Get, "auth/token/lookup-self", token: token);
        var (againStatus, again) = await _vault.SendAsync(HttpMethod.Post, "auth/token/revoke-self", token: token);
        var (batchStatus, batchRefusal) = await _vault.SendAsync(HttpMethod.Post, "auth/token/revoke-self", token: batch);
        var (batchLookupStatus, _) = await _vault.SendAsync(HttpMethod.Get, "auth/token/lookup-self", token: batch);

        Assert.Equal(HttpStatusCode.NoContent, revoked.StatusCode);
        Assert.Empty(revokedBody);
        Assert.Equal(HttpStatusCode.Forbidden, lookupStatus);
        Assert.Equal(HttpStatusCode.Forbidden, againStatus);
        foreach (var refusal in new[] { lookup, again })
        {
            var error = Assert.Single(Errors(refusal));
            Assert.Contains("permission denied", error, StringComparison.Ordinal);
            Assert.Contains("invalid token", error, StringComparison.Ordinal);
        }

        Assert.Equal(HttpStatusCode.BadRequest, batchStatus);
        Assert.Equal(["batch tokens cannot be revoked"], Errors(batchRefusal));
        Assert.Equal(HttpStatusCode.OK, batchLookupStatus);
    }

    [VaultTestServerFact]
    public async Task A_path_the_policy_denies_is_permission_denied_without_invalid_token()
    {
        var server = _vault.RequireTestServer();
        var jwt = "jwt-" + Guid.NewGuid().ToString("N");
        var key = await NewKeyAsync();
        server.AddKubernetesRole("denied", jwt, TimeSpan.FromMinutes(10), TimeSpan.FromHours(1));
        server.Forbid($"transit/encrypt/{key}");
        var (_, login) = await _vault.SendAsync(HttpMethod.Post, "auth/kubernetes/login", new JsonObject { ["role"] = "denied", ["jwt"] = jwt });

        var (status, body) = await _vault.SendAsync(HttpMethod.Post, $"transit/encrypt/{key}", new JsonObject { ["plaintext"] = "b25l" }, login!.Value.GetProperty("auth").GetProperty("client_token").GetString());

        Assert.Equal(HttpStatusCode.Forbidden, status);
        Assert.Equal(["permission denied"], Errors(body));
    }

    [Fact]
    public async Task Health_answers_vaults_body_without_a_token()
    {
        using var http = new HttpClient { BaseAddress = _vault.Address };

        using var answer = JsonDocument.Parse(await http.GetStringAsync(new Uri("v1/sys/health", UriKind.Relative)));

        Assert.Subset(Fields(answer.RootElement).ToHashSet(), new HashSet<string> { "initialized", "sealed", "standby", "performance_standby", "replication_performance_mode", "replication_dr_mode", "server_time_utc", "version", "enterprise", "cluster_name", "cluster_id", "echo_duration_ms", "clock_skew_ms" });
        Assert.Equal(JsonValueKind.Number, answer.RootElement.GetProperty("server_time_utc").ValueKind);
        Assert.False(answer.RootElement.GetProperty("sealed").GetBoolean());
    }

    [VaultTestServerFact]
    public async Task A_sealed_node_reports_itself_sealed_and_standby_with_no_cluster()
    {
        var server = _vault.RequireTestServer();
        server.Sealed = true;
        using var http = new HttpClient { BaseAddress = _vault.Address };

        using var answer = await http.GetAsync(new Uri("v1/sys/health", UriKind.Relative));
        using var body = JsonDocument.Parse(await answer.Content.ReadAsStringAsync());
        server.Sealed = false;

        Assert.Equal(HttpStatusCode.ServiceUnavailable, answer.StatusCode);
        Assert.True(body.RootElement.GetProperty("sealed").GetBoolean());
        Assert.True(body.RootElement.GetProperty("standby").GetBoolean());
        Assert.False(body.RootElement.TryGetProperty("cluster_id", out _));
    }

    private async Task<string> NewKeyAsync()
    {
        var key = VaultTarget.UniqueKeyName();
        await _vault.CreateKeyAsync(key);
        return key;
    }

    private async Task<string> LoginAsync(string role, string jwt)
    {
        var (_, login) = await _vault.SendAsync(HttpMethod.Post, "auth/kubernetes/login", new JsonObject { ["role"] = role, ["jwt"] = jwt });
        return login!.Value.GetProperty("auth").GetProperty("client_token").GetString()!;
    }

    private Task<(HttpStatusCode Status, JsonElement? Body)> DecryptAsync(string key, string ciphertext) =>
        _vault.SendAsync(HttpMethod.Post, $"transit/decrypt/{key}", new JsonObject { ["ciphertext"] = ciphertext });

    private static List<string> Errors(JsonElement? body) =>
        [.. body!.Value.GetProperty("errors").EnumerateArray().Select(e => e.GetString() ?? "")];

    private static List<string> Fields(JsonElement element) =>
        [.. element.EnumerateObject().Select(p => p.Name).Order(StringComparer.Ordinal)];
}
