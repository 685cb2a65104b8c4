using System.Text;
using Microsoft.Extensions.Time.Testing;
using Trousseau.Envelope;
using Trousseau.Tests.Unit.Support;

namespace Trousseau.Tests.Unit.Envelope;

/// <summary>Data keys are wrapped once and reused within their limits, so steady-state calls never reach the key provider.</summary>
public sealed class DataKeyTests : IDisposable
{
    private readonly TempDirectory _directory = new();
    private readonly FakeTimeProvider _time = new(new DateTimeOffset(2026, 1, 1, 0, 0, 0, TimeSpan.Zero));
    private readonly LocalKeyRingProvider _ring;
    private readonly CountingKeyProvider _provider;

    public DataKeyTests()
    {
        _ring = KeyRings.Open(_directory.Combine("ring.json"), _time);
        _provider = new CountingKeyProvider(_ring);
    }

    public void Dispose()
    {
        _ring.Dispose();
        _directory.Dispose();
    }

    [Fact]
    public async Task Round_trip_returns_the_plaintext_and_names_the_key()
    {
        using var encryptor = KeyRings.Encryptor(_provider, _time);
        var current = await _ring.GetCurrentKeyAsync();

        var sealedData = await encryptor.EncryptAsync(EnvelopePurpose.Api, "hunter2"u8.ToArray(), "ctx"u8.ToArray(), default);
        var opened = await encryptor.DecryptAsync(EnvelopePurpose.Api, sealedData.Ciphertext, "ctx"u8.ToArray(), default);

        Assert.Equal("hunter2", Encoding.UTF8.GetString(opened));
        Assert.Equal(("local", current.KeyId, current.Version), (sealedData.Provider, sealedData.KeyId, sealedData.KeyVersion));
        Assert.DoesNotContain("hunter2", Encoding.Latin1.GetString(sealedData.Ciphertext), StringComparison.Ordinal);
    }

    [Fact]
    public async Task The_same_plaintext_twice_gives_different_ciphertexts()
    {
        using var encryptor = KeyRings.Encryptor(_provider, _time);

        var first = await encryptor.EncryptAsync(EnvelopePurpose.Api, "same"u8.ToArray(), default, default);
        var second = await encryptor.EncryptAsync(EnvelopePurpose.Api, "same"u8.ToArray(), default, default);

        Assert.NotEqual(first.Ciphertext, second.Ciphertext);
    }

    [Fact]
    public async Task Every_byte_of_the_nonce_is_drawn_anew_for_each_envelope_under_one_data_key()
    {
        using var encryptor = KeyRings.Encryptor(_provider, _time);

        var nonces = new List<byte[]>();
        for (var i = 0; i < 256; i++)
        {
            var envelope = (await encryptor.EncryptAsync(EnvelopePurpose.Api, "same"u8.ToArray(), default, default)).Ciphertext;
            nonces.Add(envelope.AsSpan(EnvelopeFormat.Parse(envelope).NonceOffset, EnvelopeFormat.NonceSize).ToArray());
        }

        // A nonce twice under one AES-GCM key gives away the XOR of two plaintexts and the key's authentication; a
        // random byte that came out the same in 256 nonces has a chance of 256^-255, and two equal 96-bit nonces below 2^-80.
        var alike = Enumerable.Range(0, EnvelopeFormat.NonceSize).Where(position => nonces.All(n => n[position] == nonces[0][position])).ToList();
        Assert.Equal(1, _provider.Wraps);
        Assert.True(alike.Count == 0, $"Nonce bytes {string.Join(", ", alike)} (of 0 to 11) were the same in all {nonces.Count} envelopes.");
        Assert.Equal(nonces.Count, nonces.Select(Convert.ToHexString).Distinct().Count());
    }

    [Fact]
    public async Task Many_encryptions_and_decryptions_make_one_provider_call()
    {
        using var encryptor = KeyRings.Encryptor(_provider, _time);

        var envelopes = new List<byte[]>();
        for (var i = 0; i < 500; i++)
        {
            envelopes.Add((await encryptor.EncryptAsync(EnvelopePurpose.Api, BitConverter.GetBytes(i), default, default)).Ciphertext);
        }

        for (var i = 0; i < envelopes.Count; i++)
        {
            Assert.Equal(i, BitConverter.ToInt32(await encryptor.DecryptAsync(EnvelopePurpose.Api, envelopes[i], default, default)));
        }

        Assert.Equal((1, 0), (_provider.Wraps, _provider.Unwraps));
    }

