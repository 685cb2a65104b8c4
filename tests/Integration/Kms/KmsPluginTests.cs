using System.Text.Json;
using Trousseau.Tests.Integration.Infrastructure;

namespace Trousseau.Tests.Integration.Kms;

/// <summary>
/// trousseaud's KMS socket called as kube-apiserver calls it, by an independent gRPC implementation, against the
/// rules kube-apiserver enforces for KMS v2 and v1.
/// </summary>
public sealed class KmsPluginTests : IAsyncLifetime, IDisposable
{
    private const string Status = "/v2.KeyManagementService/Status";
    private const string Encrypt = "/v2.KeyManagementService/Encrypt";
    private const string Decrypt = "/v2.KeyManagementService/Decrypt";
    private static readonly string Dek = Convert.ToBase64String(Enumerable.Range(1, 32).Select(i => (byte)i).ToArray());

    private static readonly string[] RefusalCodes = ["INVALID_ARGUMENT", "FAILED_PRECONDITION"];

    private readonly TempDirectory _temp = new();
    private TrousseauServerProcess _server = null!;
    private KmsPeer _peer = null!;

    private string DataDir => _temp.Combine("data");

    private string Socket => _temp.Combine("run", "kms", "plugin.sock");

    public async Task InitializeAsync()
    {
        _server = await StartServerAsync();
        _peer = KmsPeer.Start(Socket);
    }

    public async Task DisposeAsync()
    {
        await _peer.DisposeAsync();
        await _server.DisposeAsync();
    }

    public void Dispose() => _temp.Dispose();

    [Fact]
    public async Task Status_reports_v2_ok_and_the_key_id_that_encrypt_uses()
    {
        var status = Ok(await _peer.CallAsync(Status));
        var again = Ok(await _peer.CallAsync(Status));
        var encrypted = Ok(await _peer.CallAsync(Encrypt, new { plaintext = Dek, uid = "uid-1" }));

        Assert.Equal("v2", status.GetProperty("version").GetString());
        Assert.Equal("ok", status.GetProperty("healthz").GetString());
        var keyId = status.GetProperty("key_id").GetString()!;
        Assert.InRange(System.Text.Encoding.UTF8.GetByteCount(keyId), 1, 1024);
        Assert.Equal(keyId, again.GetProperty("key_id").GetString());
        Assert.Equal(keyId, encrypted.GetProperty("key_id").GetString());
    }

    [Fact]
    public async Task Encrypt_gives_small_fresh_ciphertexts_that_decrypt_to_the_plaintext()
    {
        var first = Ok(await _peer.CallAsync(Encrypt, new { plaintext = Dek }));
        var second = Ok(await _peer.CallAsync(Encrypt, new { plaintext = Dek }));

        var ciphertext = first.GetProperty("ciphertext").GetString()!;
        Assert.NotEqual(ciphertext, second.GetProperty("ciphertext").GetString());
        Assert.InRange(Convert.FromBase64String(ciphertext).Length, 1, 1024);
        Assert.DoesNotContain(Dek, ciphertext, StringComparison.Ordinal);
        if (first.TryGetProperty("annotations", out var annotations))
        {
            Assert.All(annotations.EnumerateObject(), a => Assert.Matches("^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)+$", a.Name));
        }

        var decrypted = Ok(await _peer.CallAsync(Decrypt, new { ciphertext, key_id = first.GetProperty("key_id").GetString(), uid = "uid-2" }));
        Assert.Equal(Dek, decrypted.GetProperty("plaintext").GetString());
    }

