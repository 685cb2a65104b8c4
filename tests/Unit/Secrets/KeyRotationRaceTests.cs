using System.Text;
using Microsoft.Extensions.Time.Testing;
using Trousseau.Envelope;
using Trousseau.Internal;
using Trousseau.Tests.Integration.Infrastructure;
using Trousseau.Tests.Unit.Support;

namespace Trousseau.Tests.Unit.Secrets;

/// <summary>
/// A write that is making a new data key while a rotation or a rewrap starts: the key provider has wrapped that data
/// key under the older key version, and its answer arrives after the encryptor was told of the new version.
/// </summary>
public sealed class KeyRotationRaceTests : IDisposable
{
    private readonly FakeTimeProvider _time = new(new DateTimeOffset(2026, 1, 1, 0, 0, 0, TimeSpan.Zero));
    private readonly TempDirectory _directory = new();
    private readonly HeldKeyProvider _provider;
    private readonly InterleavingStore _store = new(new InMemorySecretStore());
    private readonly EnvelopeEncryptor _encryptor;
    private readonly InProcessTrousseau _trousseau;
    private readonly InProcessKeyAdministration _keys;

    public KeyRotationRaceTests()
    {
        _provider = new HeldKeyProvider(KeyRings.Open(RingFile, _time));
        _encryptor = KeyRings.Encryptor(_provider, _time);
        _trousseau = new InProcessTrousseau(_encryptor, _store, _time);
        _keys = new InProcessKeyAdministration(_provider, _store, _encryptor);
    }

    private string RingFile => _directory.Combine("ring.json");

    public void Dispose()
    {
        _encryptor.Dispose();
        _directory.Dispose();
    }

    [Fact]
    public async Task A_rewrap_that_reports_no_failure_leaves_no_secret_under_the_older_key_when_a_write_was_making_a_data_key_as_it_started()
    {
        // The write's data key is wrapped under version 1; another instance sharing the key ring then rotates it, and
        // the rewrap here sees version 2 before the write's data key comes back.
        var wrappedUnderOldKey = _provider.HoldNextWrap();
        var write = _trousseau.CreateSecretAsync("app/during", SecretType.Opaque, Data("k", "v")).AsTask();
        await wrappedUnderOldKey;
        var rotated = await KeyRings.Open(RingFile, _time).RotateAsync();
        _store.BeforeNextList(async () =>
        {
            _provider.ReleaseWrap();
            await write;
        });

        var result = await _keys.RewrapSecretsAsync();

        Assert.Equal((0L, rotated.KeyId), (result.Failed, await KeyIdOfAsync("app/during")));
        Assert.Equal("v", (await _trousseau.GetSecretAsync("app/during")).Data["k"]);
    }

    [Fact]
    public async Task A_rewrap_that_reports_no_failure_leaves_no_secret_under_the_older_key_when_a_write_under_way_reaches_the_store_after_its_listing()
    {
        // The write's data key is wrapped under version 1, the key rotates, and the write's record reaches the store
        // only once the rewrap's listing has passed the place of its name.
        var wrappedUnderOldKey = _provider.HoldNextWrap();
        var write = _trousseau.CreateSecretAsync("app/late", SecretType.Opaque, Data("k", "v")).AsTask();
        await wrappedUnderOldKey;
        var rotated = await _keys.RotateKeyAsync();
        _store.AfterNextList(async () =>
        {
            _provider.ReleaseWrap();
            await write;
        });

        var result = await _keys.RewrapSecretsAsync();

        Assert.Equal((new RewrapResult(1, 0, 0) { KeyId = rotated.KeyId }, rotated.KeyId), (result, await KeyIdOfAsync("app/late")));
        Assert.Equal("v", (await _trousseau.GetSecretAsync("app/late")).Data["k"]);
    }

    [Fact]
    public async Task A_rewrap_counts_as_failed_and_leaves_as_it_is_a_secret_the_key_provider_keeps_sealing_under_the_older_key()
    {
        var source = KeyRings.Open(RingFile, _time);
        var provider = new LaggingKeyProvider(KeyRings.Open(RingFile, _time), source);
        using var encryptor = KeyRings.Encryptor(provider, _time);
        var trousseau = new InProcessTrousseau(encryptor, _store, _time);
        var keys = new InProcessKeyAdministration(provider, _store, encryptor);
        await trousseau.CreateSecretAsync("app/a", SecretType.Opaque, Data("k", "v"));
        var before = await _store.GetAsync("app/a");
        var rotated = await source.RotateAsync();

        var result = await keys.RewrapSecretsAsync();

        Assert.Equal(new RewrapResult(0, 0, 1) { KeyId = rotated.KeyId }, result);
        Assert.Equal(before!.Revision, (await _store.GetAsync("app/a"))!.Revision);
        Assert.Equal("v", (await trousseau.GetSecretAsync("app/a")).Data["k"]);
    }