    [Fact]
    public async Task A_new_data_key_is_made_after_max_uses()
    {
        using var encryptor = KeyRings.Encryptor(_provider, _time, keys => keys.MaxUses = 10);

        for (var i = 0; i < 20; i++)
        {
            await encryptor.EncryptAsync(EnvelopePurpose.Api, "x"u8.ToArray(), default, default);
        }

        // Twenty records fill two data keys exactly; the twenty-first needs a third.
        Assert.Equal(2, _provider.Wraps);
        await encryptor.EncryptAsync(EnvelopePurpose.Api, "x"u8.ToArray(), default, default);
        Assert.Equal(3, _provider.Wraps);
    }

    [Fact]
    public async Task A_new_data_key_is_made_after_max_age()
    {
        using var encryptor = KeyRings.Encryptor(_provider, _time, keys => keys.MaxAge = TimeSpan.FromMinutes(5));
        var before = await encryptor.EncryptAsync(EnvelopePurpose.Api, "x"u8.ToArray(), default, default);

        _time.Advance(TimeSpan.FromMinutes(6));
        var after = await encryptor.EncryptAsync(EnvelopePurpose.Api, "x"u8.ToArray(), default, default);

        Assert.Equal(2, _provider.Wraps);
        Assert.Equal("x", Encoding.UTF8.GetString(await encryptor.DecryptAsync(EnvelopePurpose.Api, before.Ciphertext, default, default)));
        Assert.Equal("x", Encoding.UTF8.GetString(await encryptor.DecryptAsync(EnvelopePurpose.Api, after.Ciphertext, default, default)));
    }

    [Fact]
    public async Task An_evicted_data_key_is_unwrapped_again_when_old_data_is_read()
    {
        using var encryptor = KeyRings.Encryptor(_provider, _time, keys => keys.CacheTimeToLive = TimeSpan.FromMinutes(10));
        var old = await encryptor.EncryptAsync(EnvelopePurpose.Api, "old"u8.ToArray(), default, default);

        _time.Advance(TimeSpan.FromMinutes(11));

        Assert.Equal("old", Encoding.UTF8.GetString(await encryptor.DecryptAsync(EnvelopePurpose.Api, old.Ciphertext, default, default)));
        Assert.Equal("old", Encoding.UTF8.GetString(await encryptor.DecryptAsync(EnvelopePurpose.Api, old.Ciphertext, default, default)));
        Assert.Equal(1, _provider.Unwraps);
    }

    [Fact]
    public async Task Data_keys_leave_the_cache_once_their_time_to_live_has_passed_even_without_reads()
    {
        using var encryptor = KeyRings.Encryptor(_provider, _time, keys => keys.CacheTimeToLive = TimeSpan.FromMinutes(10));
        var old = await encryptor.EncryptAsync(EnvelopePurpose.Api, "old"u8.ToArray(), default, default);
        encryptor.RetireCurrentKey();
        await encryptor.EncryptAsync(EnvelopePurpose.Api, "new"u8.ToArray(), default, default);
        Assert.Equal(2, encryptor.CachedKeyCount);

        _time.Advance(TimeSpan.FromMinutes(9));
        Assert.Equal(2, encryptor.CachedKeyCount);

        // The sweeper runs on the encryptor's clock, at most a minute apart: no read is needed to drop them, and the
        // sweep at exactly their time to live drops them.
        _time.Advance(TimeSpan.FromMinutes(1));
        Assert.Equal(0, encryptor.CachedKeyCount);
        Assert.Equal("old", Encoding.UTF8.GetString(await encryptor.DecryptAsync(EnvelopePurpose.Api, old.Ciphertext, default, default)));
        Assert.Equal(1, _provider.Unwraps);
    }

    [Fact]
    public async Task A_cached_data_key_is_not_used_once_its_time_to_live_has_passed_even_before_the_next_sweep()
    {
        // The sweeper runs a minute apart: at five and a half minutes it last ran at five, and the key is still listed.
        using var encryptor = KeyRings.Encryptor(_provider, _time, keys => keys.CacheTimeToLive = TimeSpan.FromSeconds(330));
        var old = await encryptor.EncryptAsync(EnvelopePurpose.Api, "old"u8.ToArray(), default, default);

        _time.Advance(TimeSpan.FromSeconds(300));
        _time.Advance(TimeSpan.FromSeconds(30));
        Assert.Equal(1, encryptor.CachedKeyCount);

        Assert.Equal("old", Encoding.UTF8.GetString(await encryptor.DecryptAsync(EnvelopePurpose.Api, old.Ciphertext, default, default)));
        Assert.Equal(1, _provider.Unwraps);
    }

