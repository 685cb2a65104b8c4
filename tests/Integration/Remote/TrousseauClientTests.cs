using System.Text;
using Trousseau.Remote;
using Trousseau.Tests.Integration.Infrastructure;

namespace Trousseau.Tests.Integration.Remote;

/// <summary>
/// The remote <see cref="ITrousseau"/> against a real trousseaud: same calls, same typed errors as in process. The
/// tests share one server, each under names of its own.
/// </summary>
public sealed class TrousseauClientTests : IClassFixture<ApiServerFixture>, IDisposable
{
    private readonly ApiServerFixture _fixture;
    private readonly HttpClient _http;
    private readonly TrousseauClient _client;

    public TrousseauClientTests(ApiServerFixture fixture)
    {
        _fixture = fixture;
        _http = new HttpClient { BaseAddress = fixture.Server.BaseAddress };
        _client = new TrousseauClient(_http, fixture.Token);
    }

    public void Dispose() => _http.Dispose();

    private static Dictionary<string, string> Data(string key, string value) => new(StringComparer.Ordinal) { [key] = value };

    [Fact]
    public async Task Secrets_round_trip_through_the_interface()
    {
        ITrousseau trousseau = _client;
        var created = await trousseau.CreateSecretAsync("remote/login", SecretType.Login, new Dictionary<string, string> { ["username"] = "u", ["password"] = "p" });
        var updated = await trousseau.UpdateSecretAsync("remote/login", new Dictionary<string, string> { ["username"] = "u", ["password"] = "q" }, expectedRevision: created.Revision);
        var secret = await trousseau.GetSecretAsync("remote/login");
        var generated = await trousseau.GenerateSecretAsync("remote/generated", new SecretGenerationOptions { Length = 24 });
        var listed = new List<string>();
        await foreach (var item in trousseau.ListSecretsAsync("remote/"))
        {
            listed.Add(item.Name);
        }

        Assert.Equal(updated, secret.Metadata);
        Assert.Equal("q", secret.Data["password"]);
        Assert.Equal(SecretType.Login, secret.Type);
        Assert.Equal(24, (await trousseau.GetSecretAsync(generated.Name)).Data.Single().Value.Length);
        Assert.Equal(["remote/generated", "remote/login"], listed);

        await trousseau.DeleteSecretAsync("remote/login", updated.Revision);
        await Assert.ThrowsAsync<SecretNotFoundException>(async () => await trousseau.GetSecretAsync("remote/login"));
    }

    [Fact]
    public async Task The_remote_listing_pages_like_the_in_process_one()
    {
        var names = Enumerable.Range(0, 5).Select(i => $"remote-pages/{i}").ToList();
        foreach (var name in names)
        {
            await _client.CreateSecretAsync(name, SecretType.Opaque, Data("k", "v"));
        }

        var first = await _client.ListSecretsPageAsync("remote-pages/", limit: 3);
        var second = await _client.ListSecretsPageAsync("remote-pages/", first.ContinuationToken, limit: 3);
        var all = new List<string>();
        await foreach (var item in _client.ListSecretsAsync("remote-pages/"))
        {
            all.Add(item.Name);
        }

        Assert.Equal(names, [.. first.Items.Select(m => m.Name), .. second.Items.Select(m => m.Name)]);
        Assert.NotNull(first.ContinuationToken);
        Assert.Null(second.ContinuationToken);
        Assert.Equal(names, all);
        await Assert.ThrowsAsync<InvalidInputException>(async () => await _client.ListSecretsPageAsync("remote-pages/", limit: 0));
        await Assert.ThrowsAsync<InvalidInputException>(async () => await _client.ListSecretsPageAsync("other/", first.ContinuationToken));
    }

