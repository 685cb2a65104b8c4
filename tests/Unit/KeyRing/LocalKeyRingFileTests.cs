using System.Text;
using System.Text.Json.Nodes;
using Trousseau.Envelope;
using Trousseau.Tests.Unit.Support;

namespace Trousseau.Tests.Unit.KeyRing;

/// <summary>What the key ring file holds, and what becomes of a file that was damaged, trimmed or restored from an older copy.</summary>
public sealed class LocalKeyRingFileTests : IDisposable
{
    // A key ring file exactly as the first release wrote it (format 1), and data keys it wrapped under each version.
    private const string FormatOneFile = """
        {
          "format": 1,
          "ringId": "4424c62d242d9d33",
          "keys": [
            {
              "version": 1,
              "created": "2026-11-25T23:38:26.636431+00:00",
              "key": "PUwTvK1aH4HjsCnILiSqzxUFnIh841kg5iHASRxttMU="
            },
            {
              "version": 2,
              "created": "2026-11-25T23:38:26.7435428+00:00",
              "key": "Zt0CFOsKkAXTOYc2A2FMBAvOOLsj4x0Gl2vcM/x4gu4="
            }
          ]
        }
        """;

    private static readonly WrappedKey FormatOneWrappedV1 = new(
        "local-4424c62d242d9d33-v1", 1, Convert.FromBase64String("QkcmGdEQ+QBXfOdELVstReYLR3LCp+NwthvsshWbSHMEQy65ip11SdLEwp6fFudZ"));

    private static readonly WrappedKey FormatOneWrappedV2 = new(
        "local-4424c62d242d9d33-v2", 2, Convert.FromBase64String("U830BU6USzNb89U48b4FxeCzrqvK9g8dntEh7JrQuQfC3mVyBEfYjJoR86xVIjWB"));

    private static readonly byte[] StoredContext = "trousseau/secret/v1\0app/db"u8.ToArray();

    private readonly TempDirectory _directory = new();

    private string KeyFile => _directory.Combine("ring.json");

    public void Dispose() => _directory.Dispose();

    [Fact]
    public async Task A_key_ring_written_in_the_first_format_unwraps_what_it_wrapped_and_keeps_doing_so_after_a_rotation()
    {
        await File.WriteAllTextAsync(KeyFile, FormatOneFile);
        File.SetUnixFileMode(KeyFile, UnixFileMode.UserRead | UnixFileMode.UserWrite);

        using (var ring = KeyRings.Open(KeyFile))
        {
            Assert.Equal(new KeyInfo("local-4424c62d242d9d33-v2", 2), await ring.GetCurrentKeyAsync());
            Assert.Equal("format-1 data key v1", Encoding.UTF8.GetString(await ring.UnwrapAsync(FormatOneWrappedV1)));
            Assert.Equal("format-1 data key v2", Encoding.UTF8.GetString(await ring.UnwrapAsync(FormatOneWrappedV2)));
            Assert.Equal(3u, (await ring.RotateAsync()).Version);
        }

        using var reopened = KeyRings.Open(KeyFile);
        Assert.Equal("format-1 data key v1", Encoding.UTF8.GetString(await reopened.UnwrapAsync(FormatOneWrappedV1)));
        Assert.Equal("format-1 data key v2", Encoding.UTF8.GetString(await reopened.UnwrapAsync(FormatOneWrappedV2)));
        Assert.Equal(3u, (await reopened.GetCurrentKeyAsync()).Version);
    }

    [Fact]
    public async Task A_flipped_bit_in_a_key_is_refused_when_the_ring_is_opened_naming_the_file_and_the_version()
    {
        using (var ring = KeyRings.Open(KeyFile))
        {
            await ring.RotateAsync();
        }

        var file = JsonNode.Parse(await File.ReadAllTextAsync(KeyFile))!;
        var key = Convert.FromBase64String(file["keys"]![0]!["key"]!.GetValue<string>());
        key[7] ^= 0x10;
        file["keys"]![0]!["key"] = Convert.ToBase64String(key);
        await File.WriteAllTextAsync(KeyFile, file.ToJsonString());

        using var damaged = KeyRings.Open(KeyFile);
        var error = await Assert.ThrowsAsync<DependencyUnavailableException>(async () => await damaged.GetCurrentKeyAsync());

        Assert.Contains(KeyFile, error.Message, StringComparison.Ordinal);
        Assert.Contains("key version 1", error.Message, StringComparison.Ordinal);
        Assert.False((await damaged.CheckHealthAsync()).IsHealthy);
    }

