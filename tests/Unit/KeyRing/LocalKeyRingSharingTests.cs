using System.Security.Cryptography;
using System.Text;
using Trousseau.Tests.Unit.Support;

namespace Trousseau.Tests.Unit.KeyRing;

/// <summary>
/// Several providers on one key ring file (as two processes on one data directory would be), and the file's
/// leftovers: each rotation starts from what is on disk, under a lock, so no key version is ever lost or forked.
/// </summary>
public sealed class LocalKeyRingSharingTests : IDisposable
{
    private readonly TempDirectory _directory = new();

    private string KeyFile => _directory.Combine("keys", "local.keyring");

    public void Dispose() => _directory.Dispose();

    /// <summary>The ring id in a key id, <c>local-RING-vN-FINGERPRINT</c>.</summary>
    private static string RingIdOf(KeyInfo key) => key.KeyId.Split('-')[1];

    [Fact]
    public async Task Two_providers_that_rotate_in_turn_keep_every_version_the_other_made()
    {
        using var first = KeyRings.Open(KeyFile);
        using var second = KeyRings.Open(KeyFile);
        await first.GetCurrentKeyAsync();
        await second.GetCurrentKeyAsync();

        var rotatedByFirst = await first.RotateAsync();
        var wrappedByFirst = await first.WrapAsync("first"u8.ToArray());
        var rotatedBySecond = await second.RotateAsync();
        var wrappedBySecond = await second.WrapAsync("second"u8.ToArray());

        Assert.Equal(2u, rotatedByFirst.Version);
        Assert.Equal(3u, rotatedBySecond.Version);
        using var restarted = KeyRings.Open(KeyFile);
        Assert.Equal("first", Encoding.UTF8.GetString(await restarted.UnwrapAsync(wrappedByFirst)));
        Assert.Equal("second", Encoding.UTF8.GetString(await restarted.UnwrapAsync(wrappedBySecond)));
        Assert.Equal(rotatedBySecond, await restarted.GetCurrentKeyAsync());
    }

    [Fact]
    public async Task A_rotation_after_another_key_ring_was_put_in_place_of_the_file_is_refused_naming_both_rings()
    {
        using var other = new TempDirectory();
        using var ring = KeyRings.Open(KeyFile);
        using var otherRing = KeyRings.Open(other.Combine("ring.json"));
        var own = await ring.GetCurrentKeyAsync();
        var otherKey = await otherRing.GetCurrentKeyAsync();
        File.Copy(other.Combine("ring.json"), KeyFile, overwrite: true);

        var error = await Assert.ThrowsAsync<DependencyUnavailableException>(async () => await ring.RotateAsync());

        Assert.Equal(
            $"The local key ring '{KeyFile}' cannot be used: it now holds key ring {RingIdOf(otherKey)}, not ring {RingIdOf(own)} that this process loaded; restart to use the new file, or put the old one back",
            error.Message);
        using var reopened = KeyRings.Open(KeyFile);
        Assert.Equal(otherKey, await reopened.GetCurrentKeyAsync());
    }

    [Fact]
    public async Task A_rotation_after_the_file_was_restored_and_rotated_elsewhere_is_refused_rather_than_dropping_the_other_version()
    {
        var olderCopy = _directory.Combine("ring.older");
        using var first = KeyRings.Open(KeyFile);
        await first.GetCurrentKeyAsync();
        File.Copy(KeyFile, olderCopy);
        var rotatedByFirst = await first.RotateAsync();
        File.Copy(olderCopy, KeyFile, overwrite: true);
        using var second = KeyRings.Open(KeyFile);
        var rotatedBySecond = await second.RotateAsync();
        var wrappedBySecond = await second.WrapAsync("second"u8.ToArray());

        var error = await Assert.ThrowsAsync<DependencyUnavailableException>(async () => await first.RotateAsync());

        Assert.Equal(
            $"The local key ring '{KeyFile}' cannot be used: its key version 2 is not the one this process holds ({rotatedByFirst.KeyId}); restart to use the new file, or put the old one back",
            error.Message);
        using var restarted = KeyRings.Open(KeyFile);
        Assert.Equal(rotatedBySecond, await restarted.GetCurrentKeyAsync());
        Assert.Equal("second", Encoding.UTF8.GetString(await restarted.UnwrapAsync(wrappedBySecond)));
    }

    /// <summary>
    /// A file of the first format names its keys by ring and version alone (<c>local-RING-v1</c>) and keeps no check
    /// value: only the key bytes tell this key from another one at the same version, put there by a restore or damage.
    /// </summary>
    [Fact]
    public async Task A_rotation_after_a_first_format_file_was_given_another_key_at_a_version_is_refused_rather_than_writing_over_it()
    {
        Directory.CreateDirectory(Path.GetDirectoryName(KeyFile)!);
        await WriteFormatOneAsync(RandomNumberGenerator.GetBytes(32));
        using var ring = KeyRings.Open(KeyFile);
        var held = await ring.GetCurrentKeyAsync();
        await WriteFormatOneAsync(RandomNumberGenerator.GetBytes(32));
        var changed = await File.ReadAllTextAsync(KeyFile);

        var error = await Assert.ThrowsAsync<DependencyUnavailableException>(async () => await ring.RotateAsync());

        Assert.Equal(
            $"The local key ring '{KeyFile}' cannot be used: its key version 1 is not the one this process holds ({held.KeyId}); restart to use the new file, or put the old one back",
            error.Message);
        Assert.Equal(changed, await File.ReadAllTextAsync(KeyFile));
    }

