using System.Globalization;
using System.Net;
using System.Net.Http.Json;
using Trousseau.Tests.Integration.Infrastructure;

namespace Trousseau.Tests.Integration.Vault;

/// <summary>
/// HTTP API calls that all need a new data key while Vault holds the wrap of one: they wait for that one wrap and
/// share its outcome, so that a Vault that fails it answers every one of them at once, rather than one after another
/// each sending (and waiting out) a wrap of its own.
/// </summary>
public sealed class ApiCallsOnHeldWrapTests : IDisposable
{
    private const int Calls = 8;
    private const string KeyName = "held-wrap";

    private readonly TempDirectory _temp = new();

    public void Dispose() => _temp.Dispose();

    [Fact]
    public async Task Encrypts_waiting_on_one_held_wrap_each_get_503_when_vault_fails_it_and_vault_receives_that_wrap_alone()
    {
        await using var vault = await VaultTestServer.StartAsync();
        vault.CreateKey(KeyName);
        var dataDir = _temp.Combine("data");

        // A wrap is one attempt that waits as long as Vault holds it, so that every call comes while it is under way
        // (the KMS plugin, off here, would not take a Vault:Timeout above its own).
        await using var server = await TrousseauServerProcess.StartAsync(dataDir,
        [
            "--Trousseau:KeyProvider=vault",
            $"--Trousseau:Vault:Address={vault.Address}",
            $"--Trousseau:Vault:KeyName={KeyName}",
            $"--Trousseau:Vault:Auth:Token={vault.RootToken}",
            "--Trousseau:Vault:Timeout=00:01:00",
            "--Trousseau:Vault:AttemptTimeout=00:01:00",
            "--Trousseau:Kms:Enabled=false",
        ]);
        await server.WaitForReadinessAsync(HttpStatusCode.OK);
        using var http = await BearerClient.FromTokenFileAsync(server.BaseAddress, Path.Combine(dataDir, "api.token"), TimeSpan.FromSeconds(90));
        var release = new TaskCompletionSource();
        vault.Hold = new VaultTestServer.VaultHold($"transit/encrypt/{KeyName}", release.Task);
        List<Task<HttpResponseMessage>> calls;
        try
        {
            calls = [.. Enumerable.Range(0, Calls).Select(i => http.PostAsJsonAsync("v1/encrypt", new { plaintext = Convert.ToBase64String([(byte)i]) }))];
            await Eventually.HoldsAsync(
                async () => vault.Held == 1 && await EncryptCacheMissesAsync(server) == Calls,
                () => $"the {Calls} calls did not all wait for a data key while Vault held one wrap (held {vault.Held}):\n{server.Log}");

            // Vault fails the wrap it held, and each wrap sent after it (retries included).
            vault.Fault = new VaultTestServer.VaultFault(500, "internal error", PathContains: $"transit/encrypt/{KeyName}");
        }
        finally
        {
            release.SetResult();
        }

        foreach (var call in calls)
        {
            using var answer = await call;
            await Problems.AssertAsync(answer, HttpStatusCode.ServiceUnavailable);
        }

        // One wrap: the attempt Vault held and at most two retries. Calls each sending a wrap after the one before
        // failed would have made Vault receive a wrap (with its retries) per call.
        Assert.InRange(vault.Held, 1, 3);
    }

    /// <summary>The encryptions that found no current data key so far, as trousseaud's <c>/metrics</c> says.</summary>
    private static async Task<long> EncryptCacheMissesAsync(TrousseauServerProcess server)
    {
        var metrics = await server.Http.GetStringAsync(new Uri(server.BaseAddress, "metrics"));
        return metrics.Split('\n')
            .Where(line => line.StartsWith("trousseau_datakey_cache_misses_total{", StringComparison.Ordinal) && line.Contains("trousseau_operation=\"encrypt\"", StringComparison.Ordinal))
            .Sum(line => (long)double.Parse(line[(line.LastIndexOf(' ') + 1)..], CultureInfo.InvariantCulture));
    }
}
