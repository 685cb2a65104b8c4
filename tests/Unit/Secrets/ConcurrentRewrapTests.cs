using System.Text;
using Microsoft.Extensions.Time.Testing;
using Trousseau.Envelope;
using Trousseau.Internal;
using Trousseau.Tests.Integration.Infrastructure;
using Trousseau.Tests.Unit.Support;

namespace Trousseau.Tests.Unit.Secrets;

/// <summary>
/// A rewrap asked while another runs (a second <c>clectl key rewrap</c>, or the worker's after a rotation): it joins the
/// running one and gets the counts of the whole run, unless the key rotated since that one began.
/// </summary>
public sealed class ConcurrentRewrapTests : IDisposable
{
    private const int Secrets = 3;

    private readonly FakeTimeProvider _time = new(new DateTimeOffset(2026, 1, 1, 0, 0, 0, TimeSpan.Zero));
    private readonly TempDirectory _directory = new();
    private readonly InterleavingStore _store = new(new InMemorySecretStore());
    private readonly EnvelopeEncryptor _encryptor;
    private readonly InProcessTrousseau _trousseau;
    private readonly InProcessKeyAdministration _keys;

    public ConcurrentRewrapTests()
    {
        var provider = KeyRings.Open(_directory.Combine("ring.json"), _time);
        _encryptor = KeyRings.Encryptor(provider, _time);
        _trousseau = new InProcessTrousseau(_encryptor, _store, _time);
        _keys = new InProcessKeyAdministration(provider, _store, _encryptor);
    }

    public void Dispose()
    {
        _encryptor.Dispose();
        _directory.Dispose();
    }

    [Fact]
    public async Task A_rewrap_asked_while_one_runs_joins_it_and_both_callers_get_the_counts_of_the_whole_run()
    {
        await CreateSecretsAsync();
        var rotated = await _keys.RotateKeyAsync();
        Task<RewrapResult>? second = null;
        _store.AfterNextList(() =>
        {
            second = _keys.RewrapSecretsAsync().AsTask();
            return Task.CompletedTask;
        });

        var first = await _keys.RewrapSecretsAsync();

        var whole = new RewrapResult(Secrets, 0, 0) { KeyId = rotated.KeyId };
        Assert.Equal((whole, whole), (first, await second!));
    }

    [Fact]
    public async Task A_caller_that_stops_waiting_for_a_rewrap_it_joined_leaves_the_rewrap_running_for_the_other()
    {
        await CreateSecretsAsync();
        var rotated = await _keys.RotateKeyAsync();
        using var giveUp = new CancellationTokenSource();
        Task<RewrapResult>? second = null;
        _store.AfterNextList(() =>
        {
            second = _keys.RewrapSecretsAsync(giveUp.Token).AsTask();
            giveUp.Cancel();
            return Task.CompletedTask;
        });

        var first = await _keys.RewrapSecretsAsync();

        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => second!);
        Assert.Equal(new RewrapResult(Secrets, 0, 0) { KeyId = rotated.KeyId }, first);
        Assert.Equal([rotated.KeyId], (await KeyIdsAsync()).Distinct());
    }

    [Fact]
    public async Task A_rewrap_asked_after_a_rotation_made_while_one_runs_does_not_join_it_and_moves_every_secret_to_the_newer_key()
    {
        await CreateSecretsAsync();
        await _keys.RotateKeyAsync();
        KeyStatus? newer = null;
        Task<RewrapResult>? second = null;
        _store.AfterNextList(async () =>
        {
            newer = await _keys.RotateKeyAsync();
            second = _keys.RewrapSecretsAsync().AsTask();
        });

        await _keys.RewrapSecretsAsync();
        var result = await second!;

        Assert.Equal((0L, Secrets), (result.Failed, result.Rewrapped + result.Skipped));
        Assert.Equal([newer!.KeyId], (await KeyIdsAsync()).Distinct());
    }

    private async Task CreateSecretsAsync()
    {
        for (var i = 0; i < Secrets; i++)
        {
            await _trousseau.CreateSecretAsync($"app/s{i}", SecretType.Opaque, new Dictionary<string, string>(StringComparer.Ordinal) { ["k"] = "v" });
        }
    }

    private async Task<List<string>> KeyIdsAsync()
    {
        var keyIds = new List<string>();
        for (var i = 0; i < Secrets; i++)
        {
            var record = (await _store.GetAsync($"app/s{i}"))!.Value;
            var header = SecretRecord.ReadHeader($"app/s{i}", record.Span);
            var envelope = record.Span[header.Length..];
            keyIds.Add(Encoding.UTF8.GetString(envelope[EnvelopeFormat.Parse(envelope).KeyId]));
        }

        return keyIds;
    }
}
