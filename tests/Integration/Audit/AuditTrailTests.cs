using System.Net;
using System.Net.Http.Json;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using Trousseau.Tests.Integration.Infrastructure;

namespace Trousseau.Tests.Integration.Audit;

/// <summary>
/// The audit trail through a real trousseaud: one hash-chained JSON line per API call and per KMS Encrypt or Decrypt,
/// never a value or a token; <c>clectl audit verify</c> on the real files and on tampered copies; rotation and restarts
/// keeping the chain; and what a call gets when its record cannot be written.
/// </summary>
public sealed class AuditTrailTests(ApiServerFixture fixture) : IClassFixture<ApiServerFixture>
{
    private static readonly string[] Fields =
        ["time", "source", "requestId", "traceId", "identity", "action", "secret", "revision", "outcome", "httpStatus", "grpcStatus", "remote", "prev"];

    private static readonly string Genesis = new('0', 64);

    /// <summary>The fixture's trail, <c>audit.log</c> in its data directory.</summary>
    private string Trail => Path.Combine(fixture.DataDir, "audit.log");

    private ClectlRunner Clectl => new(fixture.WorkingDirectory, new Dictionary<string, string?> { ["XDG_CONFIG_HOME"] = Path.Combine(fixture.WorkingDirectory, "config") });

