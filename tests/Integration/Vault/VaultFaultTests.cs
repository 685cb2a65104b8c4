using System.Net;
using System.Text;
using System.Text.Json;
using Trousseau.Tests.Integration.Infrastructure;

namespace Trousseau.Tests.Integration.Vault;

/// <summary>
/// trousseaud (API and KMS socket) on the Vault test server while Vault answers what a production Vault can: a
/// rate-limit quota's 429 with <c>Retry-After</c>, a 412 or a 400 on a key read. The daemon stays up, says it is not
/// ready, answers typed errors, and recovers by itself once Vault answers again.
/// </summary>
public sealed class VaultFaultTests(VaultFaultTests.Daemon daemon) : IClassFixture<VaultFaultTests.Daemon>
{
    private const string KmsEncrypt = "/v2.KeyManagementService/Encrypt";
    private const string KmsStatus = "/v2.KeyManagementService/Status";
    private static readonly string Dek = Convert.ToBase64String(Enumerable.Range(7, 32).Select(i => (byte)i).ToArray());

    [VaultTestServerFact]
    public async Task A_vault_answering_429_leaves_trousseaud_up_unready_and_unavailable_with_retry_after_then_it_recovers_by_itself()
    {
        await daemon.CreateSecretAsync("throttled/before", "kept");
        daemon.Vault.Fault = new VaultTestServer.VaultFault(429, "request path \"transit/\": rate limit quota exceeded", RetryAfter: TimeSpan.FromSeconds(7));
        try
        {
            var refused = await daemon.Kms.CallAsync(KmsEncrypt, new { plaintext = Dek });
            using var rotate = await daemon.Http.PostAsync(new Uri("v1/keys/rotate", UriKind.Relative), new StringContent("{}", Encoding.UTF8, "application/json"));
            var problem = await Problems.AssertAsync(rotate, HttpStatusCode.ServiceUnavailable);
            await Eventually.HoldsAsync(async () => await daemon.ReadyStatusAsync() == HttpStatusCode.ServiceUnavailable, () => "/readyz stayed 200 while Vault answered 429\n" + daemon.Server.Log);
            var status = await daemon.Kms.CallAsync(KmsStatus);
            var clectlStatus = await daemon.Clectl.RunAsync("kms", "status", "--socket", daemon.Socket);

            Assert.Equal("UNAVAILABLE", refused.GetProperty("code").GetString());
            Assert.Contains("429", refused.GetProperty("details").GetString(), StringComparison.Ordinal);
            Assert.Equal("urn:trousseau:problem:unavailable", problem.GetProperty("type").GetString());
            Assert.Contains("rate limit quota exceeded", problem.GetProperty("detail").GetString(), StringComparison.Ordinal);
            Assert.Equal(TimeSpan.FromSeconds(7), rotate.Headers.RetryAfter?.Delta);
            Assert.NotEqual("ok", status.GetProperty("response").GetProperty("healthz").GetString());
            Assert.True(clectlStatus.ExitCode == 6, clectlStatus.Stdout + clectlStatus.Stderr);
            Assert.False(daemon.Server.HasExited, daemon.Server.Log);
        }
        finally
        {
            daemon.Vault.Fault = null;
        }

        await daemon.AssertRecoversAsync();
        Assert.Equal("kept", await daemon.ReadSecretAsync("throttled/before"));
        Assert.Equal("OK", (await daemon.Kms.CallAsync(KmsEncrypt, new { plaintext = Dek })).GetProperty("code").GetString());
    }

    [VaultTestServerFact]
    public async Task A_vault_policy_denying_a_call_after_a_fresh_login_answers_403_and_clectl_exit_5_not_unavailable()
    {
        daemon.Vault.Fault = new VaultTestServer.VaultFault(403, "permission denied", PathContains: "/rotate");
        try
        {
            var before = daemon.Vault.Count("/rotate", 403);
            using var rotate = await daemon.Http.PostAsync(new Uri("v1/keys/rotate", UriKind.Relative), new StringContent("{}", Encoding.UTF8, "application/json"));
            var problem = await Problems.AssertAsync(rotate, HttpStatusCode.Forbidden);
            var refusals = daemon.Vault.Count("/rotate", 403) - before;
            var clectl = await daemon.Clectl.RunAsync("key", "rotate");

            Assert.Equal("urn:trousseau:problem:forbidden", problem.GetProperty("type").GetString());
            Assert.Contains("permission denied", problem.GetProperty("detail").GetString(), StringComparison.Ordinal);
            Assert.Equal(2, refusals);
            Assert.True(clectl.ExitCode == 5, clectl.Stdout + clectl.Stderr);
            Assert.False(daemon.Server.HasExited, daemon.Server.Log);
        }
        finally
        {
            daemon.Vault.Fault = null;
        }
    }