    /// <summary>
    /// An entry edited so that its key still decodes: its key id given another fingerprint (a well-formed id, which only
    /// the check value ties to the key), a bit of its check value changed, or a fingerprint that is not hex. Opened as
    /// it is, the ring would wrap under an id no ciphertext names, or take a damaged file for a sound one.
    /// </summary>
    [Theory]
    [InlineData("fingerprint", "does not match its check value: the file is damaged; restore it from a backup")]
    [InlineData("check", "does not match its check value: the file is damaged; restore it from a backup")]
    [InlineData("shape", "which is not one of ring")]
    public async Task A_key_id_or_check_value_edited_in_the_file_is_refused_when_the_ring_is_opened_naming_the_version(string edit, string problem)
    {
        using (var ring = KeyRings.Open(KeyFile))
        {
            await ring.RotateAsync();
        }

        var file = JsonNode.Parse(await File.ReadAllTextAsync(KeyFile))!;
        var entry = file["keys"]![0]!;
        var keyId = entry["keyId"]!.GetValue<string>();
        if (edit == "check")
        {
            var check = Convert.FromBase64String(entry["check"]!.GetValue<string>());
            check[^1] ^= 0x01;
            entry["check"] = Convert.ToBase64String(check);
        }
        else
        {
            entry["keyId"] = edit == "fingerprint" ? keyId[..^1] + (keyId[^1] == '0' ? '1' : '0') : keyId[..^8] + "ZZZZZZZZ";
        }

        await File.WriteAllTextAsync(KeyFile, file.ToJsonString());
        var edited = await File.ReadAllTextAsync(KeyFile);

        using var opened = KeyRings.Open(KeyFile);
        var error = await Assert.ThrowsAsync<DependencyUnavailableException>(async () => await opened.GetCurrentKeyAsync());

        Assert.StartsWith($"The local key ring '{KeyFile}' cannot be used: key version 1 ", error.Message, StringComparison.Ordinal);
        Assert.Contains(problem, error.Message, StringComparison.Ordinal);
        Assert.False((await opened.CheckHealthAsync()).IsHealthy);
        Assert.Equal(edited, await File.ReadAllTextAsync(KeyFile));
    }

    [Fact]
    public async Task A_key_ring_whose_key_list_holds_null_is_refused_naming_the_file_and_the_position()
    {
        using (var ring = KeyRings.Open(KeyFile))
        {
            await ring.RotateAsync();
        }

        var file = JsonNode.Parse(await File.ReadAllTextAsync(KeyFile))!;
        file["keys"]![1] = null;
        await File.WriteAllTextAsync(KeyFile, file.ToJsonString());

        using var edited = KeyRings.Open(KeyFile);
        var error = await Assert.ThrowsAsync<DependencyUnavailableException>(async () => await edited.GetCurrentKeyAsync());

        Assert.Equal($"The local key ring '{KeyFile}' cannot be used: its key at position 2 is null; restore the file from a backup", error.Message);
        Assert.False((await edited.CheckHealthAsync()).IsHealthy);
    }

    [Fact]
    public async Task A_key_ring_whose_versions_were_reordered_is_refused_instead_of_wrapping_under_an_older_key()
    {
        using (var ring = KeyRings.Open(KeyFile))
        {
            await ring.RotateAsync();
        }

        var file = JsonNode.Parse(await File.ReadAllTextAsync(KeyFile))!;
        var keys = file["keys"]!.AsArray();
        var first = keys[0]!.DeepClone();
        keys.RemoveAt(0);
        keys.Add(first);
        await File.WriteAllTextAsync(KeyFile, file.ToJsonString());

        using var reordered = KeyRings.Open(KeyFile);
        var error = await Assert.ThrowsAsync<DependencyUnavailableException>(async () => await reordered.GetCurrentKeyAsync());

        Assert.Equal($"The local key ring '{KeyFile}' cannot be used: key versions must count 1, 2, 3...; found 2 at position 1", error.Message);
    }