    [Fact]
    public async Task A_data_key_seals_nothing_once_its_max_age_has_passed_even_before_the_next_age_check()
    {
        // Age checks run a minute apart: at five and a half minutes the last one ran at five.
        using var encryptor = KeyRings.Encryptor(_provider, _time, keys => keys.MaxAge = TimeSpan.FromSeconds(330));
        var before = await encryptor.EncryptAsync(EnvelopePurpose.Api, "x"u8.ToArray(), default, default);

        _time.Advance(TimeSpan.FromSeconds(300));
        _time.Advance(TimeSpan.FromSeconds(30));
        var after = await encryptor.EncryptAsync(EnvelopePurpose.Api, "x"u8.ToArray(), default, default);

        Assert.Equal(2, _provider.Wraps);
        Assert.NotEqual(WrappedKeyOf(before.Ciphertext), WrappedKeyOf(after.Ciphertext));
    }

    [Fact]
    public async Task Once_the_key_provider_finds_its_key_gone_no_cached_data_key_opens_or_seals_anything()
    {
        var losing = new KeyLosingProvider(_provider);
        using var encryptor = KeyRings.Encryptor(losing, _time);
        var record = await encryptor.EncryptAsync(EnvelopePurpose.Store, "record"u8.ToArray(), default, default);
        Assert.Equal("record", Encoding.UTF8.GetString(await encryptor.DecryptAsync(EnvelopePurpose.Store, record.Ciphertext, default, default)));

        losing.LoseKey();

        // Reads and writes ask the provider, which says what is wrong, rather than go on with keys no restart could unwrap.
        Assert.Equal(0, encryptor.CachedKeyCount);
        var read = await Assert.ThrowsAsync<DependencyUnavailableException>(
            async () => await encryptor.DecryptAsync(EnvelopePurpose.Store, record.Ciphertext, default, default));
        var write = await Assert.ThrowsAsync<DependencyUnavailableException>(
            async () => await encryptor.EncryptAsync(EnvelopePurpose.Store, "new"u8.ToArray(), default, default));
        Assert.Equal("The key provider's key was deleted.", read.Message);
        Assert.Equal("The key provider's key was deleted.", write.Message);
    }

    [Fact]
    public async Task A_second_encryptor_reads_what_the_first_wrote_with_one_unwrap()
    {
        using var writer = KeyRings.Encryptor(_provider, _time);
        var envelopes = new List<byte[]>();
        for (var i = 0; i < 20; i++)
        {
            envelopes.Add((await writer.EncryptAsync(EnvelopePurpose.Api, BitConverter.GetBytes(i), default, default)).Ciphertext);
        }

        using var reader = KeyRings.Encryptor(_provider, _time);
        foreach (var envelope in envelopes)
        {
            await reader.DecryptAsync(EnvelopePurpose.Api, envelope, default, default);
        }

        Assert.Equal(1, _provider.Unwraps);
    }

    [Fact]
    public async Task After_a_rotation_new_data_uses_the_new_key_and_old_data_stays_readable()
    {
        using var encryptor = KeyRings.Encryptor(_provider, _time);
        var old = await encryptor.EncryptAsync(EnvelopePurpose.Api, "old"u8.ToArray(), default, default);

        var rotated = await _ring.RotateAsync();
        encryptor.RetireCurrentKey();
        var fresh = await encryptor.EncryptAsync(EnvelopePurpose.Api, "new"u8.ToArray(), default, default);

        Assert.Equal((rotated.KeyId, rotated.Version), (fresh.KeyId, fresh.KeyVersion));
        Assert.NotEqual(old.KeyId, fresh.KeyId);
        Assert.Equal("old", Encoding.UTF8.GetString(await encryptor.DecryptAsync(EnvelopePurpose.Api, old.Ciphertext, default, default)));
    }

    [Fact]
    public async Task Concurrent_first_writes_wrap_one_data_key()
    {
        using var encryptor = KeyRings.Encryptor(_provider, _time);

        await Task.WhenAll(Enumerable.Range(0, 64).Select(i => Task.Run(async () => await encryptor.EncryptAsync(EnvelopePurpose.Api, BitConverter.GetBytes(i), default, default))));

        Assert.Equal(1, _provider.Wraps);
    }