    [VaultTestServerTheory]
    [InlineData(412, "required index state not present")]
    [InlineData(400, "invalid key name")]
    public async Task A_vault_refusing_key_reads_leaves_trousseaud_up_answering_503_not_500(int status, string error)
    {
        daemon.Vault.Fault = new VaultTestServer.VaultFault(status, error, PathContains: "/keys/");
        try
        {
            // The provider remembers the key for a few seconds: wait for the first answer that needed Vault.
            HttpResponseMessage? keys = null;
            await Eventually.HoldsAsync(async () =>
            {
                keys?.Dispose();
                keys = await daemon.Http.GetAsync(new Uri("v1/keys", UriKind.Relative));
                return keys.StatusCode != HttpStatusCode.OK;
            });
            using (keys)
            {
                var problem = await Problems.AssertAsync(keys!, HttpStatusCode.ServiceUnavailable);
                Assert.Contains(error, problem.GetProperty("detail").GetString(), StringComparison.Ordinal);
            }

            await Eventually.HoldsAsync(async () => await daemon.ReadyStatusAsync() == HttpStatusCode.ServiceUnavailable);
            Assert.False(daemon.Server.HasExited, daemon.Server.Log);
        }
        finally
        {
            daemon.Vault.Fault = null;
        }

        await daemon.AssertRecoversAsync();
    }

    /// <summary>
    /// The Vault test server (through <see cref="VaultTarget"/>, which refuses a real Vault for fault switches) and
    /// one trousseaud on it, with the KMS socket and a kube-apiserver-like peer. Against a real Vault every test of
    /// the class is skipped, and nothing is started.
    /// </summary>
    public sealed class Daemon : IAsyncLifetime, IDisposable
    {
        private readonly TempDirectory _temp = new();
        private VaultTarget? _target;

        internal VaultTestServer Vault { get; private set; } = null!;

        internal TrousseauServerProcess Server { get; private set; } = null!;

        internal KmsPeer Kms { get; private set; } = null!;

        internal HttpClient Http { get; private set; } = null!;

        internal ClectlRunner Clectl { get; private set; } = null!;

        internal string Socket => _temp.Combine("data", "kms.sock");

        public async Task InitializeAsync()
        {
            if (VaultTarget.TestServerSkipReason is not null)
            {
                return;
            }

            _target = await VaultTarget.StartAsync();
            Vault = _target.RequireTestServer();
            var keyName = VaultTarget.UniqueKeyName();
            await _target.CreateKeyAsync(keyName);
            var tokenFile = _temp.Combine("vault-token");
            await File.WriteAllTextAsync(tokenFile, _target.Token);
            Server = await TrousseauServerProcess.StartAsync(_temp.Combine("data"),
            [
                "--Trousseau:KeyProvider=vault",
                $"--Trousseau:Vault:Address={Vault.Address}",
                $"--Trousseau:Vault:KeyName={keyName}",
                $"--Trousseau:Vault:Auth:TokenFile={tokenFile}",
                "--Trousseau:Kms:StatusCacheDuration=00:00:00",
            ]);
            Http = await BearerClient.FromTokenFileAsync(Server.BaseAddress, _temp.Combine("data", "api.token"));
            Clectl = ClectlRunner.For(Server, _temp.Combine("data"), _temp.Path);
            Kms = KmsPeer.Start(Socket);
        }

        public async Task DisposeAsync()
        {
            if (_target is null)
            {
                return;
            }

            await Kms.DisposeAsync();
            Http.Dispose();
            await Server.DisposeAsync();
            await _target.DisposeAsync();
        }

        public void Dispose() => _temp.Dispose();

        public async Task<HttpStatusCode> ReadyStatusAsync()
        {
            using var ready = await Http.GetAsync(new Uri("readyz", UriKind.Relative));
            return ready.StatusCode;
        }

        public async Task CreateSecretAsync(string name, string value)
        {
            using var body = new StringContent($$$"""{"name":"{{{name}}}","data":{"k":"{{{value}}}"}}""", Encoding.UTF8, "application/json");
            using var created = await Http.PostAsync(new Uri("v1/secrets", UriKind.Relative), body);
            Assert.Equal(HttpStatusCode.Created, created.StatusCode);
        }

        public async Task<string?> ReadSecretAsync(string name)
        {
            using var read = await Http.GetAsync(new Uri($"v1/secrets/{name}", UriKind.Relative));
            Assert.Equal(HttpStatusCode.OK, read.StatusCode);
            using var secret = JsonDocument.Parse(await read.Content.ReadAsStringAsync());
            return secret.RootElement.GetProperty("data").GetProperty("k").GetString();
        }

        /// <summary>Once Vault answers again: ready, KMS Status ok and the key readable, without a restart.</summary>
        public async Task AssertRecoversAsync()
        {
            await Eventually.HoldsAsync(async () => await ReadyStatusAsync() == HttpStatusCode.OK, () => "/readyz did not turn 200 again\n" + Server.Log);
            await Eventually.HoldsAsync(async () => (await Kms.CallAsync(KmsStatus)).GetProperty("response").GetProperty("healthz").GetString() == "ok");
            using var keys = await Http.GetAsync(new Uri("v1/keys", UriKind.Relative));
            Assert.Equal(HttpStatusCode.OK, keys.StatusCode);
            Assert.False(Server.HasExited, Server.Log);
            Assert.DoesNotContain("BackgroundService failed", Server.Log, StringComparison.Ordinal);
        }
    }
}
