using System.Text.Json;
using Trousseau.Tests.Integration.Infrastructure;

namespace Trousseau.Tests.Integration.Kms;

/// <summary>
/// One trousseaud serving its KMS socket and one python3-grpcio peer on it, shared by <see cref="KmsPluginTests"/>.
/// Tests that restart the plugin leave a running one behind; the peer's channel reconnects, as kube-apiserver's does.
/// </summary>
public sealed class KmsPluginFixture : IAsyncLifetime, IDisposable
{
    private readonly TempDirectory _temp = new();

    internal TrousseauServerProcess Server { get; private set; } = null!;

    internal KmsPeer Peer { get; private set; } = null!;

    internal string Directory => _temp.Path;

    internal string DataDir => _temp.Combine("data");

    internal string Socket => _temp.Combine("run", "kms", "plugin.sock");

    public async Task InitializeAsync()
    {
        Server = await StartServerAsync();
        Peer = KmsPeer.Start(Socket);
    }

    /// <summary>Starts trousseaud again on the same data directory and socket, after the test stopped or killed it.</summary>
    internal async Task RestartAsync()
    {
        await Server.DisposeAsync();
        Server = await StartServerAsync();
    }

    public async Task DisposeAsync()
    {
        await Peer.DisposeAsync();
        await Server.DisposeAsync();
    }

    public void Dispose() => _temp.Dispose();

    private Task<TrousseauServerProcess> StartServerAsync() => TrousseauServerProcess.StartAsync(DataDir, ["--kms-socket", Socket]);
}

/// <summary>
/// trousseaud's KMS socket called as kube-apiserver calls it, by an independent gRPC implementation, against the
/// rules kube-apiserver enforces for KMS v2 and v1.
/// </summary>
public sealed class KmsPluginTests(KmsPluginFixture fixture) : IClassFixture<KmsPluginFixture>
{
    private const string Status = "/v2.KeyManagementService/Status";
    private const string Encrypt = "/v2.KeyManagementService/Encrypt";
    private const string Decrypt = "/v2.KeyManagementService/Decrypt";
    private const string LocalKeyId = "^local-[0-9a-f]{16}-v[0-9]+-[0-9a-f]{8}$";
    private static readonly byte[] DekBytes = Enumerable.Range(1, 32).Select(i => (byte)i).ToArray();
    private static readonly string Dek = Convert.ToBase64String(DekBytes);

    private static readonly string[] RefusalCodes = ["INVALID_ARGUMENT", "FAILED_PRECONDITION"];
    private static readonly TimeSpan RestartTimeout = TimeSpan.FromSeconds(60);

    private KmsPeer Peer => fixture.Peer;

    private string Socket => fixture.Socket;

    [Fact]
    public async Task Status_reports_v2_ok_and_the_key_id_that_encrypt_uses()
    {
        var status = KmsPeer.Ok(await Peer.CallAsync(Status));
        var again = KmsPeer.Ok(await Peer.CallAsync(Status));
        var encrypted = KmsPeer.Ok(await Peer.CallAsync(Encrypt, new { plaintext = Dek, uid = "uid-1" }));

        Assert.Equal("v2", status.GetProperty("version").GetString());
        Assert.Equal("ok", status.GetProperty("healthz").GetString());
        var keyId = status.GetProperty("key_id").GetString()!;
        Assert.Matches(LocalKeyId, keyId);
        Assert.Equal(keyId, again.GetProperty("key_id").GetString());
        Assert.Equal(keyId, encrypted.GetProperty("key_id").GetString());
    }

