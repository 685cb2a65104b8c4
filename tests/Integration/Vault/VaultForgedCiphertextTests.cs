using System.Net;
using System.Net.Http.Json;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using Trousseau.Tests.Integration.Infrastructure;

namespace Trousseau.Tests.Integration.Vault;

/// <summary>
/// A caller allowed only to decrypt forges ciphertexts for trousseaud on Vault Transit and sends them to
/// <c>POST /v1/decrypt</c> and to the KMS socket's Decrypt: each is refused as invalid (400 <c>invalid-ciphertext</c>,
/// INVALID_ARGUMENT) naming no token, reaches Vault at most once and only at the configured Transit key, whatever key
/// it names, and leaves the key-provider check healthy, the data keys cached and the log at its level.
/// </summary>
public sealed class VaultForgedCiphertextTests(VaultFixture fixture) : IClassFixture<VaultFixture>, IDisposable
{
    private const string KmsDecrypt = "/v2.KeyManagementService/Decrypt";
    private static readonly byte[] KmsLabel = "trousseau/kms\0"u8.ToArray();

    private readonly TempDirectory _temp = new();
    private readonly VaultTarget _vault = fixture.ForNextTest();
    private readonly string _keyName = VaultTarget.UniqueKeyName();

    public void Dispose() => _temp.Dispose();

    [VaultTestServerFact]
    public async Task Forged_ciphertexts_naming_any_key_are_refused_and_reach_vault_only_at_the_configured_key_leaving_health_cache_and_log_as_they_were()
    {
        var vault = _vault.RequireTestServer();
        await _vault.CreateKeyAsync(_keyName);
        await using var daemon = await StartAsync();
        await daemon.CreateSecretAsync("forged/kept", "kept-value");
        var template = await daemon.EncryptAsync("api data"u8.ToArray());
        var keyId = EnvelopeFields.Parse(template).KeyId;
        var ring = keyId[..^"-v1".Length];
        var otherKey = VaultTarget.UniqueKeyName();
        await _vault.CreateKeyAsync(otherKey);
        var (_, encrypted) = await _vault.SendAsync(HttpMethod.Post, $"transit/encrypt/{otherKey}", new JsonObject { ["plaintext"] = Convert.ToBase64String([.. KmsLabel, .. RandomNumberGenerator.GetBytes(32)]) });
        var otherKeys = encrypted!.Value.GetProperty("data").GetProperty("ciphertext").GetString()!;
        var noise = Convert.ToBase64String(RandomNumberGenerator.GetBytes(60));

        // Those Vault sees (a well-formed key id and vault:vN: of the same version), then those refused before any call.
        EnvelopeFields[] toVault =
        [
            Forged(keyId, 1, otherKeys),
            Forged($"{ring}-v99", 99, $"vault:v99:{noise}"),
            Forged($"{ring}-v{uint.MaxValue}", uint.MaxValue, $"vault:v{uint.MaxValue}:{noise}"),
            Forged(keyId, 1, "vault:v1:@@not base64/../../sys/seal@@"),
        ];
        EnvelopeFields[] refusedHere =
        [
            Forged($"{ring}-v0", 0, $"vault:v0:{noise}"),
            Forged(keyId, 1, $"vault:v-1:{noise}"),
            Forged($"{ring}/../../sys/seal-v1", 1, $"vault:v1:{noise}"),
            Forged("vault-%2e%2e%2fsys%2fseal%2f-v1", 1, $"vault:v1:{noise}"),
            Forged($"{otherKey}-v1", 1, $"vault:v1:{noise}"),
            Forged("vault-other transit key-v1", 1, $"vault:v1:{noise}"),
            Forged("vault-clé-ключ-鍵-0123456-v1", 1, $"vault:v1:{noise}"),
        ];
        var logBefore = daemon.Server.Log.Length;
        var requestsBefore = vault.Requests.Count;

        var answers = new List<(HttpStatusCode Status, JsonElement Problem, JsonElement Kms)>();
        foreach (var forged in toVault.Concat(refusedHere))
        {
            answers.Add(await daemon.DecryptBothWaysAsync(EnvelopeFields.WithKey(template, forged), forged));
        }

        var otherProvider = Forged(keyId, 1, $"vault:v1:{noise}");
        using var fromLocal = await daemon.Http.PostAsJsonAsync("v1/decrypt", new { ciphertext = Convert.ToBase64String(EnvelopeFields.WithProvider(EnvelopeFields.WithKey(template, otherProvider), "local")) });
        var fromLocalProblem = await Problems.AssertAsync(fromLocal, HttpStatusCode.BadRequest);
        var decryptsBeforeRead = vault.Count("/decrypt/");
        var kept = await daemon.ReadSecretAsync("forged/kept");
        var vaultRequests = vault.Requests.Skip(requestsBefore).ToList();
        var log = daemon.Server.Log[logBefore..];
        var check = await daemon.RotateAndWaitForKeyProviderCheckAsync();

        Assert.All(answers, answer =>
        {
            Assert.Equal(HttpStatusCode.BadRequest, answer.Status);
            Assert.Equal("urn:trousseau:problem:invalid-ciphertext", answer.Problem.GetProperty("type").GetString());
            Assert.Equal("INVALID_ARGUMENT", answer.Kms.GetProperty("code").GetString());
            Assert.DoesNotContain(_vault.Token, answer.Problem.GetRawText() + answer.Kms.GetRawText(), StringComparison.Ordinal);
            Assert.DoesNotContain(daemon.ApiToken, answer.Problem.GetRawText() + answer.Kms.GetRawText(), StringComparison.Ordinal);
        });
        Assert.Contains("version is too new", answers[1].Problem.GetProperty("detail").GetString(), StringComparison.Ordinal);
        Assert.Contains("version is too new", answers[2].Problem.GetProperty("detail").GetString(), StringComparison.Ordinal);
        Assert.Contains("written by another key provider than 'vault' (by 'local')", fromLocalProblem.GetProperty("detail").GetString(), StringComparison.Ordinal);
        Assert.Equal("kept-value", kept);
        Assert.Equal(decryptsBeforeRead, vault.Count("/decrypt/"));
        Assert.Equal(2 * toVault.Length, vaultRequests.Count(r => r.Path == $"transit/decrypt/{_keyName}" && r.Status == 400));
        Assert.All(vaultRequests, r => Assert.Contains(r.Path, new[] { $"transit/decrypt/{_keyName}", $"transit/keys/{_keyName}", "sys/health", "auth/token/renew-self", "auth/token/lookup-self" }));
        Assert.DoesNotMatch(new Regex("^(warn|fail|crit):", RegexOptions.Multiline), log);
        Assert.DoesNotContain(noise, log, StringComparison.Ordinal);
        Assert.Equal(("healthy", $"Vault Transit key {_keyName}, current key {check.KeyId}"), (check.Status, check.Description));
    }