    [Fact]
    public async Task With_a_one_key_cache_data_under_older_keys_stays_readable()
    {
        using var encryptor = KeyRings.Encryptor(_provider, _time, keys => keys.CacheSize = 1);
        var envelopes = await WriteUnderDataKeysAsync(encryptor, 3);

        foreach (var (value, envelope) in envelopes)
        {
            Assert.Equal(value, Encoding.UTF8.GetString(await encryptor.DecryptAsync(EnvelopePurpose.Api, envelope, default, default)));
        }
    }

    [Theory]
    [InlineData(1)]
    [InlineData(8)]
    public async Task Concurrent_reads_under_cache_pressure_never_fail(int cacheSize)
    {
        using var encryptor = KeyRings.Encryptor(_provider, _time, keys => keys.CacheSize = cacheSize);
        var envelopes = await WriteUnderDataKeysAsync(encryptor, 24);

        var reads = Enumerable.Range(0, 2000).Select(i => FailureOfAsync(async () =>
        {
            var (value, envelope) = envelopes[i % envelopes.Count];
            Assert.Equal(value, Encoding.UTF8.GetString(await encryptor.DecryptAsync(EnvelopePurpose.Api, envelope, default, default)));
        }));
        var failures = (await Task.WhenAll(reads)).OfType<string>().ToList();

        Assert.True(failures.Count == 0, $"{failures.Count} of 2000 reads failed, first: {failures.FirstOrDefault()}");
        Assert.InRange(encryptor.CachedKeyCount, 0, cacheSize);
    }

    [Fact]
    public async Task Writes_rotations_and_reads_at_once_with_a_one_key_cache_never_fail()
    {
        using var encryptor = KeyRings.Encryptor(_provider, _time, keys => keys.CacheSize = 1);
        var envelopes = await WriteUnderDataKeysAsync(encryptor, 4);

        var work = Enumerable.Range(0, 600).Select(i => FailureOfAsync(async () =>
        {
            switch (i % 3)
            {
                case 0:
                    var (value, envelope) = envelopes[i % envelopes.Count];
                    Assert.Equal(value, Encoding.UTF8.GetString(await encryptor.DecryptAsync(EnvelopePurpose.Api, envelope, default, default)));
                    break;
                case 1:
                    var written = await encryptor.EncryptAsync(EnvelopePurpose.Api, Encoding.UTF8.GetBytes($"new-{i}"), default, default);
                    Assert.Equal($"new-{i}", Encoding.UTF8.GetString(await encryptor.DecryptAsync(EnvelopePurpose.Api, written.Ciphertext, default, default)));
                    break;
                default:
                    encryptor.RetireCurrentKey();
                    break;
            }
        }));
        var failures = (await Task.WhenAll(work)).OfType<string>().ToList();

        Assert.True(failures.Count == 0, $"{failures.Count} of 600 operations failed, first: {failures.FirstOrDefault()}");
    }

    /// <summary>The wrapped data key an envelope names in its header.</summary>
    private static string WrappedKeyOf(byte[] envelope) => Convert.ToHexString(envelope[EnvelopeFormat.Parse(envelope).Wrapped]);

    /// <summary>Runs <paramref name="operation"/> on the thread pool; null when it succeeded, else what it threw.</summary>
    private static Task<string?> FailureOfAsync(Func<Task> operation) => Task.Run(async () =>
    {
        try
        {
            await operation();
            return null;
        }
        catch (Exception e)
        {
            return $"{e.GetType().Name}: {e.Message}";
        }
    });

    /// <summary>Writes one value under each of <paramref name="count"/> data keys (a new key for each, as after a rotation).</summary>
    private static async Task<List<(string Value, byte[] Envelope)>> WriteUnderDataKeysAsync(EnvelopeEncryptor encryptor, int count)
    {
        var envelopes = new List<(string, byte[])>();
        for (var i = 0; i < count; i++)
        {
            encryptor.RetireCurrentKey();
            var value = $"value-{i}";
            envelopes.Add((value, (await encryptor.EncryptAsync(EnvelopePurpose.Api, Encoding.UTF8.GetBytes(value), default, default)).Ciphertext));
        }

        return envelopes;
    }
}