    [Fact]
    public async Task Each_api_call_is_one_line_with_its_identity_action_secret_outcome_and_status_and_never_a_value_or_token()
    {
        var name = "audit/db-" + Guid.NewGuid().ToString("N")[..8];
        var value = "value-" + Guid.NewGuid().ToString("N");
        var wrongToken = "wrong-token-" + Guid.NewGuid().ToString("N");

        using var created = await fixture.Http.PostAsJsonAsync("v1/secrets", new { name, data = new { password = value } });
        Assert.Equal(HttpStatusCode.Created, created.StatusCode);
        var revision = long.Parse(created.Headers.ETag!.Tag.Trim('"'), System.Globalization.CultureInfo.InvariantCulture);
        using var read = await fixture.Http.GetAsync(new Uri($"v1/secrets/{name}", UriKind.Relative));
        Assert.Equal(HttpStatusCode.OK, read.StatusCode);
        using var intruder = BearerClient.Create(fixture.Server.BaseAddress, wrongToken);
        using var denied = await intruder.GetAsync(new Uri($"v1/secrets/{name}", UriKind.Relative));
        Assert.Equal(HttpStatusCode.Unauthorized, denied.StatusCode);
        using var missing = await fixture.Http.GetAsync(new Uri($"v1/secrets/{name}-absent", UriKind.Relative));
        Assert.Equal(HttpStatusCode.NotFound, missing.StatusCode);
        using var rotated = await fixture.Http.PostAsync(new Uri("v1/keys/rotate", UriKind.Relative), new StringContent("{}", Encoding.UTF8, "application/json"));
        Assert.Equal(HttpStatusCode.OK, rotated.StatusCode);

        var text = await File.ReadAllTextAsync(Trail);
        var records = Records(text);
        var ofSecret = records.Where(r => r.GetProperty("secret").GetString() == name).ToList();
        Assert.Equal(3, ofSecret.Count);
        AssertRecord(ofSecret[0], "create", name, "ok", 201, revision);
        AssertRecord(ofSecret[1], "read", name, "ok", 200, revision);
        AssertRecord(ofSecret[2], "read", name, "unauthenticated", 401, null);
        Assert.Equal(JsonValueKind.Null, ofSecret[2].GetProperty("identity").ValueKind);
        AssertRecord(Assert.Single(records, r => r.GetProperty("secret").GetString() == name + "-absent"), "read", name + "-absent", "not-found", 404, null);
        AssertRecord(records.Last(r => r.GetProperty("action").GetString() == "keys"), "keys", null, "ok", 200, null);

        foreach (var record in ofSecret)
        {
            Assert.Equal(Fields, record.EnumerateObject().Select(p => p.Name));
            Assert.Equal("api", record.GetProperty("source").GetString());
            Assert.Matches(@"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$", record.GetProperty("time").GetString());
            Assert.False(string.IsNullOrEmpty(record.GetProperty("requestId").GetString()));
            Assert.StartsWith("127.0.0.1:", record.GetProperty("remote").GetString(), StringComparison.Ordinal);
            Assert.Equal(JsonValueKind.Null, record.GetProperty("grpcStatus").ValueKind);
        }

        Assert.DoesNotContain(value, text, StringComparison.Ordinal);
        Assert.DoesNotContain(wrongToken, text, StringComparison.Ordinal);
        Assert.DoesNotContain(fixture.Token, text, StringComparison.Ordinal);
        Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(Trail));
    }

    [Fact]
    public async Task A_path_with_dot_segments_is_refused_and_recorded_under_the_name_they_resolve_to()
    {
        var target = "audit/dots-" + Guid.NewGuid().ToString("N")[..8];

        using var response = await fixture.Http.GetAsync(fixture.RawUri($"v1/secrets/app/x/../../{target}"));

        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        var record = Assert.Single(Records(await File.ReadAllTextAsync(Trail)), r => r.GetProperty("secret").GetString() == target);
        AssertRecord(record, "read", target, "invalid", 400, null);
    }

    [Fact]
    public async Task Kms_encrypt_and_decrypt_are_recorded_with_the_callers_uid_and_grpc_status_and_status_calls_are_not()
    {
        var dek = RandomNumberGenerator.GetBytes(32);
        var plaintext = Convert.ToBase64String(dek);
        var before = Records(await File.ReadAllTextAsync(Trail)).Count(r => r.GetProperty("source").GetString() == "kms");

        await using (var peer = KmsPeer.Start(Path.Combine(fixture.DataDir, "kms.sock")))
        {
            KmsPeer.Ok(await peer.CallAsync("/v2.KeyManagementService/Status"));
            var encrypted = KmsPeer.Ok(await peer.CallAsync("/v2.KeyManagementService/Encrypt", new { plaintext }));
            var ciphertext = encrypted.GetProperty("ciphertext").GetString()!;
            KmsPeer.Ok(await peer.CallAsync("/v2.KeyManagementService/Decrypt", new { ciphertext, key_id = encrypted.GetProperty("key_id").GetString() }));
            var refused = await peer.CallAsync("/v2.KeyManagementService/Decrypt", new { ciphertext = Convert.ToBase64String(new byte[40]), key_id = "not-issued-here" });
            Assert.Equal("INVALID_ARGUMENT", refused.GetProperty("code").GetString());
            KmsPeer.Ok(await peer.CallAsync("/v1beta1.KeyManagementService/Encrypt", new { version = "v1beta1", plain = plaintext }));

            var trail = await File.ReadAllBytesAsync(Trail);
            AssertHoldsNoPartOf(dek, trail, "DEK");
            AssertHoldsNoPartOf(Convert.FromBase64String(ciphertext), trail, "ciphertext");
        }

        var kms = Records(await File.ReadAllTextAsync(Trail)).Where(r => r.GetProperty("source").GetString() == "kms").Skip(before).ToList();
        Assert.Equal(["encrypt", "decrypt", "decrypt", "encrypt"], kms.Select(r => r.GetProperty("action").GetString()));
        Assert.Equal(["OK", "OK", "INVALID_ARGUMENT", "OK"], kms.Select(r => r.GetProperty("grpcStatus").GetString()));
        Assert.Equal(["ok", "ok", "invalid", "ok"], kms.Select(r => r.GetProperty("outcome").GetString()));
        foreach (var record in kms)
        {
            Assert.Equal(Fields, record.EnumerateObject().Select(p => p.Name));
            Assert.Equal($"uid:{CurrentUid()}", record.GetProperty("identity").GetString());
            Assert.Matches("^pid:[1-9][0-9]*$", record.GetProperty("remote").GetString());
            Assert.Equal(JsonValueKind.Null, record.GetProperty("secret").ValueKind);
            Assert.Equal(JsonValueKind.Null, record.GetProperty("httpStatus").ValueKind);
        }
    }

    [Fact]
    public async Task Clectl_audit_verify_passes_on_the_real_trail_and_names_the_line_an_edit_a_drop_or_a_swap_breaks()
    {
        // Calls at once: the one writer keeps them whole lines in one chain.
        var names = Enumerable.Range(0, 40).Select(i => $"audit/parallel-{Guid.NewGuid():N}").ToList();
        await Task.WhenAll(names.Select(async name =>
        {
            using var response = await fixture.Http.GetAsync(new Uri($"v1/secrets/{name}", UriKind.Relative));
            Assert.Equal(HttpStatusCode.NotFound, response.StatusCode);
        }));

        var intact = await Clectl.RunAsync("audit", "verify", Trail);
        ClectlAssert.Ok(intact);
        Assert.Contains(Trail, intact.Stdout, StringComparison.Ordinal);
        Assert.Contains("genesis", intact.Stdout, StringComparison.Ordinal);
        var json = await Clectl.RunAsync("audit", "verify", Trail, "-o", "json");
        ClectlAssert.Ok(json);
        var lines = (await File.ReadAllTextAsync(Trail)).Split('\n')[..^1];
        using (var report = JsonDocument.Parse(json.Stdout))
        {
            var trail = Assert.Single(report.RootElement.GetProperty("trails").EnumerateArray());
            Assert.Equal(lines.Length, trail.GetProperty("lines").GetInt64());
            Assert.True(trail.GetProperty("startsAtGenesis").GetBoolean());
        }

        var ofCalls = Records(string.Join('\n', lines)).Where(r => r.GetProperty("secret").GetString() is { } secret && names.Contains(secret)).ToList();
        Assert.Equal(names.Order(StringComparer.Ordinal), ofCalls.Select(r => r.GetProperty("secret").GetString()).Order(StringComparer.Ordinal));
        Assert.All(ofCalls, r => AssertRecord(r, "read", r.GetProperty("secret").GetString(), "not-found", 404, null));
        var edited = lines.ToArray();
        edited[2] = edited[2].Replace("\"time\":\"2", "\"time\":\"1", StringComparison.Ordinal);
        var dropped = lines.Where((_, i) => i != 2).ToArray();
        var swapped = lines.ToArray();
        (swapped[2], swapped[3]) = (swapped[3], swapped[2]);

        var editedError = ClectlAssert.Fails(await VerifyCopyAsync(edited), 7);
        var droppedError = ClectlAssert.Fails(await VerifyCopyAsync(dropped), 7);
        var swappedError = ClectlAssert.Fails(await VerifyCopyAsync(swapped), 7);

        Assert.Contains("audit.log line 4 does not follow line 3", editedError, StringComparison.Ordinal);
        Assert.Contains("audit.log line 3 does not follow line 2", droppedError, StringComparison.Ordinal);
        Assert.Contains("audit.log line 3 does not follow line 2", swappedError, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Verify_names_a_line_longer_than_any_record_as_not_one_though_its_chain_holds()
    {
        using (var response = await fixture.Http.GetAsync(new Uri("v1/secrets/audit/long-line", UriKind.Relative)))
        {
            Assert.Equal(HttpStatusCode.NotFound, response.StatusCode);
        }

        var lines = (await File.ReadAllTextAsync(Trail)).Split('\n')[..^1];
        var padded = $"{{\"prev\":\"{Sha256(lines[^1])}\",\"pad\":\"{new string('a', 2 * 1024 * 1024)}\"}}";

        var error = ClectlAssert.Fails(await VerifyCopyAsync([.. lines, padded]), 7);

        Assert.Contains($"audit.log line {lines.Length + 1} is not an audit record: it is longer than 1048576 bytes, which no record is.", error, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Verify_names_a_last_line_without_its_line_feed_as_incomplete_though_its_chain_holds()
    {
        using (var response = await fixture.Http.GetAsync(new Uri("v1/secrets/audit/torn-line", UriKind.Relative)))
        {
            Assert.Equal(HttpStatusCode.NotFound, response.StatusCode);
        }

        var lines = (await File.ReadAllTextAsync(Trail)).Split('\n')[..^1];
        var copy = Path.Combine(Directory.CreateDirectory(Path.Combine(fixture.WorkingDirectory, Guid.NewGuid().ToString("N")[..8])).FullName, "audit.log");
        await File.WriteAllTextAsync(copy, string.Join('\n', lines));

        var error = ClectlAssert.Fails(await Clectl.RunAsync("audit", "verify", copy), 7);

        Assert.Contains($"audit.log line {lines.Length} is incomplete (no line feed at its end)", error, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Verify_names_an_earlier_line_written_again_after_the_last_as_not_following_it()
    {
        for (var call = 0; call < 2; call++)
        {
            using var response = await fixture.Http.GetAsync(new Uri($"v1/secrets/audit/replayed-{call}", UriKind.Relative));
            Assert.Equal(HttpStatusCode.NotFound, response.StatusCode);
        }

        var lines = (await File.ReadAllTextAsync(Trail)).Split('\n')[..^1];

        // Each copy names a line of the chain, but not the one right before it.
        var lastAgain = ClectlAssert.Fails(await VerifyCopyAsync([.. lines, lines[^1]]), 7);
        var secondAgain = ClectlAssert.Fails(await VerifyCopyAsync([.. lines, lines[1]]), 7);

        Assert.Contains($"audit.log line {lines.Length + 1} does not follow line {lines.Length}", lastAgain, StringComparison.Ordinal);
        Assert.Contains($"audit.log line {lines.Length + 1} does not follow line {lines.Length}", secondAgain, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("in uppercase")]
    [InlineData("cut to its first half")]
    public async Task Verify_names_a_last_line_whose_prev_is_not_64_lowercase_hex_as_not_a_record_though_it_names_the_line_before(string change)
    {
        for (var call = 0; call < 2; call++)
        {
            using var response = await fixture.Http.GetAsync(new Uri($"v1/secrets/audit/last-prev-{call}", UriKind.Relative));
            Assert.Equal(HttpStatusCode.NotFound, response.StatusCode);
        }

        var lines = (await File.ReadAllTextAsync(Trail)).Split('\n')[..^1];
        var prev = Sha256(lines[^2]);
        var changed = change == "in uppercase" ? prev.ToUpperInvariant() : prev[..32];
        var edited = lines.ToArray();
        edited[^1] = edited[^1].Replace($"\"prev\":\"{prev}\"", $"\"prev\":\"{changed}\"", StringComparison.Ordinal);
        Assert.NotEqual(lines[^1], edited[^1]);

        var error = ClectlAssert.Fails(await VerifyCopyAsync(edited), 7);

        Assert.Contains($"audit.log line {lines.Length} is not an audit record: a JSON object whose \"prev\" is a SHA-256 in lowercase hex.", error, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Verify_names_the_first_line_of_a_file_that_does_not_follow_the_last_line_of_the_rotated_file_before_it()
    {
        using var temp = new TempDirectory();
        var dataDir = temp.Combine("data");
        var trail = Path.Combine(dataDir, "audit.log");
        await using (var server = await TrousseauServerProcess.StartAsync(
            dataDir, ["--Trousseau:Audit:MaxFileBytes=1024", "--Trousseau:Audit:MaxFiles=5", "--Trousseau:Kms:Enabled=false", "--Trousseau:Store=memory"]))
        {
            await CallsAsync(server, dataDir, 8);
        }

        Assert.True(File.Exists(trail + ".3"), "8 records of about 350 bytes fill more than three files of 1024 bytes");
        var clectl = new ClectlRunner(temp.Path, new Dictionary<string, string?>());
        ClectlAssert.Ok(await clectl.RunAsync("audit", "verify", trail));

        // A rotated file removed from the middle: audit.log.1 now comes right after audit.log.3.
        var withoutFile = CopyTrail(trail, temp.Combine("without-file"));
        File.Delete(withoutFile + ".2");
        var droppedFile = ClectlAssert.Fails(await clectl.RunAsync("audit", "verify", withoutFile), 7);

        // The last line of audit.log.1 removed: the line before it is now the one audit.log's first line must name.
        var withoutLine = CopyTrail(trail, temp.Combine("without-line"));
        var rotated = File.ReadAllLines(withoutLine + ".1");
        await File.WriteAllTextAsync(withoutLine + ".1", string.Join('\n', rotated[..^1]) + "\n");
        var droppedLine = ClectlAssert.Fails(await clectl.RunAsync("audit", "verify", withoutLine), 7);

        Assert.Contains(
            $"{withoutFile}.1 line 1 does not follow {withoutFile}.3 line {File.ReadAllLines(withoutFile + ".3").Length}: its \"prev\" is not the SHA-256 of that line",
            droppedFile,
            StringComparison.Ordinal);
        Assert.Contains(
            $"{withoutLine} line 1 does not follow {withoutLine}.1 line {rotated.Length - 1}: its \"prev\" is not the SHA-256 of that line",
            droppedLine,
            StringComparison.Ordinal);
    }

    [Fact]
    public async Task Rotation_and_restarts_keep_one_chain_across_files_and_a_line_cut_short_is_dropped()
    {
        using var temp = new TempDirectory();
        var dataDir = temp.Combine("data");
        var trail = Path.Combine(dataDir, "audit.log");
        string[] settings = ["--Trousseau:Audit:MaxFileBytes=1024", "--Trousseau:Audit:MaxFiles=2"];
        var server = await TrousseauServerProcess.StartAsync(dataDir, settings);
        try
        {
            await CallsAsync(server, dataDir, 15);
            Assert.True(File.Exists(trail + ".2"), "15 records of about 350 bytes fill more than three files of 1024 bytes");
            Assert.False(File.Exists(trail + ".3"), "Audit:MaxFiles=2 keeps two rotated files");
            foreach (var file in new[] { trail, trail + ".1", trail + ".2" })
            {
                Assert.InRange(new FileInfo(file).Length, 1, 1024);
                Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(file));
            }

            Assert.Equal(Sha256(LastLine(trail + ".1")), FirstRecord(trail).GetProperty("prev").GetString());

            Assert.Equal(0, await server.StopAsync());
            var lastBefore = LastLine(trail);
            await File.AppendAllTextAsync(trail, "{\"time\":\"20");
            server = await TrousseauServerProcess.StartAsync(dataDir, settings);
            await CallsAsync(server, dataDir, 1);

            Assert.Contains("Removed an incomplete last line (11 bytes)", server.Log, StringComparison.Ordinal);
            var verified = await new ClectlRunner(temp.Path, new Dictionary<string, string?>()).RunAsync("audit", "verify", trail);
            ClectlAssert.Ok(verified);
            Assert.Contains("after-removed-file", verified.Stdout, StringComparison.Ordinal);
            Assert.Contains(Records(string.Join('\n', Files(trail).Select(File.ReadAllText))), r => r.GetProperty("prev").GetString() == Sha256(lastBefore));
        }
        finally
        {
            await server.DisposeAsync();
        }
    }

    [Fact]
    public async Task After_a_kill_between_a_rotations_rename_and_the_new_file_verify_passes_and_the_restart_goes_on_from_the_renamed_file()
    {
        using var temp = new TempDirectory();
        var dataDir = temp.Combine("data");
        var trail = Path.Combine(dataDir, "audit.log");
        string[] settings = ["--Trousseau:Audit:MaxFileBytes=1024", "--Trousseau:Audit:MaxFiles=5", "--Trousseau:Kms:Enabled=false", "--Trousseau:Store=memory"];
        await using (var server = await TrousseauServerProcess.StartAsync(dataDir, settings))
        {
            await CallsAsync(server, dataDir, 4);
            Assert.True(File.Exists(trail + ".1"), "4 records of about 350 bytes fill more than one file of 1024 bytes");
            await server.KillAsync();
        }

        // The files as a kill leaves them right after a rotation renamed the full file to audit.log.1, before it
        // opened the new audit.log: the rotated files shifted up, no audit.log.
        for (var generation = 4; generation >= 1; generation--)
        {
            if (File.Exists($"{trail}.{generation}"))
            {
                File.Move($"{trail}.{generation}", $"{trail}.{generation + 1}");
            }
        }

        File.Move(trail, trail + ".1");
        var lines = Directory.EnumerateFiles(dataDir, "audit.log.*").Where(f => !f.EndsWith(".lock", StringComparison.Ordinal)).Sum(f => File.ReadAllLines(f).Length);
        var clectl = new ClectlRunner(temp.Path, new Dictionary<string, string?>());

        var crashed = await clectl.RunAsync("audit", "verify", trail, "-o", "json");

        ClectlAssert.Ok(crashed);
        Assert.Equal(lines, JsonDocument.Parse(crashed.Stdout).RootElement.GetProperty("trails")[0].GetProperty("lines").GetInt64());
        await using (var restarted = await TrousseauServerProcess.StartAsync(dataDir, settings))
        {
            await CallsAsync(restarted, dataDir, 1);
        }

        var whole = await clectl.RunAsync("audit", "verify", trail, "-o", "json");
        ClectlAssert.Ok(whole);
        Assert.True(JsonDocument.Parse(whole.Stdout).RootElement.GetProperty("trails")[0].GetProperty("lines").GetInt64() > lines, whole.Stdout);
    }

    [Fact]
    public async Task A_trail_restored_open_to_group_or_others_is_made_0600_with_a_warning_naming_it_and_its_old_mode_and_its_chain_goes_on()
    {
        using var temp = new TempDirectory();
        var dataDir = temp.Combine("data");
        var trail = Path.Combine(dataDir, "audit.log");
        await using (var server = await TrousseauServerProcess.StartAsync(dataDir))
        {
            await CallsAsync(server, dataDir, 1);
        }

        File.SetUnixFileMode(trail, (UnixFileMode)Convert.ToInt32("0644", 8));
        await using (var restarted = await TrousseauServerProcess.StartAsync(dataDir))
        {
            await CallsAsync(restarted, dataDir, 1);

            Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(trail));
            Assert.Contains($"The audit trail {trail} had mode 0644, which let group or others use it; it is now 0600", restarted.Log, StringComparison.Ordinal);
        }

        ClectlAssert.Ok(await new ClectlRunner(temp.Path, new Dictionary<string, string?>()).RunAsync("audit", "verify", trail));
    }

    [Fact]
    public async Task A_rotated_file_restored_open_to_group_or_others_is_made_0600_at_the_next_rotation_with_a_warning_naming_it()
    {
        using var temp = new TempDirectory();
        var dataDir = temp.Combine("data");
        var trail = Path.Combine(dataDir, "audit.log");
        await using var server = await TrousseauServerProcess.StartAsync(
            dataDir, ["--Trousseau:Audit:MaxFileBytes=1024", "--Trousseau:Audit:MaxFiles=3", "--Trousseau:Kms:Enabled=false", "--Trousseau:Store=memory"]);
        await CallsAsync(server, dataDir, 4);
        Assert.True(File.Exists(trail + ".1"), "4 records of about 350 bytes fill more than one file of 1024 bytes");
        File.SetUnixFileMode(trail + ".1", (UnixFileMode)Convert.ToInt32("0644", 8));

        // One call at a time until the next rotation has moved that file to .2 (a file of 1024 bytes holds 2 records).
        for (var call = 0; call < 4 && !File.Exists(trail + ".2"); call++)
        {
            await CallsAsync(server, dataDir, 1);
        }

        Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(trail + ".2"));
        await Eventually.HoldsAsync(
            () => server.Log.Contains($"The audit trail {trail}.2 had mode 0644, which let group or others use it; it is now 0600", StringComparison.Ordinal),
            () => server.Log);
        ClectlAssert.Ok(await new ClectlRunner(temp.Path, new Dictionary<string, string?>()).RunAsync("audit", "verify", trail));
    }

    [Fact]
    public async Task The_oldest_rotated_file_kept_restored_open_to_group_or_others_is_made_0600_at_the_next_start()
    {
        using var temp = new TempDirectory();
        var dataDir = temp.Combine("data");
        var trail = Path.Combine(dataDir, "audit.log");
        string[] settings = ["--Trousseau:Audit:MaxFileBytes=1024", "--Trousseau:Audit:MaxFiles=3", "--Trousseau:Kms:Enabled=false", "--Trousseau:Store=memory"];
        await using (var server = await TrousseauServerProcess.StartAsync(dataDir, settings))
        {
            await CallsAsync(server, dataDir, 8);
        }

        Assert.True(File.Exists(trail + ".3"), "8 records of about 350 bytes fill more than three files of 1024 bytes");
        File.SetUnixFileMode(trail + ".3", (UnixFileMode)Convert.ToInt32("0644", 8));

        await using (var server = await TrousseauServerProcess.StartAsync(dataDir, settings))
        {
            await Eventually.HoldsAsync(
                () => server.Log.Contains($"The audit trail {trail}.3 had mode 0644, which let group or others use it; it is now 0600", StringComparison.Ordinal),
                () => server.Log);
        }

        Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(trail + ".3"));
    }

    [Fact]
    public async Task Lowering_max_files_removes_the_rotated_files_beyond_it_at_the_next_rotation_and_the_chain_stays_whole()
    {
        using var temp = new TempDirectory();
        var dataDir = temp.Combine("data");
        var trail = Path.Combine(dataDir, "audit.log");
        await using (var server = await TrousseauServerProcess.StartAsync(dataDir, ["--Trousseau:Audit:MaxFileBytes=1024", "--Trousseau:Audit:MaxFiles=4"]))
        {
            await CallsAsync(server, dataDir, 20);
            Assert.True(File.Exists(trail + ".4"), "20 records of about 350 bytes fill more than five files of 1024 bytes");
        }

        await using (var server = await TrousseauServerProcess.StartAsync(dataDir, ["--Trousseau:Audit:MaxFileBytes=1024", "--Trousseau:Audit:MaxFiles=2"]))
        {
            await CallsAsync(server, dataDir, 8);
        }

        var verified = await new ClectlRunner(temp.Path, new Dictionary<string, string?>()).RunAsync("audit", "verify", trail);
        ClectlAssert.Ok(verified);
        Assert.True(File.Exists(trail + ".2"));
        Assert.False(File.Exists(trail + ".3"), "Audit:MaxFiles=2 keeps two rotated files");
        Assert.False(File.Exists(trail + ".4"), "Audit:MaxFiles=2 keeps two rotated files");
    }

    [Fact]
    public async Task Verify_while_trousseaud_rotates_the_files_under_it_finds_the_chain_whole_every_time()
    {
        using var temp = new TempDirectory();
        var dataDir = temp.Combine("data");
        var trail = Path.Combine(dataDir, "audit.log");
        await using var server = await TrousseauServerProcess.StartAsync(dataDir, ["--Trousseau:Audit:MaxFileBytes=1024", "--Trousseau:Audit:MaxFiles=3"]);
        using var http = await BearerClient.FromTokenFileAsync(server.BaseAddress, Path.Combine(dataDir, "api.token"));
        using var done = new CancellationTokenSource();
        var calls = Task.Run(async () =>
        {
            for (var i = 0; !done.IsCancellationRequested; i++)
            {
                using var response = await http.GetAsync(new Uri($"v1/secrets/audit/busy-{i}", UriKind.Relative));
                Assert.Equal(HttpStatusCode.NotFound, response.StatusCode);
            }
        });

        var clectl = new ClectlRunner(temp.Path, new Dictionary<string, string?>());
        var results = new List<ProcessResult>();
        try
        {
            for (var run = 0; run < 15; run++)
            {
                results.Add(await clectl.RunAsync("audit", "verify", trail));
            }
        }
        finally
        {
            await done.CancelAsync();
            await calls;
        }

        Assert.All(results, ClectlAssert.Ok);
        Assert.True(File.Exists(trail + ".3"), "the calls rotated the trail");
    }

    [Fact]
    public async Task A_trail_that_cannot_be_written_refuses_calls_before_they_act_and_serves_the_next_call_once_it_can_be_written_again()
    {
        using var temp = new TempDirectory();
        var dataDir = temp.Combine("data");
        var trail = Path.Combine(dataDir, "audit.log");
        await using var server = await TrousseauServerProcess.StartAsync(dataDir, ["--Trousseau:Audit:MaxFileBytes=1024"]);
        using var http = await BearerClient.FromTokenFileAsync(server.BaseAddress, Path.Combine(dataDir, "api.token"));
        var clectl = new ClectlRunner(temp.Path, new Dictionary<string, string?> { ["TROUSSEAU_HOME"] = dataDir, ["XDG_CONFIG_HOME"] = temp.Combine("config") });

        // The file fills after a few lines, and its rotation cannot move it to a name a directory holds: a write fails.
        // (A trail that cannot be written at start stops trousseaud instead, see ServerStartupTests.)
        Directory.CreateDirectory(trail + ".1");
        await Eventually.ReturnsAsync(
            async () =>
            {
                using var read = await http.GetAsync(new Uri("v1/secrets/audit/filler", UriKind.Relative));
                return read.StatusCode;
            },
            status => status == HttpStatusCode.ServiceUnavailable,
            awaited: "a call whose record cannot be written once the trail's rotation fails",
            show: status => $"{(int)status}; the server's output:\n{server.Log}");

        using var refused = await http.PostAsJsonAsync("v1/secrets", new { name = "audit/refused", data = new { k = "v" } });
        var problem = await Problems.AssertAsync(refused, HttpStatusCode.ServiceUnavailable);
        Assert.Equal("urn:trousseau:problem:audit-unavailable", problem.GetProperty("type").GetString());
        var kms = ClectlAssert.Fails(await clectl.RunWithInputAsync("dek", "kms", "encrypt"), 6);
        Assert.Contains("audit trail", kms, StringComparison.Ordinal);
        using (var notReady = await http.GetAsync(new Uri("readyz", UriKind.Relative)))
        {
            Assert.Equal(HttpStatusCode.ServiceUnavailable, notReady.StatusCode);
            var audit = (await notReady.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("checks").GetProperty("audit");
            Assert.Equal("unhealthy", audit.GetProperty("status").GetString());
        }

        var kmsStatus = await clectl.RunAsync("kms", "status");
        Assert.Equal(6, kmsStatus.ExitCode);
        Assert.Contains("audit trail cannot be written", kmsStatus.Stdout, StringComparison.Ordinal);

        // Once the rotation can go through, the instance is ready again without a call being refused for it, and the
        // next call acts.
        Directory.Delete(trail + ".1");
        await Eventually.ReturnsAsync(
            async () =>
            {
                using var ready = await http.GetAsync(new Uri("readyz", UriKind.Relative));
                return ready.StatusCode;
            },
            status => status == HttpStatusCode.OK,
            awaited: "/readyz once the trail's rotation can go through, before any call",
            show: status => $"{(int)status}; the server's output:\n{server.Log}");
        ClectlAssert.Ok(await clectl.RunAsync("kms", "status"));

        using var absent = await http.GetAsync(new Uri("v1/secrets/audit/refused", UriKind.Relative));
        Assert.Equal(HttpStatusCode.NotFound, absent.StatusCode);
        using var created = await http.PostAsJsonAsync("v1/secrets", new { name = "audit/refused", data = new { k = "v" } });
        Assert.Equal(HttpStatusCode.Created, created.StatusCode);

        Assert.Equal(
            [("read", 404), ("create", 201)],
            Records(string.Join('\n', Files(trail).Select(File.ReadAllText))).Select(r => (r.GetProperty("action").GetString(), r.GetProperty("httpStatus").GetInt32())).TakeLast(2));
        await Eventually.HoldsAsync(() => server.Log.Contains("is written again; ", StringComparison.Ordinal), () => server.Log);
        Assert.Equal(1, Occurrences(server.Log, "cannot be written: the API and the KMS plugin refuse calls"));
        ClectlAssert.Ok(await new ClectlRunner(temp.Path, new Dictionary<string, string?>()).RunAsync("audit", "verify", trail));
    }

    [Fact]
    public async Task Two_daemons_on_one_data_directory_write_one_trail_whose_chain_stays_whole_across_their_rotations()
    {
        using var temp = new TempDirectory();
        var dataDir = temp.Combine("data");
        var trail = Path.Combine(dataDir, "audit.log");
        string[] settings = ["--Trousseau:Audit:MaxFileBytes=4096", "--Trousseau:Audit:MaxFiles=50", "--Trousseau:Kms:Enabled=false", "--Trousseau:Store=memory"];
        await using var first = await TrousseauServerProcess.StartAsync(dataDir, settings);
        await using var second = await TrousseauServerProcess.StartAsync(dataDir, settings);

        await Task.WhenAll(CallsAsync(first, dataDir, 40), CallsAsync(second, dataDir, 40));

        var verified = await new ClectlRunner(temp.Path, new Dictionary<string, string?>()).RunAsync("audit", "verify", trail, "-o", "json");
        ClectlAssert.Ok(verified);
        Assert.True(File.Exists(trail + ".2"), "80 records of about 350 bytes fill several files of 4096 bytes");
        var records = Records(string.Join('\n', Files(trail).Select(File.ReadAllText)));
        Assert.Equal(80, records.Count(r => r.GetProperty("action").GetString() == "read"));
    }

    [Fact]
    public async Task Verify_given_the_data_directory_instead_of_its_audit_file_exits_2_naming_the_file_to_give()
    {
        var line = ClectlAssert.Fails(await Clectl.RunAsync("audit", "verify", fixture.DataDir), 2);

        Assert.Equal(
            $"clectl: cannot read the audit file {fixture.DataDir}: it is a directory; give a trail's current file, such as {Trail}.",
            line);
    }

    [Fact]
    public async Task Verify_refuses_a_fifo_among_the_rotated_files_naming_it_instead_of_waiting_for_a_writer()
    {
        using var temp = new TempDirectory();
        var trail = temp.Combine("audit.log");
        await File.WriteAllTextAsync(trail, "");
        var fifo = trail + ".1";
        await Fifo.MakeAsync(fifo);

        var line = ClectlAssert.Fails(await Clectl.RunAsync("audit", "verify", trail), 2);

        Assert.StartsWith($"clectl: cannot read the audit file {fifo}: ", line, StringComparison.Ordinal);
        Assert.Contains("not a regular file", line, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Concurrent_calls_written_together_each_get_one_line_and_keep_one_chain_across_rotations()
    {
        using var temp = new TempDirectory();
        var dataDir = temp.Combine("data");
        var trail = Path.Combine(dataDir, "audit.log");
        string[] settings = ["--Trousseau:Audit:MaxFileBytes=20000", "--Trousseau:Audit:MaxFiles=50", "--Trousseau:Kms:Enabled=false", "--Trousseau:Store=memory"];
        await using var server = await TrousseauServerProcess.StartAsync(dataDir, settings);
        using var http = await BearerClient.FromTokenFileAsync(server.BaseAddress, Path.Combine(dataDir, "api.token"));

        var names = Enumerable.Range(0, 300).Select(i => $"audit/concurrent-{i}").ToList();
        await Task.WhenAll(names.Select(async name =>
        {
            using var response = await http.GetAsync(new Uri($"v1/secrets/{name}", UriKind.Relative));
            Assert.Equal(HttpStatusCode.NotFound, response.StatusCode);
        }));

        ClectlAssert.Ok(await new ClectlRunner(temp.Path, new Dictionary<string, string?>()).RunAsync("audit", "verify", trail));
        Assert.True(File.Exists(trail + ".4"), "300 records of about 350 bytes fill five files of 20000 bytes");
        var records = Records(string.Join('\n', Files(trail).Select(File.ReadAllText)));
        Assert.Equal(names.Order(StringComparer.Ordinal), records.Select(r => r.GetProperty("secret").GetString()).Order(StringComparer.Ordinal));
        var times = records.Select(r => r.GetProperty("time").GetString()!).ToList();
        Assert.Equal(times.Order(StringComparer.Ordinal), times);
    }

    [Fact]
    public async Task When_a_rotation_fails_under_concurrent_calls_every_answer_given_has_its_line_and_the_others_are_refused()
    {
        using var temp = new TempDirectory();
        var dataDir = temp.Combine("data");
        var trail = Path.Combine(dataDir, "audit.log");
        string[] settings = ["--Trousseau:Audit:MaxFileBytes=4000", "--Trousseau:Kms:Enabled=false", "--Trousseau:Store=memory"];
        await using var server = await TrousseauServerProcess.StartAsync(dataDir, settings);
        using var http = await BearerClient.FromTokenFileAsync(server.BaseAddress, Path.Combine(dataDir, "api.token"));

        // The file fills after about ten lines, and the rotation cannot move it to a name a directory holds.
        Directory.CreateDirectory(trail + ".1");
        var answers = await Task.WhenAll(Enumerable.Range(0, 100).Select(async i =>
        {
            var name = $"audit/full-{i}";
            using var response = await http.GetAsync(new Uri($"v1/secrets/{name}", UriKind.Relative));
            return (Name: name, response.StatusCode);
        }));

        var answered = answers.Where(a => a.StatusCode == HttpStatusCode.NotFound).Select(a => a.Name).Order(StringComparer.Ordinal).ToList();
        Assert.All(answers, a => Assert.Contains(a.StatusCode, new[] { HttpStatusCode.NotFound, HttpStatusCode.ServiceUnavailable }));
        Assert.InRange(answered.Count, 1, 99);
        var records = Records(await File.ReadAllTextAsync(trail));
        Assert.Equal(answered, records.Where(r => r.GetProperty("httpStatus").GetInt32() == 404).Select(r => r.GetProperty("secret").GetString()).Order(StringComparer.Ordinal));
        ClectlAssert.Ok(await new ClectlRunner(temp.Path, new Dictionary<string, string?>()).RunAsync("audit", "verify", trail));
    }

    [Fact]
    public async Task A_daemon_whose_lock_file_was_deleted_shares_the_new_one_with_a_daemon_started_after()
    {
        using var temp = new TempDirectory();
        var dataDir = temp.Combine("data");
        var trail = Path.Combine(dataDir, "audit.log");
        string[] settings = ["--Trousseau:Kms:Enabled=false", "--Trousseau:Store=memory"];
        await using var first = await TrousseauServerProcess.StartAsync(dataDir, settings);
        await CallsAsync(first, dataDir, 1);
        File.Delete(trail + ".lock");
        await using var second = await TrousseauServerProcess.StartAsync(dataDir, settings);

        await Task.WhenAll(CallsAsync(first, dataDir, 100), CallsAsync(second, dataDir, 100));

        var verified = await new ClectlRunner(temp.Path, new Dictionary<string, string?>()).RunAsync("audit", "verify", trail, "-o", "json");
        ClectlAssert.Ok(verified);
        Assert.Equal(201, Records(await File.ReadAllTextAsync(trail)).Count(r => r.GetProperty("action").GetString() == "read"));
    }

    [Fact]
    public async Task A_fifo_at_a_rotated_files_path_in_a_private_directory_is_refused_naming_it_instead_of_blocking_the_trail()
    {
        using var temp = new TempDirectory();
        var dataDir = temp.Combine("data");
        var trail = Path.Combine(dataDir, "audit.log");
        Directory.CreateDirectory(dataDir);
        File.SetUnixFileMode(dataDir, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
        await Fifo.MakeAsync(trail + ".1");
        await using var server = await TrousseauServerProcess.StartAsync(dataDir, ["--Trousseau:Kms:Enabled=false", "--Trousseau:Store=memory"]);
        using var http = await BearerClient.FromTokenFileAsync(server.BaseAddress, Path.Combine(dataDir, "api.token"));

        using (var refused = await http.GetAsync(new Uri("v1/secrets/audit/fifo", UriKind.Relative)))
        {
            var problem = await Problems.AssertAsync(refused, HttpStatusCode.ServiceUnavailable);
            Assert.Equal("urn:trousseau:problem:audit-unavailable", problem.GetProperty("type").GetString());
        }

        await Eventually.HoldsAsync(() => server.Log.Contains($"{trail}.1 is not a regular file", StringComparison.Ordinal), () => server.Log);

        // Once it is removed, the trail is opened before the next call, which acts.
        File.Delete(trail + ".1");
        using (var read = await http.GetAsync(new Uri("v1/secrets/audit/fifo", UriKind.Relative)))
        {
            Assert.Equal(HttpStatusCode.NotFound, read.StatusCode);
        }

        Assert.Equal(0, await server.StopAsync());
        ClectlAssert.Ok(await new ClectlRunner(temp.Path, new Dictionary<string, string?>()).RunAsync("audit", "verify", trail));
    }

    [Fact]
    public async Task A_fifo_at_the_lock_files_path_stops_the_start_at_once_with_exit_2_naming_it_as_not_a_regular_file()
    {
        using var temp = new TempDirectory();
        var dataDir = temp.Combine("data");
        var trail = Path.Combine(dataDir, "audit.log");
        Directory.CreateDirectory(dataDir);
        File.SetUnixFileMode(dataDir, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
        await Fifo.MakeAsync(trail + ".lock");

        var result = await TrousseauServerProcess.RunToExitAsync(dataDir, ["--Trousseau:Kms:Enabled=false", "--Trousseau:Store=memory"]);

        Assert.Equal(2, result.ExitCode);
        var line = Assert.Single((result.Stdout + result.Stderr).Split('\n', StringSplitOptions.RemoveEmptyEntries));
        Assert.StartsWith(
            $"trousseaud: invalid configuration: Trousseau:Audit:Path is '{trail}', whose lock file {trail}.lock is a FIFO, not a regular file",
            line,
            StringComparison.Ordinal);
        Assert.False(File.Exists(trail), "a refused start created the audit trail");
    }

    [Theory]
    [InlineData("a FIFO")]
    [InlineData("a directory")]
    public async Task A_fifo_or_a_directory_put_at_the_lock_files_path_while_serving_is_refused_naming_what_it_is_not_as_locked(string kind)
    {
        using var temp = new TempDirectory();
        var dataDir = temp.Combine("data");
        var trail = Path.Combine(dataDir, "audit.log");
        await using var server = await TrousseauServerProcess.StartAsync(dataDir, ["--Trousseau:Kms:Enabled=false", "--Trousseau:Store=memory"]);
        await CallsAsync(server, dataDir, 1);
        using var http = await BearerClient.FromTokenFileAsync(server.BaseAddress, Path.Combine(dataDir, "api.token"));
        File.Delete(trail + ".lock");
        if (kind == "a FIFO")
        {
            await Fifo.MakeAsync(trail + ".lock");
        }
        else
        {
            Directory.CreateDirectory(trail + ".lock");
        }

        using (var refused = await http.GetAsync(new Uri("v1/secrets/audit/fifo-lock", UriKind.Relative)))
        {
            var problem = await Problems.AssertAsync(refused, HttpStatusCode.ServiceUnavailable);
            Assert.Equal("urn:trousseau:problem:audit-unavailable", problem.GetProperty("type").GetString());
        }

        // The log line is written after the answer is sent.
        await Eventually.HoldsAsync(() => server.Log.Contains($"{trail}.lock is not a regular file but {kind}", StringComparison.Ordinal), () => server.Log);
        Assert.DoesNotContain("locked by another process", server.Log, StringComparison.Ordinal);

        // Once it is removed, the next call acts and is recorded in the same chain.
        if (kind == "a FIFO")
        {
            File.Delete(trail + ".lock");
        }
        else
        {
            Directory.Delete(trail + ".lock");
        }

        using (var read = await http.GetAsync(new Uri("v1/secrets/audit/fifo-lock", UriKind.Relative)))
        {
            Assert.Equal(HttpStatusCode.NotFound, read.StatusCode);
        }

        Assert.Equal(0, await server.StopAsync());
        ClectlAssert.Ok(await new ClectlRunner(temp.Path, new Dictionary<string, string?>()).RunAsync("audit", "verify", trail));
    }

    [Fact]
    public async Task With_fail_open_calls_go_on_when_the_trail_cannot_be_written_and_the_failure_is_logged_once()
    {
        using var temp = new TempDirectory();
        var dataDir = temp.Combine("data");
        Directory.CreateDirectory(Path.Combine(dataDir, "audit.log"));
        await using var server = await TrousseauServerProcess.StartAsync(dataDir, ["--Trousseau:Audit:FailOpen=true"]);
        using var http = await BearerClient.FromTokenFileAsync(server.BaseAddress, Path.Combine(dataDir, "api.token"));

        using var created = await http.PostAsJsonAsync("v1/secrets", new { name = "audit/open", data = new { k = "v" } });
        Assert.Equal(HttpStatusCode.Created, created.StatusCode);
        using var read = await http.GetAsync(new Uri("v1/secrets/audit/open", UriKind.Relative));
        Assert.Equal(HttpStatusCode.OK, read.StatusCode);
        var clectl = new ClectlRunner(temp.Path, new Dictionary<string, string?> { ["TROUSSEAU_HOME"] = dataDir });
        ClectlAssert.Ok(await clectl.RunWithInputAsync("dek", "kms", "encrypt"));

        Assert.Equal(1, Occurrences(server.Log, "calls go on without their record"));
    }

    [Fact]
    public async Task With_fail_open_a_trail_that_stops_being_writable_while_serving_logs_it_once_and_its_recovery_with_the_lines_it_missed()
    {
        using var temp = new TempDirectory();
        var dataDir = temp.Combine("data");
        var trail = Path.Combine(dataDir, "audit.log");
        await using var server = await TrousseauServerProcess.StartAsync(
            dataDir, ["--Trousseau:Audit:FailOpen=true", "--Trousseau:Audit:MaxFileBytes=1024", "--Trousseau:Kms:Enabled=false", "--Trousseau:Store=memory"]);

        // The file fills after a few lines, and its rotation cannot move it to a name a directory holds.
        Directory.CreateDirectory(trail + ".1");
        const int calls = 6;
        await CallsAsync(server, dataDir, calls);
        var missed = calls - Records(await File.ReadAllTextAsync(trail)).Count;
        Assert.True(missed > 0, "6 records of about 350 bytes fill more than one file of 1024 bytes");
        await Eventually.HoldsAsync(
            () => server.Log.Contains("cannot be written: calls go on without their record until it can (Trousseau:Audit:FailOpen is true)", StringComparison.Ordinal),
            () => server.Log);

        Directory.Delete(trail + ".1");
        await CallsAsync(server, dataDir, 1);

        await Eventually.HoldsAsync(
            () => server.Log.Contains($"is written again; {missed} records could not be written meanwhile", StringComparison.Ordinal),
            () => server.Log);
        Assert.Equal(1, Occurrences(server.Log, "calls go on without their record"));
        ClectlAssert.Ok(await new ClectlRunner(temp.Path, new Dictionary<string, string?>()).RunAsync("audit", "verify", trail));
    }

    [Fact]
    public async Task A_kms_call_whose_line_cannot_be_written_is_answered_unavailable_and_every_call_answered_ok_has_its_line()
    {
        using var temp = new TempDirectory();
        var dataDir = temp.Combine("data");
        var trail = Path.Combine(dataDir, "audit.log");
        await using var server = await TrousseauServerProcess.StartAsync(dataDir, ["--Trousseau:Audit:MaxFileBytes=1024", "--Trousseau:Store=memory"]);
        var plaintext = Convert.ToBase64String(RandomNumberGenerator.GetBytes(32));

        // The file fills after a few lines, and its rotation cannot move it to a name a directory holds.
        Directory.CreateDirectory(trail + ".1");
        var codes = new List<string>();
        await using (var peer = KmsPeer.Start(Path.Combine(dataDir, "kms.sock")))
        {
            for (var call = 0; call < 6; call++)
            {
                var answer = await peer.CallAsync("/v2.KeyManagementService/Encrypt", new { plaintext });
                codes.Add(answer.GetProperty("code").GetString()!);
            }
        }

        Assert.Contains("UNAVAILABLE", codes);
        Assert.All(codes, code => Assert.True(code is "OK" or "UNAVAILABLE", $"a KMS call got {code}"));
        var kms = Records(await File.ReadAllTextAsync(trail));
        Assert.Equal(codes.Count(code => code == "OK"), kms.Count);
        Assert.All(kms, r => Assert.Equal("OK", r.GetProperty("grpcStatus").GetString()));
    }

    [Fact]
    public async Task With_path_dash_the_lines_go_to_standard_output_starting_from_the_genesis_value()
    {
        using var temp = new TempDirectory();
        var dataDir = temp.Combine("data");
        await using var server = await TrousseauServerProcess.StartAsync(dataDir, ["--Trousseau:Audit:Path=-"]);
        using var http = await BearerClient.FromTokenFileAsync(server.BaseAddress, Path.Combine(dataDir, "api.token"));

        using var missing = await http.GetAsync(new Uri("v1/secrets/audit/stdout", UriKind.Relative));
        Assert.Equal(HttpStatusCode.NotFound, missing.StatusCode);

        var line = await Eventually.ReturnsAsync(
            () => Task.FromResult(server.Log.Split('\n').FirstOrDefault(l => l.StartsWith("{\"time\":", StringComparison.Ordinal))),
            found => found is not null,
            show: _ => server.Log);
        using var record = JsonDocument.Parse(line!);
        Assert.Equal("audit/stdout", record.RootElement.GetProperty("secret").GetString());
        Assert.Equal(Genesis, record.RootElement.GetProperty("prev").GetString());
        Assert.False(File.Exists(Path.Combine(dataDir, "audit.log")));
    }

    private static void AssertRecord(JsonElement record, string action, string? secret, string outcome, int status, long? revision)
    {
        Assert.Equal(action, record.GetProperty("action").GetString());
        Assert.Equal(secret, record.GetProperty("secret").GetString());
        Assert.Equal(outcome, record.GetProperty("outcome").GetString());
        Assert.Equal(status, record.GetProperty("httpStatus").GetInt32());
        Assert.Equal(revision, record.GetProperty("revision").ValueKind == JsonValueKind.Null ? null : record.GetProperty("revision").GetInt64());
    }

    /// <summary>
    /// Fails if <paramref name="file"/> holds 8 bytes in a row of <paramref name="sent"/>, as they are or in base64 at
    /// any of the three alignments a longer encoded buffer could give them.
    /// </summary>
    private static void AssertHoldsNoPartOf(byte[] sent, byte[] file, string what)
    {
        Assert.All(Enumerable.Range(0, sent.Length - 7), offset => Assert.True(
            file.AsSpan().IndexOf(sent.AsSpan(offset, 8)) < 0,
            $"The trail holds the {what}'s bytes {offset} to {offset + 7}."));
        var text = Encoding.ASCII.GetString(file);
        Assert.All(Enumerable.Range(0, 3), skip =>
        {
            var whole = (sent.Length - skip) / 3 * 3;
            Assert.DoesNotContain(Convert.ToBase64String(sent, skip, whole), text, StringComparison.Ordinal);
        });
    }

    private async Task<ProcessResult> VerifyCopyAsync(string[] lines)
    {
        var copy = Path.Combine(Directory.CreateDirectory(Path.Combine(fixture.WorkingDirectory, Guid.NewGuid().ToString("N")[..8])).FullName, "audit.log");
        await File.WriteAllTextAsync(copy, string.Join('\n', lines) + "\n");
        return await Clectl.RunAsync("audit", "verify", copy);
    }

    /// <summary>Copies the trail's files into <paramref name="directory"/>; the copy's current file.</summary>
    private static string CopyTrail(string trail, string directory)
    {
        Directory.CreateDirectory(directory);
        foreach (var file in Files(trail))
        {
            File.Copy(file, Path.Combine(directory, Path.GetFileName(file)));
        }

        return Path.Combine(directory, Path.GetFileName(trail));
    }

    private static async Task CallsAsync(TrousseauServerProcess server, string dataDir, int count)
    {
        using var http = await BearerClient.FromTokenFileAsync(server.BaseAddress, Path.Combine(dataDir, "api.token"));
        for (var i = 0; i < count; i++)
        {
            using var response = await http.GetAsync(new Uri($"v1/secrets/audit/rotation-{i}", UriKind.Relative));
            Assert.Equal(HttpStatusCode.NotFound, response.StatusCode);
        }
    }

    private static List<JsonElement> Records(string text) =>
        [.. text.Split('\n', StringSplitOptions.RemoveEmptyEntries).Select(line =>
        {
            using var document = JsonDocument.Parse(line);
            return document.RootElement.Clone();
        })];

    private static JsonElement FirstRecord(string file) => Records(File.ReadAllLines(file)[0])[0];

    private static string LastLine(string file) => File.ReadAllLines(file)[^1];

    /// <summary>The trail's files, oldest first.</summary>
    private static IEnumerable<string> Files(string trail) =>
        Enumerable.Range(1, 9).Select(n => $"{trail}.{n}").Where(File.Exists).Reverse().Append(trail);

    private static string Sha256(string line) => Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(line)));

    private static int Occurrences(string text, string part) => text.Split(part).Length - 1;

    private static string CurrentUid() =>
        File.ReadLines("/proc/self/status").First(l => l.StartsWith("Uid:", StringComparison.Ordinal)).Split('\t', StringSplitOptions.RemoveEmptyEntries)[1];
}