    [VaultTestServerFact]
    public async Task Under_an_rsa_transit_key_a_ciphertext_vault_cannot_decrypt_is_refused_400_and_invalid_argument_after_one_vault_call()
    {
        var vault = _vault.RequireTestServer();
        var (created, _) = await _vault.SendAsync(HttpMethod.Post, $"transit/keys/{_keyName}", new JsonObject { ["type"] = "rsa-2048" });
        Assert.True(created is HttpStatusCode.OK or HttpStatusCode.NoContent, $"creating the RSA key: {created}");
        await using var daemon = await StartAsync();
        var template = await daemon.EncryptAsync("api data"u8.ToArray());
        var keyId = EnvelopeFields.Parse(template).KeyId;

        // RSA-OAEP ciphertext of the key's size (2048 bits) that the key does not decrypt: Vault answers it 500.
        var forged = Forged(keyId, 1, $"vault:v1:{Convert.ToBase64String(RandomNumberGenerator.GetBytes(256))}");
        var decrypts = vault.Count($"transit/decrypt/{_keyName}");
        var (status, problem, kms) = await daemon.DecryptBothWaysAsync(EnvelopeFields.WithKey(template, forged), forged);
        var vaultCalls = vault.Count($"transit/decrypt/{_keyName}") - decrypts;
        var check = await daemon.RotateAndWaitForKeyProviderCheckAsync();

        Assert.Equal((HttpStatusCode.BadRequest, "INVALID_ARGUMENT", 2L, "healthy"), (status, kms.GetProperty("code").GetString(), (long)vaultCalls, check.Status));
        Assert.Equal("urn:trousseau:problem:invalid-ciphertext", problem.GetProperty("type").GetString());
        Assert.Contains("failed to RSA decrypt the ciphertext", problem.GetProperty("detail").GetString(), StringComparison.Ordinal);
        Assert.Contains("failed to RSA decrypt the ciphertext", kms.GetProperty("details").GetString(), StringComparison.Ordinal);
    }

    private static EnvelopeFields Forged(string keyId, uint version, string vaultCiphertext) =>
        new(keyId, version, Encoding.UTF8.GetBytes(vaultCiphertext));