    [Fact]
    public async Task Encrypt_gives_small_fresh_ciphertexts_without_annotations_that_hold_no_part_of_the_dek_and_decrypt_to_it()
    {
        var first = KmsPeer.Ok(await Peer.CallAsync(Encrypt, new { plaintext = Dek }));
        var second = KmsPeer.Ok(await Peer.CallAsync(Encrypt, new { plaintext = Dek }));

        var ciphertext = first.GetProperty("ciphertext").GetString()!;
        var bytes = Convert.FromBase64String(ciphertext);
        Assert.NotEqual(ciphertext, second.GetProperty("ciphertext").GetString());
        Assert.InRange(bytes.Length, DekBytes.Length + 16, 1024);
        Assert.Equal(3, bytes[0]);
        Assert.All(Enumerable.Range(0, DekBytes.Length - 7), offset => Assert.True(
            bytes.AsSpan().IndexOf(DekBytes.AsSpan(offset, 8)) < 0,
            $"The ciphertext holds the DEK's bytes {offset} to {offset + 7}."));

        // The plugin adds no annotations (proto3 JSON leaves an empty map out), so kube-apiserver stores none.
        Assert.False(first.TryGetProperty("annotations", out _));

        var decrypted = KmsPeer.Ok(await Peer.CallAsync(Decrypt, new { ciphertext, key_id = first.GetProperty("key_id").GetString(), uid = "uid-2" }));
        Assert.Equal(Dek, decrypted.GetProperty("plaintext").GetString());
    }

