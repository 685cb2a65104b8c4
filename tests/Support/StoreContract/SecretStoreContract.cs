using System.Security.Cryptography;
using Microsoft.Extensions.DependencyInjection;
using Trousseau.Tests.Integration.Infrastructure;
using Xunit;

namespace Trousseau.Tests.StoreContract;

/// <summary>
/// What every <see cref="ISecretStore"/> promises, and what the library does on it where a store's answers decide it.
/// A store's test class derives from this and says how to open the store; the same facts then run against memory,
/// SQLite and etcd.
/// </summary>
public abstract class SecretStoreContract
{
    /// <summary>Opens an empty store (or one whose keys do not collide with other tests).</summary>
    protected abstract ISecretStore OpenStore();

    /// <summary>A key unique to this test, so that stores shared between tests do not collide.</summary>
    protected virtual string Key(string name) => name;

    private static byte[] Value(string text) => System.Text.Encoding.UTF8.GetBytes(text);

    private static string Text(ReadOnlyMemory<byte> value) => System.Text.Encoding.UTF8.GetString(value.Span);

    [StoreFact]
    public async Task Create_then_get_returns_the_value_and_a_positive_revision()
    {
        var store = OpenStore();

        var revision = await store.CreateAsync(Key("app/one"), Value("v1"));
        var entry = await store.GetAsync(Key("app/one"));

        Assert.True(revision > 0);
        Assert.NotNull(entry);
        Assert.Equal(Key("app/one"), entry.Key);
        Assert.Equal(Value("v1"), entry.Value.ToArray());
        Assert.Equal(revision, entry.Revision);
    }

    [StoreFact]
    public async Task Get_of_a_missing_key_returns_null()
    {
        var store = OpenStore();

        Assert.Null(await store.GetAsync(Key("missing")));
    }

    [StoreFact]
    public async Task Create_of_an_existing_key_conflicts_and_keeps_the_first_value()
    {
        var store = OpenStore();
        var revision = await store.CreateAsync(Key("dup"), Value("first"));

        var error = await Assert.ThrowsAsync<SecretConflictException>(async () => await store.CreateAsync(Key("dup"), Value("second")));

        Assert.Equal(SecretConflictReason.AlreadyExists, error.Reason);
        var entry = await store.GetAsync(Key("dup"));
        Assert.Equal(("first", revision), (Text(entry!.Value), entry.Revision));
    }

    [StoreFact]
    public async Task Update_at_the_current_revision_replaces_the_value_and_raises_the_revision()
    {
        var store = OpenStore();
        var created = await store.CreateAsync(Key("upd"), Value("v1"));

        var updated = await store.UpdateAsync(Key("upd"), Value("v2"), created);

        Assert.True(updated > created);
        var entry = await store.GetAsync(Key("upd"));
        Assert.Equal(("v2", updated), (Text(entry!.Value), entry.Revision));
    }

    [StoreFact]
    public async Task Update_at_a_stale_revision_conflicts_and_changes_nothing()
    {
        var store = OpenStore();
        var created = await store.CreateAsync(Key("stale"), Value("v1"));
        var updated = await store.UpdateAsync(Key("stale"), Value("v2"), created);

        var error = await Assert.ThrowsAsync<SecretConflictException>(async () => await store.UpdateAsync(Key("stale"), Value("v3"), created));

        Assert.Equal(SecretConflictReason.RevisionMismatch, error.Reason);
        var entry = await store.GetAsync(Key("stale"));
        Assert.Equal(("v2", updated), (Text(entry!.Value), entry.Revision));
    }

    [StoreFact]
    public async Task Update_of_a_missing_key_is_not_found()
    {
        var store = OpenStore();

        await Assert.ThrowsAsync<SecretNotFoundException>(async () => await store.UpdateAsync(Key("nothing"), Value("v"), 1));
        Assert.Null(await store.GetAsync(Key("nothing")));
    }

    [StoreFact]
    public async Task Delete_removes_the_key_and_a_second_delete_is_not_found()
    {
        var store = OpenStore();
        await store.CreateAsync(Key("del"), Value("v"));

        await store.DeleteAsync(Key("del"));

        Assert.Null(await store.GetAsync(Key("del")));
        await Assert.ThrowsAsync<SecretNotFoundException>(async () => await store.DeleteAsync(Key("del")));
    }

    [StoreFact]
    public async Task Delete_at_a_stale_revision_conflicts_and_keeps_the_record()
    {
        var store = OpenStore();
        var created = await store.CreateAsync(Key("keep"), Value("v1"));
        var updated = await store.UpdateAsync(Key("keep"), Value("v2"), created);

        await Assert.ThrowsAsync<SecretConflictException>(async () => await store.DeleteAsync(Key("keep"), created));
        Assert.NotNull(await store.GetAsync(Key("keep")));

        await store.DeleteAsync(Key("keep"), updated);
        Assert.Null(await store.GetAsync(Key("keep")));
    }