    /// <summary>trousseaud on <see cref="_keyName"/>, with the API, its token and the KMS socket with the python gRPC peer on it.</summary>
    private async Task<Daemon> StartAsync()
    {
        var tokenFile = _temp.Combine("vault-token");
        await File.WriteAllTextAsync(tokenFile, _vault.Token);
        var data = _temp.Combine("data");
        var server = await TrousseauServerProcess.StartAsync(data,
        [
            "--Trousseau:KeyProvider=vault",
            $"--Trousseau:Vault:Address={_vault.Address}",
            $"--Trousseau:Vault:KeyName={_keyName}",
            $"--Trousseau:Vault:Auth:TokenFile={tokenFile}",
        ]);
        var apiToken = await BearerClient.ReadTokenAsync(Path.Combine(data, "api.token"));
        return new Daemon(server, BearerClient.Create(server.BaseAddress, apiToken), KmsPeer.Start(Path.Combine(data, "kms.sock")), apiToken);
    }

    private sealed record KeyProviderCheck(string KeyId, string? Status, string Description);

    private sealed class Daemon(TrousseauServerProcess server, HttpClient http, KmsPeer kms, string apiToken) : IAsyncDisposable
    {
        public TrousseauServerProcess Server => server;

        public HttpClient Http => http;

        public string ApiToken => apiToken;

        public async Task CreateSecretAsync(string name, string value)
        {
            using var created = await http.PostAsJsonAsync("v1/secrets", new { name, data = new Dictionary<string, string> { ["k"] = value } });
            Assert.True(created.StatusCode == HttpStatusCode.Created, await created.Content.ReadAsStringAsync() + server.Log);
        }

        public async Task<string?> ReadSecretAsync(string name)
        {
            var secret = await http.GetFromJsonAsync<JsonElement>($"v1/secrets/{name}");
            return secret.GetProperty("data").GetProperty("k").GetString();
        }

        public async Task<byte[]> EncryptAsync(byte[] plaintext)
        {
            using var encrypted = await http.PostAsJsonAsync("v1/encrypt", new { plaintext = Convert.ToBase64String(plaintext) });
            Assert.True(encrypted.StatusCode == HttpStatusCode.OK, await encrypted.Content.ReadAsStringAsync() + server.Log);
            return Convert.FromBase64String((await encrypted.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("ciphertext").GetString()!);
        }

        /// <summary>Sends <paramref name="envelope"/> to <c>POST /v1/decrypt</c> and <paramref name="forged"/> to KMS v2 Decrypt.</summary>
        public async Task<(HttpStatusCode Status, JsonElement Problem, JsonElement Kms)> DecryptBothWaysAsync(byte[] envelope, EnvelopeFields forged)
        {
            using var api = await http.PostAsJsonAsync("v1/decrypt", new { ciphertext = Convert.ToBase64String(envelope) });
            var problem = await api.Content.ReadFromJsonAsync<JsonElement>();
            var answer = await kms.CallAsync(KmsDecrypt, new { ciphertext = Convert.ToBase64String(forged.KmsV2Ciphertext(3)), key_id = forged.KeyId });
            return (api.StatusCode, problem, answer);
        }

        /// <summary>
        /// Rotates the key and waits for the <c>key-provider</c> check of <c>/readyz</c> that names the new key: a check
        /// that ran after every call before.
        /// </summary>
        public async Task<KeyProviderCheck> RotateAndWaitForKeyProviderCheckAsync()
        {
            using var rotate = await http.PostAsync(new Uri("v1/keys/rotate", UriKind.Relative), new StringContent("{}", Encoding.UTF8, "application/json"));
            Assert.True(rotate.StatusCode == HttpStatusCode.OK, await rotate.Content.ReadAsStringAsync() + server.Log);
            var rotated = (await rotate.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("keyId").GetString()!;
            return await Eventually.ReturnsAsync(
                async () =>
                {
                    using var ready = await http.GetAsync(new Uri("readyz", UriKind.Relative));
                    using var report = JsonDocument.Parse(await ready.Content.ReadAsStringAsync());
                    var check = report.RootElement.GetProperty("checks").GetProperty("key-provider");
                    return new KeyProviderCheck(rotated, check.GetProperty("status").GetString(), check.GetProperty("description").GetString() ?? "");
                },
                c => c.Description.Contains(rotated, StringComparison.Ordinal),
                awaited: $"the key-provider check of /readyz to name the key {rotated} made after the forged calls",
                show: c => $"{c}\n{server.Log}");
        }

        public async ValueTask DisposeAsync()
        {
            await kms.DisposeAsync();
            http.Dispose();
            await server.DisposeAsync();
        }
    }
}
