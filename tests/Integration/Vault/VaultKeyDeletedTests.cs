using System.Net;
using System.Text;
using System.Text.Json;
using Trousseau.Tests.Integration.Infrastructure;

namespace Trousseau.Tests.Integration.Vault;

/// <summary>
/// An operator deletes trousseaud's Transit key in Vault while it runs (<c>deletion_allowed=true</c>, then
/// <c>DELETE transit/keys/NAME</c>, as Vault's docs give it): readiness and KMS Status turn red naming the key, and
/// new writes are refused with a 503 naming it rather than sealed under a data key that no restart could unwrap, both
/// under the least-privilege policy of the docs (Vault answers an encrypt for the missing key 403) and under a token
/// that may create the key (Vault would create a new, empty key on the spot).
/// </summary>
public sealed class VaultKeyDeletedTests(VaultFixture fixture) : IClassFixture<VaultFixture>, IDisposable
{
    private const string KmsStatus = "/v2.KeyManagementService/Status";
    private const string KmsEncrypt = "/v2.KeyManagementService/Encrypt";
    private static readonly string Dek = Convert.ToBase64String(Enumerable.Range(3, 32).Select(i => (byte)i).ToArray());

    private readonly TempDirectory _temp = new();
    private readonly VaultTarget _vault = fixture.ForNextTest();
    private readonly string _keyName = VaultTarget.UniqueKeyName();

    public void Dispose() => _temp.Dispose();

    [VaultTestServerFact]
    public async Task Under_the_least_privilege_policy_a_deleted_key_turns_readyz_and_kms_status_red_and_refuses_new_writes_503_naming_it()
    {
        var vault = _vault.RequireTestServer();
        vault.DenyCreate($"transit/encrypt/{_keyName}");
        var token = vault.CreateToken(TimeSpan.FromHours(1), TimeSpan.FromHours(2));

        await AssertDeletedKeyRefusesWritesAsync(token);
    }

    [VaultTestServerFact]
    public async Task Under_a_token_that_may_create_the_key_a_deleted_key_is_not_created_again_by_a_write_and_new_writes_get_503_naming_it()
    {
        _vault.RequireTestServer();

        await AssertDeletedKeyRefusesWritesAsync(_vault.Token);
    }

    [VaultTestServerFact]
    public async Task A_vault_403_that_stands_after_a_new_login_says_the_key_may_be_missing_or_the_policy_may_deny_it()
    {
        var vault = _vault.RequireTestServer();
        vault.DenyCreate($"transit/encrypt/{_keyName}");
        vault.Forbid($"transit/keys/{_keyName}");
        var tokenFile = _temp.Combine("vault-token");
        await File.WriteAllTextAsync(tokenFile, vault.CreateToken(TimeSpan.FromHours(1), TimeSpan.FromHours(2)));
        var data = _temp.Combine("data");
        await using var server = await TrousseauServerProcess.StartAsync(data,
        [
            "--Trousseau:KeyProvider=vault",
            $"--Trousseau:Vault:Address={_vault.Address}",
            $"--Trousseau:Vault:KeyName={_keyName}",
            $"--Trousseau:Vault:Auth:TokenFile={tokenFile}",
            "--Trousseau:Kms:Enabled=false",
        ]);
        using var http = await BearerClient.FromTokenFileAsync(server.BaseAddress, Path.Combine(data, "api.token"));

        using var refused = await CreateAsync(http, "forbidden/first");

        var problem = await Problems.AssertAsync(refused, HttpStatusCode.Forbidden);
        var detail = problem.GetProperty("detail").GetString();
        Assert.Contains($"'{_keyName}'", detail, StringComparison.Ordinal);
        Assert.Contains("policy denies", detail, StringComparison.Ordinal);
        Assert.Contains("the key does not exist", detail, StringComparison.Ordinal);
    }