    [StoreFact]
    public async Task An_update_or_a_delete_at_a_revision_the_record_has_not_reached_conflicts_and_changes_nothing()
    {
        var store = OpenStore();
        var created = await store.CreateAsync(Key("ahead"), Value("v1"));
        var ahead = created + 1_000_000;

        var update = await Assert.ThrowsAsync<SecretConflictException>(async () => await store.UpdateAsync(Key("ahead"), Value("v2"), ahead));
        var delete = await Assert.ThrowsAsync<SecretConflictException>(async () => await store.DeleteAsync(Key("ahead"), ahead));

        Assert.Equal((SecretConflictReason.RevisionMismatch, SecretConflictReason.RevisionMismatch), (update.Reason, delete.Reason));
        var entry = await store.GetAsync(Key("ahead"));
        Assert.Equal(("v1", created), (Text(entry!.Value), entry.Revision));
    }

    [StoreFact]
    public async Task A_recreated_key_never_gets_an_old_revision_back()
    {
        var store = OpenStore();
        var first = await store.CreateAsync(Key("again"), Value("v1"));
        var second = await store.UpdateAsync(Key("again"), Value("v2"), first);
        await store.DeleteAsync(Key("again"));

        var recreated = await store.CreateAsync(Key("again"), Value("v3"));

        Assert.True(recreated > second);
        await Assert.ThrowsAsync<SecretConflictException>(async () => await store.UpdateAsync(Key("again"), Value("v4"), first));
    }

    [StoreFact]
    public async Task List_returns_exactly_the_keys_under_the_prefix_in_ordinal_order()
    {
        var store = OpenStore();
        foreach (var name in new[] { "team/b", "team/a", "team/a/nested", "teams/x", "other/a", "team" })
        {
            await store.CreateAsync(Key(name), Value(name));
        }

        var listed = await ListAllAsync(store, Key("team/"));

        Assert.Equal([Key("team/a"), Key("team/a/nested"), Key("team/b")], listed.Select(e => e.Key));
        Assert.All(listed, e => Assert.Equal(Value(e.Key[(e.Key.IndexOf("team/", StringComparison.Ordinal))..]), e.Head.ToArray()));
    }

    [StoreFact]
    public async Task A_listing_returns_the_first_64_bytes_of_each_value_and_never_more()
    {
        var store = OpenStore();
        var large = RandomNumberGenerator.GetBytes(1024 * 1024);
        var exact = RandomNumberGenerator.GetBytes(StoreEntryHead.MaxLength);
        await store.CreateAsync(Key("heads/large"), large);
        await store.CreateAsync(Key("heads/exact"), exact);
        await store.CreateAsync(Key("heads/short"), Value("short"));

        var listed = (await ListAllAsync(store, Key("heads/"))).ToDictionary(e => e.Key, e => e.Head.ToArray());

        Assert.Equal(large[..StoreEntryHead.MaxLength], listed[Key("heads/large")]);
        Assert.Equal(exact, listed[Key("heads/exact")]);
        Assert.Equal(Value("short"), listed[Key("heads/short")]);
    }

    [StoreFact]
    public async Task A_listing_shows_each_record_as_last_written()
    {
        var store = OpenStore();
        var created = await store.CreateAsync(Key("written/one"), Value("first"));
        var updated = await store.UpdateAsync(Key("written/one"), Value("second"), created);
        await store.CreateAsync(Key("written/gone"), Value("gone"));
        await store.DeleteAsync(Key("written/gone"));
        await store.CreateAsync(Key("written/again"), Value("old"));
        await store.DeleteAsync(Key("written/again"));
        var recreated = await store.CreateAsync(Key("written/again"), Value("new"));

        var listed = await ListAllAsync(store, Key("written/"));

        Assert.Equal(
            [(Key("written/again"), "new", recreated), (Key("written/one"), "second", updated)],
            listed.Select(e => (e.Key, Text(e.Head), e.Revision)));
    }

    [StoreFact]
    public async Task Pages_hold_at_most_the_limit_and_follow_each_other_in_key_order()
    {
        var store = OpenStore();
        var names = Enumerable.Range(0, 7).Select(i => Key($"paged/{i:D2}")).ToList();
        foreach (var name in names.AsEnumerable().Reverse())
        {
            await store.CreateAsync(name, Value(name));
        }

        await store.CreateAsync(Key("page"), Value("before the prefix"));
        await store.CreateAsync(Key("paged0"), Value("after the prefix"));

        var first = await store.ListAsync(Key("paged/"), startAfter: null, limit: 3);
        var second = await store.ListAsync(Key("paged/"), first.Entries[^1].Key, limit: 3);
        var third = await store.ListAsync(Key("paged/"), second.Entries[^1].Key, limit: 3);

        Assert.Equal(names[..3], first.Entries.Select(e => e.Key));
        Assert.Equal(names[3..6], second.Entries.Select(e => e.Key));
        Assert.Equal(names[6..], third.Entries.Select(e => e.Key));
        Assert.Equal((true, true, false), (first.HasMore, second.HasMore, third.HasMore));
    }