    [Fact]
    public async Task Decrypt_refuses_foreign_key_ids_tampered_garbage_and_empty_input()
    {
        var encrypted = Ok(await _peer.CallAsync(Encrypt, new { plaintext = Dek }));
        var ciphertext = Convert.FromBase64String(encrypted.GetProperty("ciphertext").GetString()!);
        var keyId = encrypted.GetProperty("key_id").GetString()!;
        var tampered = ciphertext.ToArray();
        tampered[^1] ^= 0x01;

        var refused = new[]
        {
            await _peer.CallAsync(Decrypt, new { ciphertext = Convert.ToBase64String(ciphertext), key_id = "local-0000000000000000-v1" }),
            await _peer.CallAsync(Decrypt, new { ciphertext = Convert.ToBase64String(ciphertext), key_id = "some-other-plugin-key" }),
            await _peer.CallAsync(Decrypt, new { ciphertext = Convert.ToBase64String(tampered), key_id = keyId }),
            await _peer.CallAsync(Decrypt, new { ciphertext = Convert.ToBase64String("garbage that is not ours"u8.ToArray()), key_id = keyId }),
            await _peer.CallAsync(Decrypt, new { ciphertext = "", key_id = keyId }),
            await _peer.CallAsync(Decrypt, new { ciphertext = Convert.ToBase64String(ciphertext), key_id = "" }),
            await _peer.CallAsync(Decrypt, new { ciphertext = Convert.ToBase64String(ciphertext), key_id = keyId, annotations = new Dictionary<string, string> { ["Not A DNS Name"] = "eA==" } }),
            await _peer.CallAsync(Encrypt, new { plaintext = "" }),
        };

        Assert.All(refused, r => Assert.Contains(r.GetProperty("code").GetString(), RefusalCodes));
        Assert.All(refused, r => Assert.False(string.IsNullOrEmpty(r.GetProperty("details").GetString())));
        Assert.Equal(Dek, Ok(await _peer.CallAsync(Decrypt, new { ciphertext = Convert.ToBase64String(ciphertext), key_id = keyId })).GetProperty("plaintext").GetString());
    }

    [Fact]
    public async Task After_a_rotation_status_shows_the_new_key_at_once_and_old_ciphertext_still_decrypts()
    {
        var before = Ok(await _peer.CallAsync(Encrypt, new { plaintext = Dek }));
        var clectl = ClectlRunner.For(_server, DataDir, _temp.Path);
        var rotate = await clectl.RunAsync("key", "rotate", "-o", "json");
        Assert.True(rotate.ExitCode == 0, rotate.Stderr);
        using var rotated = JsonDocument.Parse(rotate.Stdout);
        var newKeyId = rotated.RootElement.GetProperty("keyId").GetString();

        var status = Ok(await _peer.CallAsync(Status));
        var after = Ok(await _peer.CallAsync(Encrypt, new { plaintext = Dek }));
        var old = Ok(await _peer.CallAsync(Decrypt, new { ciphertext = before.GetProperty("ciphertext").GetString(), key_id = before.GetProperty("key_id").GetString() }));

        Assert.NotEqual(before.GetProperty("key_id").GetString(), newKeyId);
        Assert.Equal(newKeyId, status.GetProperty("key_id").GetString());
        Assert.Equal(newKeyId, after.GetProperty("key_id").GetString());
        Assert.Equal(Dek, old.GetProperty("plaintext").GetString());
    }

    [Fact]
    public async Task Two_hundred_concurrent_round_trips_all_succeed()
    {
        var encrypted = await _peer.CallManyAsync(Encrypt, new { plaintext = Dek }, 200);
        var responses = encrypted.GetProperty("responses").EnumerateArray().ToList();
        Assert.Equal(200, encrypted.GetProperty("codes").GetProperty("OK").GetInt32());
        Assert.Equal(200, responses.Select(r => r.GetProperty("ciphertext").GetString()).Distinct().Count());

        var sample = responses[137];
        var decrypted = await _peer.CallManyAsync(Decrypt, new { ciphertext = sample.GetProperty("ciphertext").GetString(), key_id = sample.GetProperty("key_id").GetString() }, 200);
        Assert.Equal(200, decrypted.GetProperty("codes").GetProperty("OK").GetInt32());
        Assert.All(decrypted.GetProperty("responses").EnumerateArray(), r => Assert.Equal(Dek, r.GetProperty("plaintext").GetString()));
    }