    private async Task AssertDeletedKeyRefusesWritesAsync(string vaultToken)
    {
        await _vault.CreateKeyAsync(_keyName);
        var tokenFile = _temp.Combine("vault-token");
        await File.WriteAllTextAsync(tokenFile, vaultToken);
        var data = _temp.Combine("data");
        var socket = Path.Combine(data, "kms.sock");
        await using var server = await TrousseauServerProcess.StartAsync(data,
        [
            "--Trousseau:KeyProvider=vault",
            $"--Trousseau:Vault:Address={_vault.Address}",
            $"--Trousseau:Vault:KeyName={_keyName}",
            $"--Trousseau:Vault:Auth:TokenFile={tokenFile}",
            "--Trousseau:Kms:StatusCacheDuration=00:00:00",
        ]);
        using var http = await BearerClient.FromTokenFileAsync(server.BaseAddress, Path.Combine(data, "api.token"));
        await using var kms = KmsPeer.Start(socket);
        using (var before = await CreateAsync(http, "deleted/before"))
        {
            Assert.True(before.StatusCode == HttpStatusCode.Created, await before.Content.ReadAsStringAsync() + server.Log);
        }

        await _vault.ConfigureKeyAsync(_keyName, new Dictionary<string, string> { ["deletion_allowed"] = "true" });
        await _vault.DeleteKeyAsync(_keyName);
        var vault = _vault.RequireTestServer();
        var encryptsAtDeletion = vault.Count($"transit/encrypt/{_keyName}", 200);

        var readiness = await Eventually.ReturnsAsync(
            async () =>
            {
                using var ready = await http.GetAsync(new Uri("readyz", UriKind.Relative));
                return (ready.StatusCode, Body: await ready.Content.ReadAsStringAsync());
            },
            r => r.StatusCode == HttpStatusCode.ServiceUnavailable,
            show: r => $"{(int)r.StatusCode} {r.Body}\n{server.Log}");
        var status = await kms.CallAsync(KmsStatus);
        var kmsEncrypt = await kms.CallAsync(KmsEncrypt, new { plaintext = Dek });
        using var after = await CreateAsync(http, "deleted/after");
        var problem = await Problems.AssertAsync(after, HttpStatusCode.ServiceUnavailable);
        using var afterRead = await http.GetAsync(new Uri("v1/secrets/deleted/after", UriKind.Relative));

        Assert.Contains(_keyName, readiness.Body, StringComparison.Ordinal);
        var healthz = status.GetProperty("response").GetProperty("healthz").GetString();
        Assert.NotEqual("ok", healthz);
        Assert.Contains(_keyName, healthz, StringComparison.Ordinal);
        Assert.Equal("UNAVAILABLE", kmsEncrypt.GetProperty("code").GetString());
        Assert.Contains(_keyName, kmsEncrypt.GetProperty("details").GetString(), StringComparison.Ordinal);
        Assert.Equal("urn:trousseau:problem:unavailable", problem.GetProperty("type").GetString());
        Assert.Contains(_keyName, problem.GetProperty("detail").GetString(), StringComparison.Ordinal);
        Assert.Equal(HttpStatusCode.NotFound, afterRead.StatusCode);
        Assert.Equal(encryptsAtDeletion, vault.Count($"transit/encrypt/{_keyName}", 200));
        Assert.False(server.HasExited, server.Log);
        var (keyRead, _) = await _vault.SendAsync(HttpMethod.Get, $"transit/keys/{_keyName}");
        Assert.Equal(HttpStatusCode.NotFound, keyRead);

        // An operator makes a key of that name again: writes go through under it, without a restart.
        await _vault.CreateKeyAsync(_keyName);
        using var recreated = await CreateAsync(http, "deleted/recreated");
        Assert.True(recreated.StatusCode == HttpStatusCode.Created, await recreated.Content.ReadAsStringAsync() + server.Log);
        await server.WaitForReadinessAsync(HttpStatusCode.OK);
    }

    private static async Task<HttpResponseMessage> CreateAsync(HttpClient http, string name)
    {
        using var body = new StringContent(JsonSerializer.Serialize(new { name, data = new { k = "v" } }), Encoding.UTF8, "application/json");
        return await http.PostAsync(new Uri("v1/secrets", UriKind.Relative), body);
    }
}