    [StoreFact]
    public async Task Records_created_or_deleted_between_pages_do_not_disturb_the_others()
    {
        var store = OpenStore();
        for (var i = 1; i <= 10; i++)
        {
            await store.CreateAsync(Key($"moving/{i:D2}"), Value("v"));
        }

        var listed = new List<string>();
        var first = await store.ListAsync(Key("moving/"), startAfter: null, limit: 4);
        listed.AddRange(first.Entries.Select(e => e.Key));
        await store.DeleteAsync(Key("moving/04"));
        await store.DeleteAsync(Key("moving/05"));
        await store.CreateAsync(Key("moving/02b"), Value("behind the listing"));
        await store.CreateAsync(Key("moving/07b"), Value("ahead of the listing"));
        var startAfter = first.Entries[^1].Key;
        StorePage page;
        do
        {
            page = await store.ListAsync(Key("moving/"), startAfter, limit: 4);
            listed.AddRange(page.Entries.Select(e => e.Key));
            startAfter = page.Entries.Count > 0 ? page.Entries[^1].Key : startAfter;
        }
        while (page.HasMore);

        string[] expected = ["01", "02", "03", "04", "06", "07", "07b", "08", "09", "10"];
        Assert.Equal(expected.Select(n => Key($"moving/{n}")), listed);
    }

    [StoreFact]
    public async Task A_listing_continues_after_a_key_that_no_longer_exists()
    {
        var store = OpenStore();
        foreach (var name in new[] { "resume/a", "resume/b", "resume/c" })
        {
            await store.CreateAsync(Key(name), Value(name));
        }

        await store.DeleteAsync(Key("resume/b"));
        var page = await store.ListAsync(Key("resume/"), Key("resume/b"), limit: 10);

        Assert.Equal([Key("resume/c")], page.Entries.Select(e => e.Key));
        Assert.False(page.HasMore);
    }

    [StoreFact]
    public async Task List_with_a_prefix_that_matches_nothing_is_empty()
    {
        var store = OpenStore();
        await store.CreateAsync(Key("present"), Value("v"));

        Assert.Empty(await ListAllAsync(store, Key("absent/")));
    }

    [StoreFact]
    public async Task List_does_not_treat_prefix_characters_as_patterns()
    {
        var store = OpenStore();
        await store.CreateAsync(Key("a_b/one"), Value("1"));
        await store.CreateAsync(Key("axb/two"), Value("2"));
        await store.CreateAsync(Key("a%b/three"), Value("3"));

        Assert.Equal([Key("a_b/one")], (await ListAllAsync(store, Key("a_b/"))).Select(e => e.Key));
        Assert.Equal([Key("a%b/three")], (await ListAllAsync(store, Key("a%b/"))).Select(e => e.Key));
    }

    [StoreFact]
    public async Task Values_up_to_one_mebibyte_round_trip_exactly()
    {
        var store = OpenStore();
        var value = RandomNumberGenerator.GetBytes(1024 * 1024);

        var created = await store.CreateAsync(Key("big"), value);
        var replacement = RandomNumberGenerator.GetBytes(1024 * 1024);
        var updated = await store.UpdateAsync(Key("big"), replacement, created);

        var entry = await store.GetAsync(Key("big"));
        Assert.Equal(updated, entry!.Revision);
        Assert.True(entry.Value.Span.SequenceEqual(replacement));
    }

    [StoreFact]
    public async Task Of_concurrent_updates_at_one_revision_exactly_one_wins()
    {
        var store = OpenStore();
        var created = await store.CreateAsync(Key("race"), Value("start"));
        using var start = new ManualResetEventSlim();

        var attempts = Enumerable.Range(0, 12).Select(i => Task.Run(async () =>
        {
            start.Wait();
            try
            {
                return (Writer: i, Revision: (long?)await store.UpdateAsync(Key("race"), Value($"writer-{i}"), created));
            }
            catch (SecretConflictException)
            {
                return (Writer: i, Revision: null);
            }
        })).ToList();
        start.Set();
        var results = await Task.WhenAll(attempts);

        var winner = Assert.Single(results, r => r.Revision is not null);
        var entry = await store.GetAsync(Key("race"));
        Assert.Equal(($"writer-{winner.Writer}", winner.Revision!.Value), (Text(entry!.Value), entry.Revision));
    }

