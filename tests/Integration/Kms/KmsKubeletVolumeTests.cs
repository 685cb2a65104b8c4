using Trousseau.Tests.Integration.Infrastructure;
using Trousseau.Tests.Integration.Vault;

namespace Trousseau.Tests.Integration.Kms;

/// <summary>
/// trousseaud as the KMS plugin logging in to Vault's Kubernetes auth with the projected service-account token that
/// kubelet rotates in its volume (<see cref="KubeletVolume"/>), with a python3-grpcio peer on its socket.
/// </summary>
public sealed class KmsKubeletVolumeTests : IDisposable
{
    private const string Status = "/v2.KeyManagementService/Status";
    private const string Encrypt = "/v2.KeyManagementService/Encrypt";
    private const string Role = "trousseau-kms";
    private const string FirstJwt = "eyJhbGciOiJSUzI1NiJ9.first-projected-service-account-token-01";
    private const string SecondJwt = "eyJhbGciOiJSUzI1NiJ9.second-projected-service-account-token-2";
    private const UnixFileMode ProjectedDefault = UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.GroupRead | UnixFileMode.OtherRead;
    private static readonly TimeSpan Lease = TimeSpan.FromSeconds(3);
    private static readonly string Dek = Convert.ToBase64String(Enumerable.Range(7, 32).Select(i => (byte)i).ToArray());

    private readonly TempDirectory _temp = new();

    public void Dispose() => _temp.Dispose();

    [VaultTestServerFact]
    public async Task The_plugin_logs_in_again_with_the_token_kubelet_swapped_in_once_vault_refuses_the_old_one_and_encrypts_on()
    {
        await using var vault = await VaultTarget.StartAsync();
        var server = vault.RequireTestServer();
        var keyName = VaultTarget.UniqueKeyName();
        await vault.CreateKeyAsync(keyName);
        server.AddKubernetesRole(Role, FirstJwt, Lease, Lease);
        var volume = KubeletVolume.Create(_temp.Combine("serviceaccount"), ProjectedDefault, new Dictionary<string, string> { ["token"] = FirstJwt });
        var socket = _temp.Combine("run", "kms.sock");
        await using var peer = KmsPeer.Start(socket);
        await using var plugin = await TrousseauServerProcess.StartAsync(_temp.Combine("data"),
        [
            "--kms-socket", socket,
            "--Trousseau:KeyProvider=vault",
            $"--Trousseau:Vault:Address={vault.Address}",
            $"--Trousseau:Vault:KeyName={keyName}",
            "--Trousseau:Vault:Auth:Method=kubernetes",
            $"--Trousseau:Vault:Auth:Role={Role}",
            $"--Trousseau:Vault:Auth:JwtFile={volume.PathOf("token")}",
            "--Trousseau:Kms:StatusCacheDuration=00:00:00",
        ]);
        await peer.WaitForOkAsync(Status, TimeSpan.FromSeconds(60));

        // kubelet writes the new token and swaps ..data; then the API server stops admitting the old one, so that
        // every login Vault admits from then on sent the new token.
        server.AddKubernetesRole(Role, SecondJwt, Lease, Lease);
        volume.Update(new Dictionary<string, string> { ["token"] = SecondJwt });
        server.RejectServiceAccountToken(FirstJwt);
        var admitted = server.Count("auth/kubernetes/login", 200);

        await Eventually.HoldsAsync(() => server.Count("auth/kubernetes/login", 200) > admitted, () => plugin.Log);
        var encrypted = KmsPeer.Ok(await peer.CallAsync(Encrypt, new { plaintext = Dek }));

        Assert.False(string.IsNullOrEmpty(encrypted.GetProperty("ciphertext").GetString()));
        Assert.DoesNotContain("first-projected", plugin.Log, StringComparison.Ordinal);
        Assert.DoesNotContain("second-projected", plugin.Log, StringComparison.Ordinal);
    }
}