    [Fact]
    public async Task Server_errors_arrive_as_the_same_typed_exceptions()
    {
        var created = await _client.CreateSecretAsync("errors/typed", SecretType.Opaque, Data("k", "v"));
        await _client.UpdateSecretAsync("errors/typed", Data("k", "w"));

        var exists = await Assert.ThrowsAsync<SecretConflictException>(async () => await _client.CreateSecretAsync("errors/typed", SecretType.Opaque, Data("k", "v")));
        var stale = await Assert.ThrowsAsync<SecretConflictException>(async () => await _client.UpdateSecretAsync("errors/typed", Data("k", "x"), expectedRevision: created.Revision));
        await Assert.ThrowsAsync<SecretNotFoundException>(async () => await _client.DeleteSecretAsync("errors/absent"));
        await Assert.ThrowsAsync<InvalidInputException>(async () => await _client.CreateSecretAsync("errors/login-bad", SecretType.Login, Data("password", "p")));
        await Assert.ThrowsAsync<SecretTooLargeException>(async () => await _client.CreateSecretAsync("errors/big", SecretType.Opaque, Data("k", new string('x', TrousseauLimits.MaxSecretDataBytes + 1))));
        await Assert.ThrowsAsync<InvalidCiphertextException>(async () => await _client.DecryptAsync(Encoding.ASCII.GetBytes("TRS garbage that is long enough to parse")));

        Assert.Equal(SecretConflictReason.AlreadyExists, exists.Reason);
        Assert.Equal(SecretConflictReason.RevisionMismatch, stale.Reason);
    }

    /// <summary>
    /// A patch whose merged data runs past 1 MiB is refused by the server alone (the client does not hold the values
    /// kept): the caller gets <see cref="SecretTooLargeException"/> with the merged size, as in process.
    /// </summary>
    [Fact]
    public async Task A_patch_the_server_finds_too_large_is_a_SecretTooLargeException_with_its_size()
    {
        var value = new string('x', TrousseauLimits.MaxSecretDataBytes - 10);
        var created = await _client.CreateSecretAsync("remote-large/patched", SecretType.Opaque, Data("k", value));

        var refused = await Assert.ThrowsAsync<SecretTooLargeException>(
            async () => await _client.PatchSecretAsync("remote-large/patched", new Dictionary<string, string?> { ["k2"] = new string('y', 100) }));

        Assert.Equal("k".Length + value.Length + "k2".Length + 100, refused.Size);
        Assert.Equal($"Secret data is {refused.Size} bytes; the limit is {TrousseauLimits.MaxSecretDataBytes} bytes.", refused.Message);
        Assert.Equal(created, (await _client.GetSecretAsync("remote-large/patched")).Metadata);
    }

    [Theory]
    [InlineData(0)]
    [InlineData(-1)]
    public async Task A_revision_no_secret_can_be_at_is_a_mismatch_as_in_process_and_changes_nothing(long revision)
    {
        var name = $"stale/below-one{revision}";
        var created = await _client.CreateSecretAsync(name, SecretType.Opaque, Data("k", "v"));

        var update = await Assert.ThrowsAsync<SecretConflictException>(async () => await _client.UpdateSecretAsync(name, Data("k", "x"), expectedRevision: revision));
        var patch = await Assert.ThrowsAsync<SecretConflictException>(async () => await _client.PatchSecretAsync(name, new Dictionary<string, string?> { ["k"] = "x" }, expectedRevision: revision));
        var regenerate = await Assert.ThrowsAsync<SecretConflictException>(async () => await _client.RegenerateSecretAsync(name, expectedRevision: revision));
        var delete = await Assert.ThrowsAsync<SecretConflictException>(async () => await _client.DeleteSecretAsync(name, revision));
        await Assert.ThrowsAsync<SecretNotFoundException>(async () => await _client.UpdateSecretAsync("stale/absent", Data("k", "x"), expectedRevision: revision));

        Assert.All([update, patch, regenerate, delete], e => Assert.Equal(SecretConflictReason.RevisionMismatch, e.Reason));
        var secret = await _client.GetSecretAsync(name);
        Assert.Equal(created, secret.Metadata);
        Assert.Equal("v", secret.Data["k"]);
    }

