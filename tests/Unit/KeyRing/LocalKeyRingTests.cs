using System.Text;
using Trousseau.Tests.Unit.Support;

namespace Trousseau.Tests.Unit.KeyRing;

public sealed class LocalKeyRingTests : IDisposable
{
    private readonly TempDirectory _directory = new();

    private string KeyFile => _directory.Combine("keys", "ring.json");

    public void Dispose() => _directory.Dispose();

    [Fact]
    public async Task The_key_file_is_created_on_first_use_readable_by_its_owner_only()
    {
        using var ring = KeyRings.Open(KeyFile);
        Assert.False(File.Exists(KeyFile));

        await ring.GetCurrentKeyAsync();

        Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(KeyFile));
    }

    /// <summary>Group read alone (a restore into a shared group's directory), group write alone, others' read alone.</summary>
    [Theory]
    [InlineData("0640")]
    [InlineData("0620")]
    [InlineData("0604")]
    public async Task A_key_file_its_group_or_others_may_use_is_refused_naming_its_mode_and_the_fix_and_left_as_it_is(string mode)
    {
        using (var ring = KeyRings.Open(KeyFile))
        {
            await ring.GetCurrentKeyAsync();
        }

        var open = (UnixFileMode)Convert.ToInt32(mode, 8);
        File.SetUnixFileMode(KeyFile, open);
        var content = await File.ReadAllBytesAsync(KeyFile);

        using var reopened = KeyRings.Open(KeyFile);
        var error = await Assert.ThrowsAsync<DependencyUnavailableException>(async () => await reopened.GetCurrentKeyAsync());

        Assert.StartsWith(
            $"The local key ring '{KeyFile}' cannot be used: it has mode {mode}, which lets group or others read or change it; run 'chmod 600 {KeyFile}'",
            error.Message,
            StringComparison.Ordinal);
        Assert.False((await reopened.CheckHealthAsync()).IsHealthy);
        Assert.Equal(open, File.GetUnixFileMode(KeyFile));
        Assert.Equal(content, await File.ReadAllBytesAsync(KeyFile));
    }

    [Fact]
    public async Task The_key_id_is_stable_across_reopen()
    {
        KeyInfo first;
        using (var ring = KeyRings.Open(KeyFile))
        {
            first = await ring.GetCurrentKeyAsync();
        }

        using var reopened = KeyRings.Open(KeyFile);
        var again = await reopened.GetCurrentKeyAsync();

        Assert.Equal(first, again);
        Assert.Equal(1u, first.Version);
        Assert.Matches("^local-[0-9a-f]{16}-v1-[0-9a-f]{8}$", first.KeyId);
    }

    [Fact]
    public async Task Rotation_changes_the_key_id_and_keeps_old_versions_for_unwrapping()
    {
        using var ring = KeyRings.Open(KeyFile);
        var before = await ring.GetCurrentKeyAsync();
        var wrapped = await ring.WrapAsync("data key"u8.ToArray());

        var after = await ring.RotateAsync();
        var wrappedAfter = await ring.WrapAsync("data key"u8.ToArray());

        Assert.Equal(before.Version + 1, after.Version);
        Assert.NotEqual(before.KeyId, after.KeyId);
        Assert.Equal(after, await ring.GetCurrentKeyAsync());
        Assert.Equal(after.KeyId, wrappedAfter.KeyId);
        Assert.Equal("data key", Encoding.UTF8.GetString(await ring.UnwrapAsync(wrapped)));
    }

    [Fact]
    public async Task Rotation_survives_reopen()
    {
        KeyInfo rotated;
        WrappedKey wrapped;
        using (var ring = KeyRings.Open(KeyFile))
        {
            wrapped = await ring.WrapAsync("v1"u8.ToArray());
            rotated = await ring.RotateAsync();
        }

        using var reopened = KeyRings.Open(KeyFile);

        Assert.Equal(rotated, await reopened.GetCurrentKeyAsync());
        Assert.Equal("v1", Encoding.UTF8.GetString(await reopened.UnwrapAsync(wrapped)));
        Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(KeyFile));
    }

    [Fact]
    public async Task Key_ids_are_never_reused_by_another_ring()
    {
        using var other = new TempDirectory();
        using var first = KeyRings.Open(KeyFile);
        using var second = KeyRings.Open(other.Combine("ring.json"));

        var ids = new HashSet<string>(StringComparer.Ordinal);
        for (var i = 0; i < 3; i++)
        {
            Assert.True(ids.Add((await first.GetCurrentKeyAsync()).KeyId));
            Assert.True(ids.Add((await second.GetCurrentKeyAsync()).KeyId));
            await first.RotateAsync();
            await second.RotateAsync();
        }
    }

    [Fact]
    public async Task Unwrapping_under_an_unknown_key_id_or_with_tampered_bytes_is_refused()
    {
        using var ring = KeyRings.Open(KeyFile);
        var wrapped = await ring.WrapAsync("dek"u8.ToArray());
        var tampered = wrapped.Ciphertext.ToArray();
        tampered[^1] ^= 1;

        await Assert.ThrowsAsync<InvalidCiphertextException>(async () => await ring.UnwrapAsync(wrapped with { KeyId = "local-0000000000000000-v1" }));
        await Assert.ThrowsAsync<InvalidCiphertextException>(async () => await ring.UnwrapAsync(wrapped with { KeyVersion = 9 }));
        await Assert.ThrowsAsync<InvalidCiphertextException>(async () => await ring.UnwrapAsync(wrapped with { KeyVersion = 0 }));
        await Assert.ThrowsAsync<InvalidCiphertextException>(async () => await ring.UnwrapAsync(wrapped with { KeyVersion = uint.MaxValue }));
        await Assert.ThrowsAsync<InvalidCiphertextException>(async () => await ring.UnwrapAsync(wrapped with { Ciphertext = tampered }));
        await Assert.ThrowsAsync<InvalidCiphertextException>(async () => await ring.UnwrapAsync(wrapped with { Ciphertext = new byte[5] }));
    }

    [Fact]
    public async Task A_corrupt_key_file_is_reported_unavailable_without_its_content()
    {
        Directory.CreateDirectory(Path.GetDirectoryName(KeyFile)!);
        await File.WriteAllTextAsync(KeyFile, "{\"not\": \"a key ring\" SECRET-LOOKING-CONTENT");
        using var ring = KeyRings.Open(KeyFile);

        var error = await Assert.ThrowsAsync<DependencyUnavailableException>(async () => await ring.GetCurrentKeyAsync());
        var health = await ring.CheckHealthAsync();

        Assert.Contains(KeyFile, error.Message, StringComparison.Ordinal);
        Assert.DoesNotContain("SECRET-LOOKING-CONTENT", error.ToString(), StringComparison.Ordinal);
        Assert.False(health.IsHealthy);
    }
}
