using System.Net;
using System.Net.Http.Json;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using System.Xml.Linq;
using Microsoft.AspNetCore.DataProtection;
using Microsoft.Data.Sqlite;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;
using Trousseau.Tests.Integration.Infrastructure;

namespace Trousseau.Tests.Integration.Server;

/// <summary>One trousseaud on the embedded default, its KMS socket with the python gRPC peer on it, and an API client.</summary>
public sealed class PurposeSeparationFixture : IAsyncLifetime, IDisposable
{
    private readonly TempDirectory _temp = new();

    internal TrousseauServerProcess Server { get; private set; } = null!;

    internal HttpClient Http { get; private set; } = null!;

    internal KmsPeer Peer { get; private set; } = null!;

    internal string DataDir => _temp.Combine("data");

    internal string KeysDirectory => _temp.Combine("dataprotection-keys");

    public async Task InitializeAsync()
    {
        Server = await TrousseauServerProcess.StartAsync(DataDir);
        Http = await BearerClient.FromTokenFileAsync(Server.BaseAddress, Path.Combine(DataDir, "api.token"));
        Peer = KmsPeer.Start(Path.Combine(DataDir, "kms.sock"));
    }

    public async Task DisposeAsync()
    {
        await Peer.DisposeAsync();
        Http.Dispose();
        await Server.DisposeAsync();
    }

    public void Dispose() => _temp.Dispose();
}

/// <summary>
/// What an API caller or a process on the KMS socket can open: only what was made for it. The attacker here reads
/// store.db as a file (no API token needed for that) and replays what it finds to the API and to the KMS socket.
/// </summary>
public sealed class PurposeSeparationTests(PurposeSeparationFixture fixture) : IClassFixture<PurposeSeparationFixture>
{
    private const string V2Decrypt = "/v2.KeyManagementService/Decrypt";
    private const string V1Decrypt = "/v1beta1.KeyManagementService/Decrypt";
    private static readonly byte[] DataProtectionContext = "Microsoft.AspNetCore.DataProtection key ring"u8.ToArray();

    [Fact]
    public async Task A_stored_records_wrapped_data_key_is_refused_by_kms_decrypt_in_every_ciphertext_format()
    {
        var record = await CreateAndReadRecordAsync("purpose/kms-replay");

        foreach (var format in new byte[] { 1, 3 })
        {
            var v2 = await fixture.Peer.CallAsync(V2Decrypt, new { ciphertext = Convert.ToBase64String(record.Envelope.KmsV2Ciphertext(format)), key_id = record.Envelope.KeyId });
            AssertRefusedByKms(v2);
        }

        foreach (var format in new byte[] { 2, 4 })
        {
            var v1 = await fixture.Peer.CallAsync(V1Decrypt, new { version = "v1beta1", cipher = Convert.ToBase64String(record.Envelope.KmsV1Ciphertext(format)) });
            AssertRefusedByKms(v1);
        }
    }

    [Fact]
    public async Task A_stored_record_is_refused_by_the_decrypt_endpoint_even_with_the_stores_own_context()
    {
        var record = await CreateAndReadRecordAsync("purpose/api-replay");
        var storeContext = (byte[])[.. "trousseau/secret/v1\0"u8, .. Encoding.UTF8.GetBytes(record.Name), 0, .. record.Header];

        foreach (var context in new[] { storeContext, [], "purpose/api-replay"u8.ToArray() })
        {
            using var response = await DecryptAsync(record.EnvelopeBytes, context);

            var problem = await Problems.AssertAsync(response, HttpStatusCode.BadRequest);
            Assert.Equal("urn:trousseau:problem:invalid-ciphertext", problem.GetProperty("type").GetString());
            Assert.DoesNotContain("s3cret-value", await response.Content.ReadAsStringAsync(), StringComparison.Ordinal);
        }
    }

    [Fact]
    public async Task A_data_protection_key_of_an_app_sharing_the_key_ring_is_refused_by_the_decrypt_endpoint()
    {
        var services = new ServiceCollection();
        services.AddLogging();
        services.AddTrousseau(_ => { })
            .UseLocalKeyRing(ring => ring.KeyFile = Path.Combine(fixture.DataDir, "local.keyring"))
            .UseInMemoryStore();
        services.AddDataProtection()
            .SetApplicationName("purpose-tests")
            .PersistKeysToFileSystem(new DirectoryInfo(fixture.KeysDirectory))
            .ProtectKeysWithTrousseau();
        await using (var app = services.BuildServiceProvider())
        {
            app.GetRequiredService<IDataProtectionProvider>().CreateProtector("orders").Protect("cookie");
        }

        var keyFile = Assert.Single(Directory.GetFiles(fixture.KeysDirectory, "key-*.xml"));
        var ciphertext = Convert.FromBase64String(XDocument.Load(keyFile).Descendants("ciphertext").Single().Value);

        foreach (var context in new[] { DataProtectionContext, [] })
        {
            using var response = await DecryptAsync(ciphertext, context);

            var problem = await Problems.AssertAsync(response, HttpStatusCode.BadRequest);
            Assert.Equal("urn:trousseau:problem:invalid-ciphertext", problem.GetProperty("type").GetString());
            Assert.DoesNotContain("masterKey", await response.Content.ReadAsStringAsync(), StringComparison.Ordinal);
        }
    }