    [Fact]
    public async Task Decrypt_accepts_annotations_whose_keys_are_domain_names_within_the_size_limit()
    {
        var encrypted = KmsPeer.Ok(await Peer.CallAsync(Encrypt, new { plaintext = Dek }));
        var ciphertext = encrypted.GetProperty("ciphertext").GetString();
        var keyId = encrypted.GetProperty("key_id").GetString();
        var small = new Dictionary<string, string> { ["version.encryption.k8s.io"] = Convert.ToBase64String("1"u8.ToArray()) };
        var tooLarge = new Dictionary<string, string> { ["big.example.com"] = Convert.ToBase64String(new byte[32 * 1024]) };

        var accepted = await Peer.CallAsync(Decrypt, new { ciphertext, key_id = keyId, annotations = small });
        var refused = await Peer.CallAsync(Decrypt, new { ciphertext, key_id = keyId, annotations = tooLarge });

        Assert.Equal(Dek, KmsPeer.Ok(accepted).GetProperty("plaintext").GetString());
        Assert.Equal("INVALID_ARGUMENT", refused.GetProperty("code").GetString());
        Assert.Contains("the limit is 32768", refused.GetProperty("details").GetString(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Decrypt_as_large_as_kube_apiserver_sends_it_is_answered_and_an_oversized_plaintext_is_refused_naming_the_limit()
    {
        var encrypted = KmsPeer.Ok(await Peer.CallAsync(Encrypt, new { plaintext = Dek }));

        // kube-apiserver keeps annotations totalling 32 KiB of keys and values, each key a domain name of two labels or
        // more; in the shortest keys, with empty values, protobuf's framing more than doubles them on the wire.
        var labels = "abcdefghijklmnopqrstuvwxyz0123456789";
        var keys = labels.SelectMany(a => labels.Select(b => $"{a}.{b}"))
            .Concat(labels.SelectMany(a => labels.SelectMany(b => labels.Select(c => $"{a}{b}.{c}"))));
        var annotations = new Dictionary<string, string>();
        var total = 0;
        foreach (var key in keys)
        {
            if (total + key.Length > 32 * 1024)
            {
                break;
            }

            total += key.Length;
            annotations[key] = "";
        }

        var decrypted = await Peer.CallAsync(Decrypt, new { ciphertext = encrypted.GetProperty("ciphertext").GetString(), key_id = encrypted.GetProperty("key_id").GetString(), annotations });
        var oversized = await Peer.CallAsync(Encrypt, new { plaintext = Convert.ToBase64String(new byte[64 * 1024]) });

        Assert.Equal(Dek, KmsPeer.Ok(decrypted).GetProperty("plaintext").GetString());
        Assert.Equal("INVALID_ARGUMENT", oversized.GetProperty("code").GetString());
        Assert.Equal("plaintext must be 1 to 512 bytes, not 65536.", oversized.GetProperty("details").GetString());
    }

    [Fact]
    public async Task Encrypt_takes_a_plaintext_of_exactly_512_bytes_and_refuses_513_bytes_or_none_naming_the_limit()
    {
        var largest = Convert.ToBase64String(Enumerable.Range(0, 512).Select(i => (byte)i).ToArray());

        var atLimit = KmsPeer.Ok(await Peer.CallAsync(Encrypt, new { plaintext = largest }));
        var overLimit = await Peer.CallAsync(Encrypt, new { plaintext = Convert.ToBase64String(new byte[513]) });
        var empty = await Peer.CallAsync(Encrypt, new { plaintext = "" });
        var v1OverLimit = await Peer.CallAsync("/v1beta1.KeyManagementService/Encrypt", new { version = "v1beta1", plain = Convert.ToBase64String(new byte[513]) });
        var decrypted = KmsPeer.Ok(await Peer.CallAsync(Decrypt, new { ciphertext = atLimit.GetProperty("ciphertext").GetString(), key_id = atLimit.GetProperty("key_id").GetString() }));

        Assert.Equal(largest, decrypted.GetProperty("plaintext").GetString());
        Assert.All(new[] { overLimit, empty, v1OverLimit }, r => Assert.Equal("INVALID_ARGUMENT", r.GetProperty("code").GetString()));
        Assert.Equal("plaintext must be 1 to 512 bytes, not 513.", overLimit.GetProperty("details").GetString());
        Assert.Equal("plaintext must be 1 to 512 bytes, not 0.", empty.GetProperty("details").GetString());
        Assert.Equal("plaintext must be 1 to 512 bytes, not 513.", v1OverLimit.GetProperty("details").GetString());
    }

    [Fact]
    public async Task Decrypt_refuses_annotations_one_byte_over_32_KiB_and_keys_kube_apiserver_refuses_in_capitals_or_over_253_characters()
    {
        var encrypted = KmsPeer.Ok(await Peer.CallAsync(Encrypt, new { plaintext = Dek }));
        var ciphertext = encrypted.GetProperty("ciphertext").GetString();
        var keyId = encrypted.GetProperty("key_id").GetString();
        var value = Convert.ToBase64String("1"u8.ToArray());

        // "big.example.com" is 15 bytes: with a value of 32 KiB - 15 bytes the total is at the limit, one more byte over it.
        var atLimit = await Peer.CallAsync(Decrypt, new { ciphertext, key_id = keyId, annotations = new Dictionary<string, string> { ["big.example.com"] = Convert.ToBase64String(new byte[(32 * 1024) - 15]) } });
        var overLimit = await Peer.CallAsync(Decrypt, new { ciphertext, key_id = keyId, annotations = new Dictionary<string, string> { ["big.example.com"] = Convert.ToBase64String(new byte[(32 * 1024) - 14]) } });
        var refusedKeys = new List<JsonElement>();
        foreach (var key in new[] { "Version.Encryption.K8s.io", string.Join('.', Enumerable.Repeat(new string('a', 63), 5))[..254], string.Join('.', Enumerable.Repeat(new string('a', 63), 5))[..254] + "." })
        {
            refusedKeys.Add(await Peer.CallAsync(Decrypt, new { ciphertext, key_id = keyId, annotations = new Dictionary<string, string> { [key] = value } }));
        }

        Assert.Equal(Dek, KmsPeer.Ok(atLimit).GetProperty("plaintext").GetString());
        Assert.Equal("INVALID_ARGUMENT", overLimit.GetProperty("code").GetString());
        Assert.Equal("Annotations total 32769 bytes; the limit is 32768.", overLimit.GetProperty("details").GetString());
        Assert.All(refusedKeys, r => Assert.Equal("INVALID_ARGUMENT", r.GetProperty("code").GetString()));
        Assert.All(refusedKeys, r => Assert.Equal("Annotation keys must be fully qualified domain names.", r.GetProperty("details").GetString()));
    }

    [Fact]
    public async Task A_request_of_128_KiB_is_answered_by_the_plugin_and_one_a_byte_larger_is_refused_resource_exhausted()
    {
        // An Encrypt request without uid is its plaintext field alone: a tag byte, a three-byte length, the bytes.
        const int Limit = 128 * 1024;
        var atLimit = await Peer.CallAsync(Encrypt, new { plaintext = Convert.ToBase64String(new byte[Limit - 4]) });
        var overLimit = await Peer.CallAsync(Encrypt, new { plaintext = Convert.ToBase64String(new byte[Limit - 3]) });

        Assert.Equal("INVALID_ARGUMENT", atLimit.GetProperty("code").GetString());
        Assert.Equal($"plaintext must be 1 to 512 bytes, not {Limit - 4}.", atLimit.GetProperty("details").GetString());
        Assert.Equal("RESOURCE_EXHAUSTED", overLimit.GetProperty("code").GetString());
        Assert.Equal("ok", KmsPeer.Ok(await Peer.CallAsync(Status)).GetProperty("healthz").GetString());
    }

    [Fact]
    public async Task Decrypt_accepts_annotation_keys_written_with_a_trailing_dot_as_kube_apiserver_does_and_refuses_what_it_refuses()
    {
        var encrypted = KmsPeer.Ok(await Peer.CallAsync(Encrypt, new { plaintext = Dek }));
        var ciphertext = encrypted.GetProperty("ciphertext").GetString();
        var keyId = encrypted.GetProperty("key_id").GetString();
        var value = Convert.ToBase64String("1"u8.ToArray());

        // kube-apiserver checks each key as a fully qualified domain name, whose one trailing dot is allowed, and stores
        // the key as written; 253 characters before that dot are the most a DNS subdomain has.
        var absolute = new Dictionary<string, string> { ["version.encryption.k8s.io."] = value, [string.Join('.', Enumerable.Repeat(new string('a', 63), 4))[..253] + "."] = value };
        var accepted = await Peer.CallAsync(Decrypt, new { ciphertext, key_id = keyId, annotations = absolute });
        var refused = new List<JsonElement>();
        foreach (var key in new[] { ".", "example.com..", "localhost.", "-bad.example.com.", new string('a', 64) + ".example.com" })
        {
            refused.Add(await Peer.CallAsync(Decrypt, new { ciphertext, key_id = keyId, annotations = new Dictionary<string, string> { [key] = value } }));
        }

        Assert.Equal(Dek, KmsPeer.Ok(accepted).GetProperty("plaintext").GetString());
        Assert.All(refused, r => Assert.Equal("INVALID_ARGUMENT", r.GetProperty("code").GetString()));
    }

    [Fact]
    public async Task Decrypt_refuses_foreign_key_ids_tampered_garbage_and_empty_input()
    {
        var encrypted = KmsPeer.Ok(await Peer.CallAsync(Encrypt, new { plaintext = Dek }));
        var ciphertext = Convert.FromBase64String(encrypted.GetProperty("ciphertext").GetString()!);
        var keyId = encrypted.GetProperty("key_id").GetString()!;
        var tampered = ciphertext.ToArray();
        tampered[^1] ^= 0x01;

        var refused = new[]
        {
            await Peer.CallAsync(Decrypt, new { ciphertext = Convert.ToBase64String(ciphertext), key_id = "local-0000000000000000-v1" }),
            await Peer.CallAsync(Decrypt, new { ciphertext = Convert.ToBase64String(ciphertext), key_id = "some-other-plugin-key" }),
            await Peer.CallAsync(Decrypt, new { ciphertext = Convert.ToBase64String(tampered), key_id = keyId }),
            await Peer.CallAsync(Decrypt, new { ciphertext = Convert.ToBase64String("garbage that is not ours"u8.ToArray()), key_id = keyId }),
            await Peer.CallAsync(Decrypt, new { ciphertext = "", key_id = keyId }),
            await Peer.CallAsync(Decrypt, new { ciphertext = Convert.ToBase64String(ciphertext), key_id = "" }),
            await Peer.CallAsync(Decrypt, new { ciphertext = Convert.ToBase64String(ciphertext), key_id = keyId, annotations = new Dictionary<string, string> { ["Not A DNS Name"] = "eA==" } }),
            await Peer.CallAsync(Encrypt, new { plaintext = "" }),
        };

        Assert.All(refused, r => Assert.Contains(r.GetProperty("code").GetString(), RefusalCodes));
        Assert.All(refused, r => Assert.False(string.IsNullOrEmpty(r.GetProperty("details").GetString())));
        Assert.Equal(Dek, KmsPeer.Ok(await Peer.CallAsync(Decrypt, new { ciphertext = Convert.ToBase64String(ciphertext), key_id = keyId })).GetProperty("plaintext").GetString());
    }

    [Fact]
    public async Task Decrypt_with_a_key_id_no_local_key_ring_issues_says_so_with_a_bounded_escaped_excerpt_instead_of_advising_a_key_ring_restore()
    {
        var encrypted = KmsPeer.Ok(await Peer.CallAsync(Encrypt, new { plaintext = Dek }));
        var ciphertext = encrypted.GetProperty("ciphertext").GetString();
        var hostile = "evil\u001b[2J\u0007" + new string('x', 900);

        var otherProvider = await Peer.CallAsync(Decrypt, new { ciphertext, key_id = "some-other-plugin-key" });
        var garbage = await Peer.CallAsync(Decrypt, new { ciphertext, key_id = hostile });
        var otherRing = await Peer.CallAsync(Decrypt, new { ciphertext, key_id = "local-0000000000000000-v1" });

        Assert.All(new[] { otherProvider, garbage, otherRing }, r => Assert.Equal("INVALID_ARGUMENT", r.GetProperty("code").GetString()));
        Assert.Equal(
            "The key id 'some-other-plugin-key' is not a local key ring's (local-<ring id>-v<version>-<fingerprint>): the ciphertext was wrapped by another "
            + "key provider or KMS plugin, or its key id was changed; decrypt it with the one that wrapped it.",
            otherProvider.GetProperty("details").GetString());
        var garbageDetails = garbage.GetProperty("details").GetString()!;
        Assert.StartsWith($"The key id 'evil\\u001B[2J\\u0007{new string('x', 55)}…' is not a local key ring's", garbageDetails, StringComparison.Ordinal);
        Assert.DoesNotContain(new string('x', 56), garbageDetails, StringComparison.Ordinal);
        Assert.DoesNotContain(garbageDetails, c => c is < ' ' or > '~' and not '…');
        Assert.All(new[] { otherProvider, garbage }, r => Assert.DoesNotContain("put back", r.GetProperty("details").GetString(), StringComparison.Ordinal));
        Assert.Contains("this is another key ring", otherRing.GetProperty("details").GetString(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task After_a_rotation_status_shows_the_new_key_at_once_and_old_ciphertext_still_decrypts()
    {
        var before = KmsPeer.Ok(await Peer.CallAsync(Encrypt, new { plaintext = Dek }));
        var clectl = ClectlRunner.For(fixture.Server, fixture.DataDir, fixture.Directory);
        var rotate = await clectl.RunAsync("key", "rotate", "-o", "json");
        Assert.True(rotate.ExitCode == 0, rotate.Stderr);
        using var rotated = JsonDocument.Parse(rotate.Stdout);
        var newKeyId = rotated.RootElement.GetProperty("keyId").GetString();

        var status = KmsPeer.Ok(await Peer.CallAsync(Status));
        var after = KmsPeer.Ok(await Peer.CallAsync(Encrypt, new { plaintext = Dek }));
        var old = KmsPeer.Ok(await Peer.CallAsync(Decrypt, new { ciphertext = before.GetProperty("ciphertext").GetString(), key_id = before.GetProperty("key_id").GetString() }));

        var mixed = await Peer.CallAsync(Decrypt, new { ciphertext = after.GetProperty("ciphertext").GetString(), key_id = before.GetProperty("key_id").GetString() });

        Assert.NotEqual(before.GetProperty("key_id").GetString(), newKeyId);
        Assert.Equal("INVALID_ARGUMENT", mixed.GetProperty("code").GetString());
        Assert.Equal(
            $"The key id '{before.GetProperty("key_id").GetString()}' is version {Version(before.GetProperty("key_id").GetString()!)} of this key ring, "
            + $"but the ciphertext was wrapped under version {Version(newKeyId!)}, whose key id is '{newKeyId}': the key id does not belong to this ciphertext (a KMS caller sends the key id Encrypt returned with it).",
            mixed.GetProperty("details").GetString());
        Assert.Equal(newKeyId, status.GetProperty("key_id").GetString());
        Assert.Equal(newKeyId, after.GetProperty("key_id").GetString());
        Assert.Equal(Dek, old.GetProperty("plaintext").GetString());
    }

    private static string Version(string localKeyId) => localKeyId.Split('-')[2].TrimStart('v');

    [Fact]
    public async Task Two_hundred_round_trips_issued_at_once_on_one_channel_all_succeed()
    {
        var encrypted = await Peer.CallManyAsync(Encrypt, new { plaintext = Dek }, 200);
        var responses = encrypted.GetProperty("responses").EnumerateArray().ToList();
        Assert.Equal(200, encrypted.GetProperty("codes").GetProperty("OK").GetInt32());
        Assert.Equal(200, responses.Select(r => r.GetProperty("ciphertext").GetString()).Distinct().Count());

        var sample = responses[137];
        var decrypted = await Peer.CallManyAsync(Decrypt, new { ciphertext = sample.GetProperty("ciphertext").GetString(), key_id = sample.GetProperty("key_id").GetString() }, 200);
        Assert.Equal(200, decrypted.GetProperty("codes").GetProperty("OK").GetInt32());
        Assert.All(decrypted.GetProperty("responses").EnumerateArray(), r => Assert.Equal(Dek, r.GetProperty("plaintext").GetString()));
    }

    [Fact]
    public async Task A_deadline_of_thousands_of_hours_is_honoured_as_no_deadline_at_all()
    {
        // 10^7 s (about 2,800 hours) is past the 2^32 ms a CancellationTokenSource timer takes.
        var status = await Peer.CallAsync(Status, timeoutSeconds: 1e7);
        var encrypted = await Peer.CallAsync(Encrypt, new { plaintext = Dek }, timeoutSeconds: 1e7);

        Assert.Equal("ok", KmsPeer.Ok(status).GetProperty("healthz").GetString());
        Assert.Equal(KmsPeer.Ok(status).GetProperty("key_id").GetString(), KmsPeer.Ok(encrypted).GetProperty("key_id").GetString());
    }

    [Fact]
    public async Task Kms_v1_answers_version_and_passes_the_apiserver_health_probe()
    {
        var version = KmsPeer.Ok(await Peer.CallAsync("/v1beta1.KeyManagementService/Version", new { version = "v1beta1" }));
        var ping = Convert.ToBase64String("ping"u8.ToArray());
        var encrypted = KmsPeer.Ok(await Peer.CallAsync("/v1beta1.KeyManagementService/Encrypt", new { version = "v1beta1", plain = ping }));
        var decrypted = KmsPeer.Ok(await Peer.CallAsync("/v1beta1.KeyManagementService/Decrypt", new { version = "v1beta1", cipher = encrypted.GetProperty("cipher").GetString() }));
        var tampered = Convert.FromBase64String(encrypted.GetProperty("cipher").GetString()!);
        tampered[^2] ^= 0x80;
        var refused = await Peer.CallAsync("/v1beta1.KeyManagementService/Decrypt", new { version = "v1beta1", cipher = Convert.ToBase64String(tampered) });
        var otherVersion = await Peer.CallAsync("/v1beta1.KeyManagementService/Version", new { version = "v1" });

        Assert.Equal("v1beta1", version.GetProperty("version").GetString());
        Assert.Equal("trousseau", version.GetProperty("runtime_name").GetString());
        Assert.Matches(@"^\d+\.\d+\.\d+", version.GetProperty("runtime_version").GetString());
        Assert.Equal(ping, decrypted.GetProperty("plain").GetString());
        Assert.Equal("INVALID_ARGUMENT", refused.GetProperty("code").GetString());
        Assert.Equal("INVALID_ARGUMENT", otherVersion.GetProperty("code").GetString());
        Assert.Equal("Unsupported KMS API version 'v1'; this service speaks v1beta1.", otherVersion.GetProperty("details").GetString());
    }

    [Fact]
    public async Task Kms_v1_encrypt_naming_another_version_is_refused_naming_it_and_one_naming_none_is_served()
    {
        var ping = Convert.ToBase64String("ping"u8.ToArray());

        var otherVersion = await Peer.CallAsync("/v1beta1.KeyManagementService/Encrypt", new { version = "v1", plain = ping });
        var noVersion = KmsPeer.Ok(await Peer.CallAsync("/v1beta1.KeyManagementService/Encrypt", new { plain = ping }));
        var decrypted = KmsPeer.Ok(await Peer.CallAsync("/v1beta1.KeyManagementService/Decrypt", new { version = "v1beta1", cipher = noVersion.GetProperty("cipher").GetString() }));

        Assert.Equal("INVALID_ARGUMENT", otherVersion.GetProperty("code").GetString());
        Assert.Equal("Unsupported KMS API version 'v1'; this service speaks v1beta1.", otherVersion.GetProperty("details").GetString());
        Assert.Equal(ping, decrypted.GetProperty("plain").GetString());
    }

    [Fact]
    public async Task A_key_id_empty_or_over_the_limit_is_refused_naming_its_length_and_a_v1_version_past_64_characters_is_not_echoed()
    {
        var encrypted = KmsPeer.Ok(await Peer.CallAsync(Encrypt, new { plaintext = Dek }));

        var emptyKeyId = await Peer.CallAsync(Decrypt, new { ciphertext = encrypted.GetProperty("ciphertext").GetString(), key_id = "" });
        var longKeyId = await Peer.CallAsync(Decrypt, new { ciphertext = encrypted.GetProperty("ciphertext").GetString(), key_id = new string('k', 2000) });
        var longVersion = await Peer.CallAsync("/v1beta1.KeyManagementService/Version", new { version = new string('v', 100) });

        Assert.Equal("INVALID_ARGUMENT", longKeyId.GetProperty("code").GetString());
        Assert.Equal("INVALID_ARGUMENT", emptyKeyId.GetProperty("code").GetString());
        Assert.Equal("key_id must be 1 to 1024 bytes, not 0.", emptyKeyId.GetProperty("details").GetString());
        Assert.Equal("key_id must be 1 to 1024 bytes, not 2000.", longKeyId.GetProperty("details").GetString());
        Assert.Equal("Unsupported KMS API version (100 characters); this service speaks v1beta1.", longVersion.GetProperty("details").GetString());
    }

    [Fact]
    public async Task An_unknown_method_is_unimplemented()
    {
        var result = await Peer.CallAsync("/v2.KeyManagementService/Rotate");

        Assert.Equal("UNIMPLEMENTED", result.GetProperty("code").GetString());
    }

    [Fact]
    public async Task The_socket_is_owner_only_removed_on_shutdown_and_the_client_reconnects_after_a_restart()
    {
        var before = KmsPeer.Ok(await Peer.CallAsync(Encrypt, new { plaintext = Dek }));
        Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(Socket));
        Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute, File.GetUnixFileMode(Path.GetDirectoryName(Socket)!));

        // The directory the socket was made in before it was given its name is gone once the plugin serves.
        Assert.Equal([Socket], Directory.GetFileSystemEntries(Path.GetDirectoryName(Socket)!));

        Assert.Equal(0, await fixture.Server.StopAsync());
        Assert.False(File.Exists(Socket));
        Assert.Equal("UNAVAILABLE", (await Peer.CallAsync(Status)).GetProperty("code").GetString());

        await fixture.RestartAsync();
        var status = await Peer.WaitForOkAsync(Status, RestartTimeout);
        var old = KmsPeer.Ok(await Peer.CallAsync(Decrypt, new { ciphertext = before.GetProperty("ciphertext").GetString(), key_id = before.GetProperty("key_id").GetString() }));

        Assert.Equal("ok", status.GetProperty("healthz").GetString());
        Assert.Equal(Dek, old.GetProperty("plaintext").GetString());
    }

    [Fact]
    public async Task A_live_socket_is_not_taken_over_and_keeps_answering_and_a_stale_one_left_by_a_crash_is_replaced()
    {
        var before = KmsPeer.Ok(await Peer.CallAsync(Encrypt, new { plaintext = Dek }));
        using var second = new TempDirectory();
        var refused = await TrousseauServerProcess.RunToExitAsync(second.Combine("data"), ["--kms-socket", Socket]);
        Assert.Equal(1, refused.ExitCode);
        Assert.Contains("in use", refused.Stderr, StringComparison.Ordinal);

        // Still the first plugin that answers: it decrypts what it encrypted, which the second one's key ring could not.
        var afterRefusal = await Peer.CallAsync(Decrypt, new { ciphertext = before.GetProperty("ciphertext").GetString(), key_id = before.GetProperty("key_id").GetString() });
        Assert.Equal(Dek, KmsPeer.Ok(afterRefusal).GetProperty("plaintext").GetString());
        Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(Socket));

        await fixture.Server.KillAsync();
        Assert.True(File.Exists(Socket));
        await fixture.RestartAsync();

        Assert.Equal("ok", (await Peer.WaitForOkAsync(Status, RestartTimeout)).GetProperty("healthz").GetString());
    }
}
