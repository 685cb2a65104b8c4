using System.Text.Json.Nodes;
using Trousseau.Tests.Integration.Infrastructure;

namespace Trousseau.Tests.Integration.KeyRing;

/// <summary>trousseaud's local key ring at start and under two daemons: never silently replaced, never forked.</summary>
public sealed class LocalKeyRingServerTests : IDisposable
{
    private readonly TempDirectory _temp = new();

    private string DataDir => _temp.Combine("data");

    private string KeyRingFile => _temp.Combine("data", "local.keyring");

    public void Dispose() => _temp.Dispose();

    [Fact]
    public async Task A_missing_key_ring_while_the_store_holds_secrets_under_it_stops_trousseaud_with_exit_2_naming_the_file()
    {
        await using (var server = await TrousseauServerProcess.StartAsync(DataDir))
        {
            ClectlAssert.Ok(await Clectl(server).RunAsync("secret", "create", "db", "--from-literal", "password=hunter2"));
            Assert.Equal(0, await server.StopAsync());
        }

        File.Move(KeyRingFile, _temp.Combine("elsewhere.keyring"));
        var result = await TrousseauServerProcess.RunToExitAsync(DataDir);

        Assert.Equal(2, result.ExitCode);
        var line = Assert.Single(result.Stderr.Split('\n', StringSplitOptions.RemoveEmptyEntries));
        Assert.StartsWith($"trousseaud: invalid configuration: Trousseau:Local:KeyFile is '{KeyRingFile}', which does not exist, but the store holds secrets", line, StringComparison.Ordinal);
        Assert.DoesNotContain("   at ", result.Stdout + result.Stderr, StringComparison.Ordinal);
        Assert.False(File.Exists(KeyRingFile), "a new key ring was created although stored secrets need the old one");
    }

    [Fact]
    public async Task A_missing_key_ring_beside_a_store_that_cannot_be_read_stops_trousseaud_naming_both_files_and_makes_no_new_ring()
    {
        await using (var server = await TrousseauServerProcess.StartAsync(DataDir))
        {
            ClectlAssert.Ok(await Clectl(server).RunAsync("secret", "create", "db", "--from-literal", "password=hunter2"));
            Assert.Equal(0, await server.StopAsync());
        }

        // A damaged header: SQLite no longer takes the file for a database, so nobody can tell what it holds.
        var storeFile = _temp.Combine("data", "store.db");
        var damaged = await File.ReadAllBytesAsync(storeFile);
        "not an SQLite header"u8.CopyTo(damaged);
        await File.WriteAllBytesAsync(storeFile, damaged);
        File.Move(KeyRingFile, _temp.Combine("elsewhere.keyring"));
        var result = await TrousseauServerProcess.RunToExitAsync(DataDir);

        Assert.Equal(1, result.ExitCode);
        var line = Assert.Single(result.Stderr.Split('\n', StringSplitOptions.RemoveEmptyEntries));
        Assert.StartsWith($"trousseaud: cannot start: The local key ring '{KeyRingFile}' does not exist, and the store cannot be read to check that no secret needs it: ", line, StringComparison.Ordinal);
        Assert.Contains($"The SQLite store '{storeFile}' is unavailable", line, StringComparison.Ordinal);
        Assert.DoesNotContain("   at ", result.Stdout + result.Stderr, StringComparison.Ordinal);
        Assert.False(File.Exists(KeyRingFile), "a new key ring was created beside a store that could not be checked");
        Assert.Equal(damaged, await File.ReadAllBytesAsync(storeFile));
    }