    [Fact]
    public async Task A_rewrap_that_a_second_rotation_overtakes_counts_no_failure_for_secrets_already_under_the_newest_key()
    {
        // The first rewrap reads version 2; before it goes through its listing, the key rotates again and a second
        // rewrap moves every secret to version 3.
        await _trousseau.CreateSecretAsync("app/a", SecretType.Opaque, Data("k", "v"));
        await _trousseau.CreateSecretAsync("app/b", SecretType.Opaque, Data("k", "w"));
        await _keys.RotateKeyAsync();
        KeyStatus? newest = null;
        RewrapResult? overtaking = null;
        _store.AfterNextList(async () =>
        {
            newest = await _keys.RotateKeyAsync();
            overtaking = await _keys.RewrapSecretsAsync();
        });

        var overtaken = await _keys.RewrapSecretsAsync();

        Assert.Equal(new RewrapResult(2, 0, 0) { KeyId = newest!.KeyId }, overtaking);
        Assert.Equal(new RewrapResult(0, 2, 0) { KeyId = newest.KeyId }, overtaken);
        Assert.Equal([newest.KeyId, newest.KeyId], [await KeyIdOfAsync("app/a"), await KeyIdOfAsync("app/b")]);
    }

    [Fact]
    public async Task A_rewrap_cut_off_by_the_key_provider_says_in_its_error_how_many_secrets_it_had_moved()
    {
        // "app/a" is sealed under a data key this process holds, "app/c" under one only the key provider can unwrap:
        // the rewrap moves the first and meets the outage at the second.
        var provider = new OutageKeyProvider(KeyRings.Open(RingFile, _time));
        using var encryptor = KeyRings.Encryptor(provider, _time);
        var keys = new InProcessKeyAdministration(provider, _store, encryptor);
        await new InProcessTrousseau(encryptor, _store, _time).CreateSecretAsync("app/a", SecretType.Opaque, Data("k", "v"));
        using (var other = KeyRings.Encryptor(KeyRings.Open(RingFile, _time), _time))
        {
            await new InProcessTrousseau(other, _store, _time).CreateSecretAsync("app/c", SecretType.Opaque, Data("k", "w"));
        }

        var rotated = await KeyRings.Open(RingFile, _time).RotateAsync();
        provider.BeforeOutage = () => Eventually.HoldsAsync(async () => await KeyIdOfAsync("app/a") == rotated.KeyId);

        var error = await Assert.ThrowsAsync<DependencyUnavailableException>(async () => await keys.RewrapSecretsAsync());

        Assert.Equal(
            "The key provider is sealed (503). The rewrap stopped there, after moving 1 secret to the current key (0 needed no move, 0 could not be moved); run it again to move the rest.",
            error.Message);
    }

    [Fact]
    public async Task A_secret_written_after_a_rotation_returns_is_under_the_new_key_even_when_a_write_was_making_a_data_key_as_it_began()
    {
        var wrappedUnderOldKey = _provider.HoldNextWrap();
        var write = _trousseau.CreateSecretAsync("app/during", SecretType.Opaque, Data("k", "v")).AsTask();
        await wrappedUnderOldKey;
        var rotated = await _keys.RotateKeyAsync();
        _provider.ReleaseWrap();
        await write;

        await _trousseau.CreateSecretAsync("app/after", SecretType.Opaque, Data("k", "w"));

        Assert.Equal(rotated.KeyId, await KeyIdOfAsync("app/after"));
        Assert.Equal("w", (await _trousseau.GetSecretAsync("app/after")).Data["k"]);
    }

    private static Dictionary<string, string> Data(string key, string value) => new(StringComparer.Ordinal) { [key] = value };

    /// <summary>The key id that the stored record of <paramref name="name"/> names, as a rewrap and an operator read it.</summary>
    private async Task<string> KeyIdOfAsync(string name)
    {
        var record = (await _store.GetAsync(name))!.Value;
        var header = SecretRecord.ReadHeader(name, record.Span);
        var envelope = record.Span[header.Length..];
        return Encoding.UTF8.GetString(envelope[EnvelopeFormat.Parse(envelope).KeyId]);
    }
}