    [Fact]
    public async Task Kms_v1_answers_version_and_passes_the_apiserver_health_probe()
    {
        var version = Ok(await _peer.CallAsync("/v1beta1.KeyManagementService/Version", new { version = "v1beta1" }));
        var ping = Convert.ToBase64String("ping"u8.ToArray());
        var encrypted = Ok(await _peer.CallAsync("/v1beta1.KeyManagementService/Encrypt", new { version = "v1beta1", plain = ping }));
        var decrypted = Ok(await _peer.CallAsync("/v1beta1.KeyManagementService/Decrypt", new { version = "v1beta1", cipher = encrypted.GetProperty("cipher").GetString() }));
        var tampered = Convert.FromBase64String(encrypted.GetProperty("cipher").GetString()!);
        tampered[^2] ^= 0x80;
        var refused = await _peer.CallAsync("/v1beta1.KeyManagementService/Decrypt", new { version = "v1beta1", cipher = Convert.ToBase64String(tampered) });

        Assert.Equal("v1beta1", version.GetProperty("version").GetString());
        Assert.Equal("trousseau", version.GetProperty("runtime_name").GetString());
        Assert.Matches(@"^\d+\.\d+\.\d+", version.GetProperty("runtime_version").GetString());
        Assert.Equal(ping, decrypted.GetProperty("plain").GetString());
        Assert.Equal("INVALID_ARGUMENT", refused.GetProperty("code").GetString());
    }

    [Fact]
    public async Task An_unknown_method_is_unimplemented()
    {
        var result = await _peer.CallAsync("/v2.KeyManagementService/Rotate");

        Assert.Equal("UNIMPLEMENTED", result.GetProperty("code").GetString());
    }

    [Fact]
    public async Task The_socket_is_owner_only_removed_on_shutdown_and_the_client_reconnects_after_a_restart()
    {
        var before = Ok(await _peer.CallAsync(Encrypt, new { plaintext = Dek }));
        Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(Socket));
        Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute, File.GetUnixFileMode(Path.GetDirectoryName(Socket)!));

        Assert.Equal(0, await _server.StopAsync());
        Assert.False(File.Exists(Socket));
        Assert.Equal("UNAVAILABLE", (await _peer.CallAsync(Status)).GetProperty("code").GetString());

        await _server.DisposeAsync();
        _server = await StartServerAsync();
        var status = await WaitForOkAsync(Status);
        var old = Ok(await _peer.CallAsync(Decrypt, new { ciphertext = before.GetProperty("ciphertext").GetString(), key_id = before.GetProperty("key_id").GetString() }));

        Assert.Equal("ok", status.GetProperty("healthz").GetString());
        Assert.Equal(Dek, old.GetProperty("plaintext").GetString());
    }

    [Fact]
    public async Task A_stale_socket_left_by_a_crash_is_replaced_and_a_live_one_is_not_taken_over()
    {
        using var second = new TempDirectory();
        var refused = await DotnetProcess.RunAsync(DotnetProcess.StartInfo(
            RepositoryPaths.ServerDll,
            ["--urls", $"http://127.0.0.1:{FreePort.Next()}", "--data-dir", second.Combine("data"), "--kms-socket", Socket],
            second.Path));
        Assert.Equal(1, refused.ExitCode);
        Assert.Contains("in use", refused.Stderr, StringComparison.Ordinal);

        await _server.KillAsync();
        Assert.True(File.Exists(Socket));
        await _server.DisposeAsync();
        _server = await StartServerAsync();

        Assert.Equal("ok", (await WaitForOkAsync(Status)).GetProperty("healthz").GetString());
    }

    private Task<TrousseauServerProcess> StartServerAsync() => TrousseauServerProcess.StartAsync(DataDir, ["--kms-socket", Socket]);

    private async Task<JsonElement> WaitForOkAsync(string method)
    {
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        while (true)
        {
            var result = await _peer.CallAsync(method);
            if (result.GetProperty("code").GetString() == "OK")
            {
                return result.GetProperty("response");
            }

            await Task.Delay(100, timeout.Token);
        }
    }

    private static JsonElement Ok(JsonElement result)
    {
        Assert.True(result.GetProperty("code").GetString() == "OK", $"{result.GetProperty("code")}: {result.GetProperty("details")}");
        return result.GetProperty("response");
    }
}
