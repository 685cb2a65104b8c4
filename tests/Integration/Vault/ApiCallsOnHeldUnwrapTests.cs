using System.Globalization;
using System.Net;
using System.Net.Http.Json;
using System.Text.Json.Nodes;
using Trousseau.Tests.Integration.Infrastructure;

namespace Trousseau.Tests.Integration.Vault;

/// <summary>
/// HTTP API decrypts that all need the same data key, not cached yet (after a restart), while Vault holds the unwrap of
/// it: they wait for that one unwrap and share its outcome, so that Vault receives one Transit decrypt, not one per call.
/// </summary>
public sealed class ApiCallsOnHeldUnwrapTests : IDisposable
{
    private const int Calls = 8;
    private const string KeyName = "held-unwrap";

    private readonly TempDirectory _temp = new();

    public void Dispose() => _temp.Dispose();

    [Fact]
    public async Task Decrypts_after_a_restart_needing_one_data_key_share_one_unwrap_and_each_get_their_plaintext()
    {
        await using var vault = await VaultTestServer.StartAsync();
        vault.CreateKey(KeyName);
        var dataDir = _temp.Combine("data");
        string[] arguments =
        [
            "--Trousseau:KeyProvider=vault",
            $"--Trousseau:Vault:Address={vault.Address}",
            $"--Trousseau:Vault:KeyName={KeyName}",
            $"--Trousseau:Vault:Auth:Token={vault.RootToken}",
            "--Trousseau:Vault:Timeout=00:01:00",
            "--Trousseau:Vault:AttemptTimeout=00:01:00",
            "--Trousseau:Kms:Enabled=false",
        ];

        // Ciphertexts of different plaintexts, all sealed under the first data key.
        var ciphertexts = new string[Calls];
        await using (var first = await TrousseauServerProcess.StartAsync(dataDir, arguments))
        {
            await first.WaitForReadinessAsync(HttpStatusCode.OK);
            using var http = await BearerClient.FromTokenFileAsync(first.BaseAddress, Path.Combine(dataDir, "api.token"), TimeSpan.FromSeconds(90));
            for (var i = 0; i < Calls; i++)
            {
                using var answer = await http.PostAsJsonAsync("v1/encrypt", new { plaintext = Plaintext(i) });
                Assert.Equal(HttpStatusCode.OK, answer.StatusCode);
                ciphertexts[i] = (await answer.Content.ReadFromJsonAsync<JsonObject>())!["ciphertext"]!.GetValue<string>();
            }

            Assert.Equal(0, await first.StopAsync());
        }

        await using var server = await TrousseauServerProcess.StartAsync(dataDir, arguments);
        await server.WaitForReadinessAsync(HttpStatusCode.OK);
        using var client = await BearerClient.FromTokenFileAsync(server.BaseAddress, Path.Combine(dataDir, "api.token"), TimeSpan.FromSeconds(90));
        var decryptsBefore = vault.Count($"transit/decrypt/{KeyName}");
        var release = new TaskCompletionSource();
        vault.Hold = new VaultTestServer.VaultHold($"transit/decrypt/{KeyName}", release.Task);
        List<Task<HttpResponseMessage>> calls;
        try
        {
            calls = [.. ciphertexts.Select(ciphertext => client.PostAsJsonAsync("v1/decrypt", new { ciphertext }))];
            await Eventually.HoldsAsync(
                async () => vault.Held >= 1 && await DecryptCacheMissesAsync(server) == Calls,
                () => $"the {Calls} calls did not all wait for a data key while Vault held an unwrap (held {vault.Held}):\n{server.Log}");
        }
        finally
        {
            release.SetResult();
        }

        for (var i = 0; i < Calls; i++)
        {
            using var answer = await calls[i];
            Assert.Equal(HttpStatusCode.OK, answer.StatusCode);
            Assert.Equal(Plaintext(i), (await answer.Content.ReadFromJsonAsync<JsonObject>())!["plaintext"]!.GetValue<string>());
        }

        Assert.Equal(1, vault.Count($"transit/decrypt/{KeyName}") - decryptsBefore);
    }

    private static string Plaintext(int i) => Convert.ToBase64String([(byte)i, 42]);

    /// <summary>The decryptions that found their data key uncached so far, as trousseaud's <c>/metrics</c> says.</summary>
    private static async Task<long> DecryptCacheMissesAsync(TrousseauServerProcess server)
    {
        var metrics = await server.Http.GetStringAsync(new Uri(server.BaseAddress, "metrics"));
        return metrics.Split('\n')
            .Where(line => line.StartsWith("trousseau_datakey_cache_misses_total{", StringComparison.Ordinal) && line.Contains("trousseau_operation=\"decrypt\"", StringComparison.Ordinal))
            .Sum(line => (long)double.Parse(line[(line.LastIndexOf(' ') + 1)..], CultureInfo.InvariantCulture));
    }
}