    [StoreFact]
    public async Task Of_concurrent_creates_of_one_key_exactly_one_wins()
    {
        var store = OpenStore();
        using var start = new ManualResetEventSlim();

        var attempts = Enumerable.Range(0, 12).Select(i => Task.Run(async () =>
        {
            start.Wait();
            try
            {
                await store.CreateAsync(Key("first"), Value($"writer-{i}"));
                return i;
            }
            catch (SecretConflictException)
            {
                return -1;
            }
        })).ToList();
        start.Set();
        var results = await Task.WhenAll(attempts);

        var winner = Assert.Single(results, r => r >= 0);
        Assert.Equal(Value($"writer-{winner}"), (await store.GetAsync(Key("first")))!.Value.ToArray());
    }

    [StoreFact]
    public async Task Concurrent_writers_to_different_keys_all_land()
    {
        var store = OpenStore();

        await Task.WhenAll(Enumerable.Range(0, 50).Select(i => Task.Run(async () =>
        {
            var revision = await store.CreateAsync(Key($"many/{i:D2}"), Value($"v{i}"));
            await store.UpdateAsync(Key($"many/{i:D2}"), Value($"w{i}"), revision);
        })));

        var listed = await ListAllAsync(store, Key("many/"));
        Assert.Equal(50, listed.Count);
        Assert.All(listed, e => Assert.Equal(Value($"w{int.Parse(e.Key[^2..], System.Globalization.CultureInfo.InvariantCulture)}"), e.Head.ToArray()));
    }

    [StoreFact]
    public async Task The_store_reports_healthy()
    {
        var store = OpenStore();

        var health = await store.CheckHealthAsync();

        Assert.True(health.IsHealthy, health.Description);
    }

    [StoreFact]
    public async Task A_patch_names_exactly_the_keys_it_removed_that_the_secret_did_not_hold()
    {
        using var directory = new TempDirectory();
        await using var library = Library(OpenStore(), directory);
        var trousseau = library.GetRequiredService<ITrousseau>();
        var name = Key("patch/absent-keys");
        var created = await trousseau.CreateSecretAsync(name, SecretType.Opaque, new Dictionary<string, string> { ["k"] = "v", ["old"] = "x", ["older"] = "y" });

        var partly = await trousseau.PatchSecretAsync(name, new Dictionary<string, string?> { ["old"] = null, ["gone"] = null, ["k"] = "v2", ["olde"] = null });
        var present = await trousseau.PatchSecretAsync(name, new Dictionary<string, string?> { ["older"] = null });
        var setting = await trousseau.PatchSecretAsync(name, new Dictionary<string, string?> { ["k"] = "v3" });
        var nothing = await trousseau.PatchSecretAsync(name, new Dictionary<string, string?> { ["older"] = null });

        Assert.Equal(["gone", "olde"], partly.AbsentKeys);
        Assert.True(partly.Metadata.Revision > created.Revision);
        Assert.Empty(present.AbsentKeys);
        Assert.True(present.Metadata.Revision > partly.Metadata.Revision);
        Assert.Empty(setting.AbsentKeys);
        Assert.Equal(["older"], nothing.AbsentKeys);
        Assert.Equal(setting.Metadata, nothing.Metadata);
        var secret = await trousseau.GetSecretAsync(name);
        Assert.Equal(new Dictionary<string, string> { ["k"] = "v3" }, secret.Data);
        Assert.Equal(nothing.Metadata, secret.Metadata);
    }

    /// <summary>The in-process library as an application builds it, over <paramref name="store"/>, with a local key ring in <paramref name="directory"/>.</summary>
    private static ServiceProvider Library(ISecretStore store, TempDirectory directory)
    {
        var services = new ServiceCollection();
        services.AddTrousseau(_ => { })
            .UseLocalKeyRing(ring => ring.KeyFile = directory.Combine("ring.json"))
            .AddSecretStore("contract", _ => store);
        return services.BuildServiceProvider(new ServiceProviderOptions { ValidateOnBuild = true, ValidateScopes = true });
    }

    /// <summary>Every entry under <paramref name="prefix"/>, page after page of a few entries each.</summary>
    protected static async Task<List<StoreEntryHead>> ListAllAsync(ISecretStore store, string prefix)
    {
        var list = new List<StoreEntryHead>();
        string? startAfter = null;
        StorePage page;
        do
        {
            page = await store.ListAsync(prefix, startAfter, limit: 4);
            Assert.True(page.Entries.Count <= 4, $"a page of limit 4 held {page.Entries.Count} entries");
            list.AddRange(page.Entries);
            startAfter = page.Entries.Count > 0 ? page.Entries[^1].Key : startAfter;
        }
        while (page.HasMore);

        return list;
    }
}