    [Fact]
    public async Task A_patch_names_the_removed_keys_the_secret_did_not_hold_as_the_server_answered_them()
    {
        var created = await _client.CreateSecretAsync("remote-patch/absent", SecretType.Opaque, new Dictionary<string, string> { ["k"] = "v", ["old"] = "x", ["older"] = "y" });

        var partly = await _client.PatchSecretAsync("remote-patch/absent", new Dictionary<string, string?> { ["old"] = null, ["gone"] = null, ["k"] = "v2", ["olde"] = null });
        var present = await _client.PatchSecretAsync("remote-patch/absent", new Dictionary<string, string?> { ["older"] = null });

        Assert.Equal(["gone", "olde"], partly.AbsentKeys);
        Assert.Empty(present.AbsentKeys);
        Assert.True(partly.Metadata.Revision > created.Revision);
        var secret = await _client.GetSecretAsync("remote-patch/absent");
        Assert.Equal(present.Metadata, secret.Metadata);
        Assert.Equal(new Dictionary<string, string> { ["k"] = "v2" }, secret.Data);
    }

    [Fact]
    public async Task A_server_naming_as_absent_keys_the_patch_did_not_remove_is_not_believed_for_those()
    {
        const string Body = """{"name":"remote/odd","type":"opaque","revision":7,"createdAt":"2026-01-01T00:00:00+00:00","updatedAt":"2026-01-01T00:00:00+00:00"}""";
        using var odd = TcpStandIn.Writing(
            $"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nTrousseau-Absent-Keys: k, stranger, olde\r\nContent-Length: {Body.Length}\r\nConnection: close\r\n\r\n{Body}");
        using var http = new HttpClient { BaseAddress = odd.BaseAddress };
        var client = new TrousseauClient(http);

        var result = await client.PatchSecretAsync("remote/odd", new Dictionary<string, string?> { ["k"] = "v", ["olde"] = null });

        Assert.Equal(["olde"], result.AbsentKeys);
        Assert.Equal(7, result.Metadata.Revision);
    }

    [Fact]
    public async Task A_wrong_token_is_forbidden_and_a_stopped_server_is_unavailable()
    {
        using var http = new HttpClient { BaseAddress = _fixture.Server.BaseAddress };
        var wrong = new TrousseauClient(http, "not-the-token");
        await Assert.ThrowsAsync<AccessForbiddenException>(async () => await wrong.GetKeyStatusAsync());

        using var temp = new TempDirectory();
        await using var stopped = await TrousseauServerProcess.StartAsync(temp.Combine("data"));
        var token = await BearerClient.ReadTokenAsync(temp.Combine("data", "api.token"));
        using var toStopped = new HttpClient { BaseAddress = stopped.BaseAddress };
        var client = new TrousseauClient(toStopped, token);
        Assert.Equal("local", (await client.GetKeyStatusAsync()).Provider);
        Assert.Equal(0, await stopped.StopAsync());

        var error = await Assert.ThrowsAsync<DependencyUnavailableException>(async () => await client.GetSecretAsync("any"));
        Assert.DoesNotContain(token, error.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("200 OK")]
    [InlineData("500 Internal Server Error")]
    public async Task An_answer_that_never_ends_is_read_to_16_MiB_and_no_further_and_is_unavailable(string status)
    {
        using var endless = TcpStandIn.Endless(status);
        using var http = new HttpClient { BaseAddress = endless.BaseAddress };
        var client = new TrousseauClient(http);

        var failure = await Assert.ThrowsAsync<DependencyUnavailableException>(async () => await client.GetSecretAsync("remote/endless"));

        Assert.Equal(
            $"The answer of trousseaud at {endless.BaseAddress} runs past 16 MiB, more than trousseaud ever sends; "
            + "it was not read further: is this the address trousseaud serves its API on?",
            failure.Message);
    }

    [Fact]
    public async Task Bytes_encrypted_remotely_decrypt_remotely_under_the_same_context_only()
    {
        var sealedBytes = await _client.EncryptAsync("remote payload"u8.ToArray(), "ctx-a"u8.ToArray());

        Assert.Equal("local", sealedBytes.Provider);
        Assert.Equal("remote payload", Encoding.UTF8.GetString(await _client.DecryptAsync(sealedBytes.Ciphertext, "ctx-a"u8.ToArray())));
        await Assert.ThrowsAsync<InvalidCiphertextException>(async () => await _client.DecryptAsync(sealedBytes.Ciphertext, "ctx-b"u8.ToArray()));
    }
}