    [Fact]
    public async Task A_key_ring_with_a_flipped_bit_stops_trousseaud_at_start_naming_the_file_and_the_key_version()
    {
        await using (var server = await TrousseauServerProcess.StartAsync(DataDir))
        {
            ClectlAssert.Ok(await Clectl(server).RunAsync("secret", "create", "db", "--from-literal", "password=hunter2"));
            Assert.Equal(0, await server.StopAsync());
        }

        var file = JsonNode.Parse(await File.ReadAllTextAsync(KeyRingFile))!;
        var key = Convert.FromBase64String(file["keys"]![0]!["key"]!.GetValue<string>());
        key[0] ^= 0x01;
        file["keys"]![0]!["key"] = Convert.ToBase64String(key);
        await File.WriteAllTextAsync(KeyRingFile, file.ToJsonString());
        var result = await TrousseauServerProcess.RunToExitAsync(DataDir);

        Assert.Equal(1, result.ExitCode);
        var line = Assert.Single(result.Stderr.Split('\n', StringSplitOptions.RemoveEmptyEntries));
        Assert.StartsWith($"trousseaud: cannot start: The local key ring '{KeyRingFile}' cannot be used: key version 1", line, StringComparison.Ordinal);
        Assert.DoesNotContain("   at ", result.Stdout + result.Stderr, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData(0, "it is empty: a write or a copy of it was cut short", "")]
    [InlineData(120, "it is not valid key ring JSON at line ", ": it was cut short or edited")]
    public async Task A_key_ring_cut_short_stops_trousseaud_at_start_saying_so_and_to_restore_it_and_is_left_as_it_is(int length, string problem, string problemEnd)
    {
        await using (var server = await TrousseauServerProcess.StartAsync(DataDir))
        {
            ClectlAssert.Ok(await Clectl(server).RunAsync("secret", "create", "db", "--from-literal", "password=hunter2"));
            Assert.Equal(0, await server.StopAsync());
        }

        // What a copy cut short by a full disk leaves, or a power loss on a file system that does not keep a rename
        // behind the data written before it.
        var cut = (await File.ReadAllBytesAsync(KeyRingFile))[..length];
        await File.WriteAllBytesAsync(KeyRingFile, cut);
        var result = await TrousseauServerProcess.RunToExitAsync(DataDir);

        Assert.Equal(1, result.ExitCode);
        var line = Assert.Single((result.Stdout + result.Stderr).Split('\n', StringSplitOptions.RemoveEmptyEntries));
        Assert.StartsWith($"trousseaud: cannot start: The local key ring '{KeyRingFile}' cannot be used: {problem}", line, StringComparison.Ordinal);
        Assert.EndsWith($"{problemEnd}; restore it from a backup (a new key ring could not decrypt what the store holds)", line, StringComparison.Ordinal);
        Assert.Equal(cut, await File.ReadAllBytesAsync(KeyRingFile));
    }

    [Fact]
    public async Task A_key_ring_open_to_group_or_others_stops_trousseaud_at_start_naming_the_file_its_mode_and_the_fix()
    {
        await using (var server = await TrousseauServerProcess.StartAsync(DataDir))
        {
            Assert.Equal(0, await server.StopAsync());
        }

        File.SetUnixFileMode(KeyRingFile, (UnixFileMode)Convert.ToInt32("0644", 8));
        var result = await TrousseauServerProcess.RunToExitAsync(DataDir);

        Assert.Equal(1, result.ExitCode);
        var line = Assert.Single((result.Stdout + result.Stderr).Split('\n', StringSplitOptions.RemoveEmptyEntries));
        Assert.StartsWith(
            $"trousseaud: cannot start: The local key ring '{KeyRingFile}' cannot be used: it has mode 0644, which lets group or others read or change it; run 'chmod 600 {KeyRingFile}'",
            line,
            StringComparison.Ordinal);
        Assert.Equal((UnixFileMode)Convert.ToInt32("0644", 8), File.GetUnixFileMode(KeyRingFile));
    }

    [Fact]
    public async Task A_temporary_key_ring_copy_left_by_a_killed_rotation_is_deleted_at_start()
    {
        await using (var server = await TrousseauServerProcess.StartAsync(DataDir))
        {
            Assert.Equal(0, await server.StopAsync());
        }

        var leftover = $"{KeyRingFile}.{Guid.NewGuid():N}.tmp";
        File.Copy(KeyRingFile, leftover);

        await using var restarted = await TrousseauServerProcess.StartAsync(DataDir);

        await Eventually.HoldsAsync(() => !File.Exists(leftover), () => $"{leftover}, which holds every key, is still there:\n{restarted.Log}");
    }

    [Fact]
    public async Task Two_daemons_on_one_data_directory_rotate_in_turn_and_every_secret_and_kms_ciphertext_still_decrypts()
    {
        var secondSocket = _temp.Combine("second", "kms.sock");
        await using var first = await TrousseauServerProcess.StartAsync(DataDir);
        var firstClectl = Clectl(first);
        ClectlAssert.Ok(await firstClectl.RunAsync("secret", "create", "before", "--from-literal", "k=before"));
        await using var second = await TrousseauServerProcess.StartAsync(DataDir, ["--kms-socket", secondSocket]);
        var secondClectl = Clectl(second);

        var rotatedBySecond = await secondClectl.RunAsync("key", "rotate", "-o", "json");
        var encryptedBySecond = await secondClectl.RunWithInputAsync("kms data key", "kms", "encrypt", "--socket", secondSocket);
        var rotatedByFirst = await firstClectl.RunAsync("key", "rotate", "-o", "json");
        ClectlAssert.Ok(await firstClectl.RunAsync("secret", "create", "after", "--from-literal", "k=after"));
        await second.StopAsync();
        await first.StopAsync();

        Assert.Equal(2, JsonNode.Parse(rotatedBySecond.Stdout)!["version"]!.GetValue<int>());
        Assert.Equal(3, JsonNode.Parse(rotatedByFirst.Stdout)!["version"]!.GetValue<int>());
        await using var restarted = await TrousseauServerProcess.StartAsync(DataDir);
        var clectl = Clectl(restarted);
        Assert.Equal("before", (await clectl.RunAsync("secret", "get", "before", "--key", "k")).Stdout);
        Assert.Equal("after", (await clectl.RunAsync("secret", "get", "after", "--key", "k")).Stdout);
        var decrypted = await clectl.RunWithInputAsync(encryptedBySecond.Stdout, "kms", "decrypt");
        ClectlAssert.Ok(decrypted);
        Assert.Equal("kms data key", decrypted.Stdout);
    }

    [Fact]
    public async Task After_another_daemon_rotated_the_shared_key_ring_key_status_names_the_new_version_and_rewrap_moves_every_secret()
    {
        // Neither worker rewraps or looks at the key during the test: only the calls below may notice the rotation.
        string[] quietWorker = ["--Trousseau:Worker:RewrapAfterRotation=false", "--Trousseau:Worker:Interval=1.00:00:00"];
        await using var first = await TrousseauServerProcess.StartAsync(DataDir, quietWorker);
        var firstClectl = Clectl(first);
        for (var i = 0; i < 3; i++)
        {
            ClectlAssert.Ok(await firstClectl.RunAsync("secret", "create", $"moved/{i}", "--from-literal", $"k=value-{i}"));
        }

        await using var second = await TrousseauServerProcess.StartAsync(DataDir, [.. quietWorker, "--kms-socket", _temp.Combine("second", "kms.sock")]);
        var rotated = await Clectl(second).RunAsync("key", "rotate", "-o", "json");
        var status = await firstClectl.RunAsync("key", "status", "-o", "json");
        var rewrap = await firstClectl.RunAsync("key", "rewrap", "-o", "json");
        var rewrapAgain = await firstClectl.RunAsync("key", "rewrap", "-o", "json");

        ClectlAssert.Ok(rotated);
        ClectlAssert.Ok(status);
        Assert.Equal(JsonNode.Parse(rotated.Stdout)!["keyId"]!.GetValue<string>(), JsonNode.Parse(status.Stdout)!["keyId"]!.GetValue<string>());
        Assert.Equal(3, JsonNode.Parse(rewrap.Stdout)!["rewrapped"]!.GetValue<long>());
        Assert.Equal(0, JsonNode.Parse(rewrapAgain.Stdout)!["rewrapped"]!.GetValue<long>());
        Assert.Equal("value-1", (await firstClectl.RunAsync("secret", "get", "moved/1", "--key", "k")).Stdout);
    }

    [Fact]
    public async Task After_another_daemon_rotated_the_shared_key_ring_kms_status_names_the_new_key_id_by_the_next_worker_tick()
    {
        var firstSocket = _temp.Combine("first", "kms.sock");
        await using var first = await TrousseauServerProcess.StartAsync(DataDir, ["--kms-socket", firstSocket, "--Trousseau:Worker:Interval=00:00:00.2"]);
        var firstClectl = Clectl(first);
        ClectlAssert.Ok(await firstClectl.RunAsync("kms", "status", "--socket", firstSocket));
        await using var second = await TrousseauServerProcess.StartAsync(DataDir, ["--kms-socket", _temp.Combine("second", "kms.sock")]);

        var rotated = await Clectl(second).RunAsync("key", "rotate", "-o", "json");
        ClectlAssert.Ok(rotated);
        var newKeyId = JsonNode.Parse(rotated.Stdout)!["keyId"]!.GetValue<string>();

        await Eventually.HoldsAsync(
            async () => JsonNode.Parse((await firstClectl.RunAsync("kms", "status", "--socket", firstSocket, "-o", "json")).Stdout)!["keyId"]!.GetValue<string>() == newKeyId,
            () => $"the first daemon's KMS Status never named {newKeyId}:\n{first.Log}");
    }

    private ClectlRunner Clectl(TrousseauServerProcess server) =>
        ClectlRunner.For(server, DataDir, Directory.CreateDirectory(_temp.Combine("work")).FullName);
}