    [Fact]
    public async Task A_key_file_of_gigabytes_is_refused_naming_its_size_without_being_read()
    {
        using (var file = new FileStream(KeyFile, new FileStreamOptions { Mode = FileMode.CreateNew, Access = FileAccess.Write, UnixCreateMode = UnixFileMode.UserRead | UnixFileMode.UserWrite }))
        {
            file.SetLength(3L << 30);
        }

        using var ring = KeyRings.Open(KeyFile);
        var error = await Assert.ThrowsAsync<DependencyUnavailableException>(async () => await ring.GetCurrentKeyAsync());

        Assert.Equal(
            $"The local key ring '{KeyFile}' cannot be used: it is 3221225472 bytes, more than a key ring file holds (at most 16 MiB): is it the key ring?",
            error.Message);
    }

    [Fact]
    public async Task A_key_ring_whose_newest_version_was_removed_is_refused_instead_of_issuing_that_version_again()
    {
        using (var ring = KeyRings.Open(KeyFile))
        {
            await ring.RotateAsync();
        }

        var file = JsonNode.Parse(await File.ReadAllTextAsync(KeyFile))!;
        file["keys"]!.AsArray().RemoveAt(1);
        await File.WriteAllTextAsync(KeyFile, file.ToJsonString());

        using var trimmed = KeyRings.Open(KeyFile);
        var error = await Assert.ThrowsAsync<DependencyUnavailableException>(async () => await trimmed.RotateAsync());

        Assert.Contains(KeyFile, error.Message, StringComparison.Ordinal);
        Assert.Contains("key version 2", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_key_ring_whose_latest_version_reads_lower_than_the_versions_it_holds_is_refused_as_damaged()
    {
        using (var ring = KeyRings.Open(KeyFile))
        {
            await ring.RotateAsync();
        }

        var file = JsonNode.Parse(await File.ReadAllTextAsync(KeyFile))!;
        file["latestVersion"] = 1;
        await File.WriteAllTextAsync(KeyFile, file.ToJsonString());

        using var damaged = KeyRings.Open(KeyFile);
        var error = await Assert.ThrowsAsync<DependencyUnavailableException>(async () => await damaged.GetCurrentKeyAsync());

        Assert.Equal(
            $"The local key ring '{KeyFile}' cannot be used: it holds key versions 1 to 2, beyond the latest version issued, 1: the file is damaged; restore it from a backup",
            error.Message);
    }

    [Fact]
    public async Task A_key_ring_restored_from_an_older_copy_never_issues_a_key_id_it_issued_before()
    {
        var (lost, wrappedUnderLost, storedUnderLost) = await RestoredFromBeforeARotationAsync(newerCopy: null);
        using var restored = KeyRings.Open(KeyFile);
        var reissued = await restored.RotateAsync();

        Assert.Equal(lost.Version, reissued.Version);
        Assert.NotEqual(lost.KeyId, reissued.KeyId);
        var error = await Assert.ThrowsAsync<InvalidCiphertextException>(async () => await restored.UnwrapAsync(wrappedUnderLost));
        Assert.Contains("is not in this key ring", error.Message, StringComparison.Ordinal);
        Assert.Contains($"has made another version {lost.Version} since; put back a copy of the key ring taken after that key was made", error.Message, StringComparison.Ordinal);
        await ReadStoredAsync(restored, storedUnderLost);
        var health = await restored.CheckHealthAsync();
        Assert.True(health.IsHealthy && health.IsDegraded, health.Description);
        Assert.Contains($"'{lost.KeyId}' (version {lost.Version}), which this key ring lacks", health.Description, StringComparison.Ordinal);
        Assert.Contains($"has made another version {lost.Version} since", health.Description, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_key_ring_restored_from_an_older_copy_is_degraded_once_a_stored_record_asks_for_a_key_it_lacks_and_healthy_again_once_a_newer_copy_is_put_back()
    {
        var newerCopy = _directory.Combine("ring.newer");
        var (lost, wrappedUnderLost, storedUnderLost) = await RestoredFromBeforeARotationAsync(newerCopy);
        using var restored = KeyRings.Open(KeyFile);
        var current = await restored.GetCurrentKeyAsync();
        var otherRing = new WrappedKey("local-00000000000000aa-v7-0a1b2c3d", 7, new byte[60]);
        await Assert.ThrowsAsync<InvalidCiphertextException>(async () => await restored.UnwrapAsync(otherRing));
        var afterOtherRing = await restored.CheckHealthAsync();
        await Assert.ThrowsAsync<InvalidCiphertextException>(async () => await restored.UnwrapAsync(wrappedUnderLost));
        var afterCallersCiphertext = await restored.CheckHealthAsync();
        await ReadStoredAsync(restored, storedUnderLost);
        var lacking = await restored.CheckHealthAsync();
        File.Copy(newerCopy, KeyFile, overwrite: true);
        await restored.RefreshCurrentKeyAsync();
        var putBack = await restored.CheckHealthAsync();

        Assert.False(afterOtherRing.IsDegraded, afterOtherRing.Description);
        Assert.False(afterCallersCiphertext.IsDegraded, afterCallersCiphertext.Description);
        Assert.True(lacking.IsHealthy && lacking.IsDegraded, lacking.Description);
        Assert.Equal(
            $"local key ring, current key {current.KeyId}: data was wrapped under key '{lost.KeyId}' (version {lost.Version}), which this key ring lacks, so what that key wrapped " +
            $"cannot be decrypted: the key ring was restored from a copy older than that version; put back a copy of the key ring taken after version {lost.Version} was made.",
            lacking.Description);
        Assert.False(putBack.IsDegraded, putBack.Description);
        Assert.Equal("written after the copy"u8.ToArray(), await restored.UnwrapAsync(wrappedUnderLost));
    }

    /// <summary>
    /// Copies the key ring, rotates it, wraps a key and seals a stored record under the new version (copying the ring
    /// again to <paramref name="newerCopy"/> when given), then puts the older copy back: the ring lacks the key returned.
    /// </summary>
    private async Task<(KeyInfo Lost, WrappedKey WrappedUnderLost, byte[] StoredUnderLost)> RestoredFromBeforeARotationAsync(string? newerCopy)
    {
        var olderCopy = _directory.Combine("ring.older");
        KeyInfo lost;
        WrappedKey wrappedUnderLost;
        EncryptResult storedUnderLost;
        using (var ring = KeyRings.Open(KeyFile))
        {
            await ring.GetCurrentKeyAsync();
            File.Copy(KeyFile, olderCopy);
            lost = await ring.RotateAsync();
            wrappedUnderLost = await ring.WrapAsync("written after the copy"u8.ToArray());
            using (var encryptor = KeyRings.Encryptor(ring))
            {
                storedUnderLost = await encryptor.EncryptAsync(EnvelopePurpose.Store, "stored after the copy"u8.ToArray(), StoredContext, default);
            }

            if (newerCopy is not null)
            {
                File.Copy(KeyFile, newerCopy);
            }
        }

        File.Copy(olderCopy, KeyFile, overwrite: true);
        return (lost, wrappedUnderLost, storedUnderLost.Ciphertext);
    }

    /// <summary>Reads <paramref name="stored"/> as the store's records are read, through <paramref name="ring"/>, which lacks its key.</summary>
    private static async Task ReadStoredAsync(LocalKeyRingProvider ring, byte[] stored)
    {
        using var encryptor = KeyRings.Encryptor(ring);
        await Assert.ThrowsAsync<InvalidCiphertextException>(async () => await encryptor.DecryptAsync(EnvelopePurpose.Store, stored, StoredContext, default));
    }

    [Fact]
    public async Task Every_key_version_is_stored_with_its_key_id_and_a_check_value()
    {
        using (var ring = KeyRings.Open(KeyFile))
        {
            await ring.RotateAsync();
        }

        var file = JsonNode.Parse(await File.ReadAllTextAsync(KeyFile))!;
        var keys = file["keys"]!.AsArray();

        Assert.Equal(2, file["format"]!.GetValue<int>());
        Assert.Equal(2, keys.Count);
        using var reopened = KeyRings.Open(KeyFile);
        Assert.Equal((await reopened.GetCurrentKeyAsync()).KeyId, keys[1]!["keyId"]!.GetValue<string>());
        Assert.All(keys, k => Assert.Equal(16, Convert.FromBase64String(k!["check"]!.GetValue<string>()).Length));
    }
}