    [Fact]
    public async Task Encrypt_and_decrypt_through_the_api_still_round_trip_with_and_without_a_context()
    {
        foreach (var context in new[] { "tenant-a"u8.ToArray(), DataProtectionContext, [] })
        {
            using var encrypted = await fixture.Http.PostAsJsonAsync("v1/encrypt", new { plaintext = Convert.ToBase64String("round trip"u8), context = Base64OrNull(context) });
            Assert.Equal(HttpStatusCode.OK, encrypted.StatusCode);
            var ciphertext = Convert.FromBase64String((await encrypted.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("ciphertext").GetString()!);

            using var decrypted = await DecryptAsync(ciphertext, context);

            Assert.Equal(HttpStatusCode.OK, decrypted.StatusCode);
            Assert.Equal("round trip", Encoding.UTF8.GetString(Convert.FromBase64String((await decrypted.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("plaintext").GetString()!)));
        }
    }

    [Fact]
    public async Task An_api_ciphertexts_data_key_is_refused_by_kms_decrypt()
    {
        using var encrypted = await fixture.Http.PostAsJsonAsync("v1/encrypt", new { plaintext = Convert.ToBase64String("api data"u8) });
        var envelope = EnvelopeFields.Parse(Convert.FromBase64String((await encrypted.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("ciphertext").GetString()!));

        var refused = await fixture.Peer.CallAsync(V2Decrypt, new { ciphertext = Convert.ToBase64String(envelope.KmsV2Ciphertext(1)), key_id = envelope.KeyId });

        AssertRefusedByKms(refused);
    }

    [Fact]
    public async Task A_kms_ciphertext_written_before_the_upgrade_still_decrypts_through_the_socket()
    {
        var seed = RandomNumberGenerator.GetBytes(32);
        WrappedKey wrapped;
        using (var ring = new LocalKeyRingProvider(Options.Create(new LocalKeyRingOptions { KeyFile = Path.Combine(fixture.DataDir, "local.keyring") }), TimeProvider.System))
        {
            // What the plugin wrote before its wraps carried a purpose: the bare key, in format 1.
            wrapped = await ring.WrapAsync(seed);
        }

        var envelope = new EnvelopeFields(wrapped.KeyId, wrapped.KeyVersion, wrapped.Ciphertext.ToArray());
        var decrypted = KmsPeer.Ok(await fixture.Peer.CallAsync(V2Decrypt, new { ciphertext = Convert.ToBase64String(envelope.KmsV2Ciphertext(1)), key_id = envelope.KeyId }));
        var decryptedV1 = KmsPeer.Ok(await fixture.Peer.CallAsync(V1Decrypt, new { version = "v1beta1", cipher = Convert.ToBase64String(envelope.KmsV1Ciphertext(2)) }));

        Assert.Equal(seed, Convert.FromBase64String(decrypted.GetProperty("plaintext").GetString()!));
        Assert.Equal(seed, Convert.FromBase64String(decryptedV1.GetProperty("plain").GetString()!));
        Assert.Contains("Trousseau:Kms:AcceptLegacyCiphertext is true", fixture.Server.Log, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_ciphertext_naming_a_version_of_this_key_ring_that_it_lacks_is_refused_naming_it_and_leaves_the_key_provider_check_healthy()
    {
        var current = await CurrentKeyIdAsync();
        var forgedKeyId = $"local-{current.Split('-')[1]}-v9-0badc0de";
        using var encrypted = await fixture.Http.PostAsJsonAsync("v1/encrypt", new { plaintext = Convert.ToBase64String("api data"u8) });
        var ciphertext = Convert.FromBase64String((await encrypted.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("ciphertext").GetString()!);

        var forged = new EnvelopeFields(forgedKeyId, 9, RandomNumberGenerator.GetBytes(60));

        using var refused = await DecryptAsync(EnvelopeFields.WithKey(ciphertext, forged), []);
        var problem = await Problems.AssertAsync(refused, HttpStatusCode.BadRequest);
        var refusedByKms = await fixture.Peer.CallAsync(V2Decrypt, new { ciphertext = Convert.ToBase64String(forged.KmsV2Ciphertext(3)), key_id = forgedKeyId });
        var unchanged = await CurrentKeyIdAsync();

        // A check that names the key made after the decrypts ran after them.
        using var body = new StringContent("{}", Encoding.UTF8, "application/json");
        using var rotate = await fixture.Http.PostAsync(new Uri("v1/keys/rotate", UriKind.Relative), body);
        var rotated = (await rotate.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("keyId").GetString()!;
        var check = await Eventually.ReturnsAsync(
            KeyProviderCheckAsync,
            c => c.Description.Contains(rotated, StringComparison.Ordinal),
            awaited: $"the key-provider check of /readyz to name the key {rotated} made after the decrypts",
            show: c => $"{c}\n{fixture.Server.Log}");

        Assert.Equal("urn:trousseau:problem:invalid-ciphertext", problem.GetProperty("type").GetString());
        Assert.Contains($"'{forgedKeyId}' (version 9) is not in this key ring", problem.GetProperty("detail").GetString(), StringComparison.Ordinal);
        Assert.Equal("INVALID_ARGUMENT", refusedByKms.GetProperty("code").GetString());
        Assert.Contains($"'{forgedKeyId}' (version 9) is not in this key ring", refusedByKms.GetProperty("details").GetString(), StringComparison.Ordinal);
        Assert.Equal(current, unchanged);
        Assert.Equal(new KeyProviderCheck(HttpStatusCode.OK, "healthy", $"local key ring, current key {rotated}"), check);
    }

    private static void AssertRefusedByKms(JsonElement result)
    {
        Assert.Equal("INVALID_ARGUMENT", result.GetProperty("code").GetString());
        Assert.Contains("not wrapped by this KMS plugin", result.GetProperty("details").GetString(), StringComparison.Ordinal);
        Assert.False(result.TryGetProperty("response", out _));
    }

    private Task<HttpResponseMessage> DecryptAsync(byte[] ciphertext, byte[] context) =>
        fixture.Http.PostAsJsonAsync("v1/decrypt", new { ciphertext = Convert.ToBase64String(ciphertext), context = Base64OrNull(context) });

    private async Task<string> CurrentKeyIdAsync() =>
        (await fixture.Http.GetFromJsonAsync<JsonElement>("v1/keys")).GetProperty("keyId").GetString()!;

    private async Task<KeyProviderCheck> KeyProviderCheckAsync()
    {
        using var response = await fixture.Http.GetAsync(new Uri("readyz", UriKind.Relative));
        using var report = JsonDocument.Parse(await response.Content.ReadAsStringAsync());
        var check = report.RootElement.GetProperty("checks").GetProperty("key-provider");
        return new KeyProviderCheck(response.StatusCode, check.GetProperty("status").GetString(), check.GetProperty("description").GetString() ?? "");
    }

    private sealed record KeyProviderCheck(HttpStatusCode Code, string? Status, string Description);

    private static string? Base64OrNull(byte[] bytes) => bytes.Length == 0 ? null : Convert.ToBase64String(bytes);

    /// <summary>Creates a secret through the API, then reads its raw record from store.db as any reader of the file could.</summary>
    private async Task<StoredRecord> CreateAndReadRecordAsync(string name)
    {
        using var created = await fixture.Http.PostAsJsonAsync("v1/secrets", new { name, type = "opaque", data = new Dictionary<string, string> { ["password"] = "s3cret-value" } });
        Assert.Equal(HttpStatusCode.Created, created.StatusCode);

        await using var connection = new SqliteConnection($"Data Source={Path.Combine(fixture.DataDir, "store.db")};Mode=ReadOnly;Pooling=False");
        await connection.OpenAsync();
        await using var command = connection.CreateCommand();
        command.CommandText = "SELECT value FROM secrets WHERE key = $key";
        command.Parameters.AddWithValue("$key", name);
        var value = (byte[])(await command.ExecuteScalarAsync())!;

        // The record's clear header: format, type length, type, created and updated times (and a revision in format 2).
        var headerLength = 2 + value[1] + 16 + (value[0] == 2 ? 8 : 0);
        var envelope = value[headerLength..];
        return new StoredRecord(name, value[..headerLength], envelope, EnvelopeFields.Parse(envelope));
    }

    private sealed record StoredRecord(string Name, byte[] Header, byte[] EnvelopeBytes, EnvelopeFields Envelope);
}