    private async Task WriteFormatOneAsync(byte[] key)
    {
        await File.WriteAllTextAsync(
            KeyFile,
            $$"""{"format":1,"ringId":"4424c62d242d9d33","keys":[{"version":1,"created":"2026-11-25T23:38:26+00:00","key":"{{Convert.ToBase64String(key)}}"}]}""");
        File.SetUnixFileMode(KeyFile, UnixFileMode.UserRead | UnixFileMode.UserWrite);
    }

    [Fact]
    public async Task Concurrent_rotations_from_two_providers_each_issue_a_version_of_their_own()
    {
        const int RotationsEach = 10;
        using var first = KeyRings.Open(KeyFile);
        using var second = KeyRings.Open(KeyFile);
        await first.GetCurrentKeyAsync();

        var rotations = await Task.WhenAll(
            Task.Run(() => RotateAsync(first, RotationsEach)),
            Task.Run(() => RotateAsync(second, RotationsEach)));

        var issued = rotations.SelectMany(r => r).ToList();
        Assert.Equal(2 * RotationsEach, issued.Select(k => k.Version).Distinct().Count());
        using var restarted = KeyRings.Open(KeyFile);
        Assert.Equal((uint)(1 + (2 * RotationsEach)), (await restarted.GetCurrentKeyAsync()).Version);
    }

    [Fact]
    public async Task A_provider_unwraps_under_a_version_another_provider_added_after_it_loaded_the_ring()
    {
        using var first = KeyRings.Open(KeyFile);
        using var second = KeyRings.Open(KeyFile);
        await first.GetCurrentKeyAsync();
        await second.GetCurrentKeyAsync();

        await second.RotateAsync();
        var wrapped = await second.WrapAsync("made elsewhere"u8.ToArray());

        Assert.Equal("made elsewhere", Encoding.UTF8.GetString(await first.UnwrapAsync(wrapped)));
    }

    [Fact]
    public async Task A_ring_rewritten_in_place_with_the_same_length_and_time_stamp_right_after_it_was_read_is_taken_in()
    {
        // The ring with version 1, then with versions 1 and 2, as another provider wrote them elsewhere; the first padded
        // to the second's length.
        var elsewhere = _directory.Combine("elsewhere", "local.keyring");
        using var maker = KeyRings.Open(elsewhere);
        await maker.GetCurrentKeyAsync();
        var withOne = await File.ReadAllTextAsync(elsewhere);
        var rotated = await maker.RotateAsync();
        var wrapped = await maker.WrapAsync("made elsewhere"u8.ToArray());
        var withTwo = await File.ReadAllTextAsync(elsewhere);

        // Both writes carry the same time stamp, as two writes within one tick of a coarse file system clock (or of a
        // file server whose clock is ahead) do.
        var stamp = DateTime.UtcNow.AddMinutes(1);
        Directory.CreateDirectory(Path.GetDirectoryName(KeyFile)!);
        await File.WriteAllTextAsync(KeyFile, withOne.PadRight(withTwo.Length));
        File.SetUnixFileMode(KeyFile, UnixFileMode.UserRead | UnixFileMode.UserWrite);
        File.SetLastWriteTimeUtc(KeyFile, stamp);
        using var ring = KeyRings.Open(KeyFile);
        Assert.Equal(1u, (await ring.GetCurrentKeyAsync()).Version);

        await File.WriteAllTextAsync(KeyFile, withTwo);
        File.SetLastWriteTimeUtc(KeyFile, stamp);

        Assert.Equal("made elsewhere", Encoding.UTF8.GetString(await ring.UnwrapAsync(wrapped)));
        Assert.Equal(rotated, await ring.RefreshCurrentKeyAsync());
    }

    [Fact]
    public async Task A_key_ring_file_deleted_while_in_use_is_written_again_with_every_version_at_the_next_rotation()
    {
        using var ring = KeyRings.Open(KeyFile);
        var wrapped = await ring.WrapAsync("v1"u8.ToArray());
        File.Delete(KeyFile);

        var rotated = await ring.RotateAsync();

        using var restarted = KeyRings.Open(KeyFile);
        Assert.Equal(rotated, await restarted.GetCurrentKeyAsync());
        Assert.Equal("v1", Encoding.UTF8.GetString(await restarted.UnwrapAsync(wrapped)));
    }

    [Fact]
    public async Task A_temporary_copy_left_by_a_killed_write_is_deleted_when_the_ring_is_opened()
    {
        using (var ring = KeyRings.Open(KeyFile))
        {
            await ring.GetCurrentKeyAsync();
        }

        var leftover = $"{KeyFile}.{Guid.NewGuid():N}.tmp";
        var unrelated = $"{KeyFile}.notes.tmp";
        File.Copy(KeyFile, leftover);
        await File.WriteAllTextAsync(unrelated, "not ours");

        using var reopened = KeyRings.Open(KeyFile);
        await reopened.GetCurrentKeyAsync();

        Assert.False(File.Exists(leftover), "the temporary copy, which holds every key, is still there");
        Assert.True(File.Exists(unrelated));
    }

    [Fact]
    public async Task The_lock_file_beside_the_ring_is_readable_by_its_owner_only()
    {
        using var ring = KeyRings.Open(KeyFile);

        await ring.RotateAsync();

        Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(KeyFile + ".lock"));
    }

    private static async Task<List<KeyInfo>> RotateAsync(LocalKeyRingProvider ring, int times)
    {
        var issued = new List<KeyInfo>();
        for (var i = 0; i < times; i++)
        {
            issued.Add(await ring.RotateAsync());
        }

        return issued;
    }
}
