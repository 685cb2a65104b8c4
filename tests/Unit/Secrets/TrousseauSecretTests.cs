using System.Buffers.Binary;
using System.Text;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Time.Testing;
using Trousseau.Envelope;
using Trousseau.Tests.Unit.Support;

namespace Trousseau.Tests.Unit.Secrets;

/// <summary>The secrets half of <see cref="ITrousseau"/>, in process, as an application uses it.</summary>
public sealed class TrousseauSecretTests : IDisposable
{
    private const string EmptyDataMessage = "A secret holds at least one data key; 'data' is empty (delete the secret to remove every key).";

    private const string Invisible =
        "A login secret's 'username' shows nothing: it holds only white space and invisible characters (such as U+200B); give the account's name.";

    private const string Control =
        "A login secret's 'username' holds a control character (a line break, a tab, a NUL), which no account's name holds; give the name as it is typed.";

    private const string EmptyEndpointMessage = "A login secret's 'endpoint' is empty or only white space; leave it out when there is none.";

    private readonly FakeTimeProvider _time = new(new DateTimeOffset(2026, 1, 1, 0, 0, 0, TimeSpan.Zero));
    private readonly LocalTrousseau _local;

    public TrousseauSecretTests() => _local = new LocalTrousseau(_time);

    private ITrousseau Trousseau => _local.Trousseau;

    public void Dispose() => _local.Dispose();

    private static Dictionary<string, string> Data(params (string Key, string Value)[] pairs) =>
        pairs.ToDictionary(p => p.Key, p => p.Value, StringComparer.Ordinal);

    [Fact]
    public async Task A_created_secret_reads_back_with_its_metadata()
    {
        var created = await Trousseau.CreateSecretAsync("payments/db", SecretType.Login, Data(("username", "app"), ("password", "s3cret"), ("endpoint", "db:5432")));

        var secret = await Trousseau.GetSecretAsync("payments/db");

        Assert.Equal(created, secret.Metadata);
        Assert.Equal(SecretType.Login, secret.Type);
        Assert.Equal("s3cret", secret.Data["password"]);
        Assert.Equal(_time.GetUtcNow(), created.CreatedAt);
        Assert.DoesNotContain("s3cret", secret.ToString(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Stored_records_hold_no_plaintext()
    {
        await Trousseau.CreateSecretAsync("plain/check", SecretType.Opaque, Data(("token", "VISIBLE-IF-LEAKED")));

        var entry = await _local.Store.GetAsync("plain/check");

        Assert.DoesNotContain("VISIBLE-IF-LEAKED", Encoding.Latin1.GetString(entry!.Value.Span), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Creating_an_existing_name_conflicts_and_keeps_the_first()
    {
        await Trousseau.CreateSecretAsync("dup", SecretType.Opaque, Data(("k", "first")));

        var error = await Assert.ThrowsAsync<SecretConflictException>(async () => await Trousseau.CreateSecretAsync("dup", SecretType.Opaque, Data(("k", "second"))));

        Assert.Equal(SecretConflictReason.AlreadyExists, error.Reason);
        Assert.Equal("first", (await Trousseau.GetSecretAsync("dup")).Data["k"]);
    }

    [Fact]
    public async Task Update_replaces_the_data_keeps_the_creation_time_and_checks_the_revision()
    {
        var created = await Trousseau.CreateSecretAsync("svc/api", SecretType.Opaque, Data(("key", "v1")));
        _time.Advance(TimeSpan.FromMinutes(3));

        var updated = await Trousseau.UpdateSecretAsync("svc/api", Data(("key", "v2")), expectedRevision: created.Revision);
        var stale = await Assert.ThrowsAsync<SecretConflictException>(
            async () => await Trousseau.UpdateSecretAsync("svc/api", Data(("key", "v3")), expectedRevision: created.Revision));

        var secret = await Trousseau.GetSecretAsync("svc/api");
        Assert.Equal(SecretConflictReason.RevisionMismatch, stale.Reason);
        Assert.Equal("v2", secret.Data["key"]);
        Assert.Equal(created.CreatedAt, secret.Metadata.CreatedAt);
        Assert.Equal(created.CreatedAt + TimeSpan.FromMinutes(3), secret.Metadata.UpdatedAt);
        Assert.True(updated.Revision > created.Revision);
    }

    [Fact]
    public async Task An_update_at_a_revision_the_secret_has_not_reached_conflicts_and_changes_nothing()
    {
        var created = await Trousseau.CreateSecretAsync("svc/ahead", SecretType.Opaque, Data(("key", "v1")));
        Assert.Equal("v1", (await Trousseau.GetSecretAsync("svc/ahead")).Data["key"]);

        var ahead = await Assert.ThrowsAsync<SecretConflictException>(
            async () => await Trousseau.UpdateSecretAsync("svc/ahead", Data(("key", "v2")), expectedRevision: created.Revision + 1));

        var secret = await Trousseau.GetSecretAsync("svc/ahead");
        Assert.Equal(SecretConflictReason.RevisionMismatch, ahead.Reason);
        Assert.Equal("v1", secret.Data["key"]);
        Assert.Equal(created.Revision, secret.Metadata.Revision);
    }

    [Fact]
    public async Task Missing_secrets_are_not_found_for_every_operation()
    {
        await Assert.ThrowsAsync<SecretNotFoundException>(async () => await Trousseau.GetSecretAsync("nope"));
        await Assert.ThrowsAsync<SecretNotFoundException>(async () => await Trousseau.UpdateSecretAsync("nope", Data(("k", "v"))));
        await Assert.ThrowsAsync<SecretNotFoundException>(async () => await Trousseau.UpdateSecretAsync("nope", Data(("k", "v")), SecretType.Opaque));
        await Assert.ThrowsAsync<SecretNotFoundException>(async () => await Trousseau.DeleteSecretAsync("nope"));

        await Assert.ThrowsAsync<SecretNotFoundException>(async () => await Trousseau.GetSecretAsync("nope"));
    }

    [Fact]
    public async Task Delete_checks_the_revision_when_given()
    {
        var created = await Trousseau.CreateSecretAsync("gone", SecretType.Opaque, Data(("k", "v")));
        await Trousseau.UpdateSecretAsync("gone", Data(("k", "w")));

        await Assert.ThrowsAsync<SecretConflictException>(async () => await Trousseau.DeleteSecretAsync("gone", created.Revision));
        await Trousseau.DeleteSecretAsync("gone");

        await Assert.ThrowsAsync<SecretNotFoundException>(async () => await Trousseau.GetSecretAsync("gone"));
    }

    [Fact]
    public async Task List_returns_metadata_under_the_prefix_only()
    {
        await Trousseau.CreateSecretAsync("team/a", SecretType.Opaque, Data(("k", "1")));
        await Trousseau.CreateSecretAsync("team/b", SecretType.Login, Data(("username", "u"), ("password", "p")));
        await Trousseau.CreateSecretAsync("other/c", SecretType.Opaque, Data(("k", "3")));

        var listed = new List<SecretMetadata>();
        await foreach (var item in Trousseau.ListSecretsAsync("team/"))
        {
            listed.Add(item);
        }

        Assert.Equal(["team/a", "team/b"], listed.Select(m => m.Name));
        Assert.Equal([SecretType.Opaque, SecretType.Login], listed.Select(m => m.Type));
    }

    [Fact]
    public async Task A_prefix_lists_every_name_that_starts_with_it_not_only_those_below_a_slash()
    {
        await Trousseau.CreateSecretAsync("team/a", SecretType.Opaque, Data(("k", "1")));
        await Trousseau.CreateSecretAsync("teammate/x", SecretType.Opaque, Data(("k", "2")));
        await Trousseau.CreateSecretAsync("tea", SecretType.Opaque, Data(("k", "3")));

        var listed = await Trousseau.ListSecretsAsync("team").ToListAsync();
        var page = await Trousseau.ListSecretsPageAsync("team");

        Assert.Equal(["team/a", "teammate/x"], listed.Select(m => m.Name));
        Assert.Equal(["team/a", "teammate/x"], page.Items.Select(m => m.Name));
    }

    [Fact]
    public async Task Listing_page_by_page_gives_each_secret_once_and_a_token_until_the_last_page()
    {
        var created = new List<SecretMetadata>();
        foreach (var name in new[] { "paged/e", "paged/a", "paged/d", "paged/b", "paged/c" })
        {
            created.Add(await Trousseau.CreateSecretAsync(name, SecretType.Opaque, Data(("k", name))));
            _time.Advance(TimeSpan.FromSeconds(1));
        }

        created[0] = await Trousseau.UpdateSecretAsync("paged/e", Data(("k", "changed")));
        await Trousseau.CreateSecretAsync("pagedx", SecretType.Opaque, Data(("k", "outside the prefix")));

        var first = await Trousseau.ListSecretsPageAsync("paged/", limit: 2);
        var second = await Trousseau.ListSecretsPageAsync("paged/", first.ContinuationToken, limit: 2);
        var third = await Trousseau.ListSecretsPageAsync("paged/", second.ContinuationToken, limit: 2);

        Assert.Equal(created.OrderBy(m => m.Name, StringComparer.Ordinal), [.. first.Items, .. second.Items, .. third.Items]);
        Assert.Equal((2, 2, 1), (first.Items.Count, second.Items.Count, third.Items.Count));
        Assert.NotNull(first.ContinuationToken);
        Assert.NotNull(second.ContinuationToken);
        Assert.Null(third.ContinuationToken);
    }

    [Fact]
    public async Task Listings_leave_out_stored_keys_that_are_no_secret_record_and_page_past_them()
    {
        await Trousseau.CreateSecretAsync("paged/a", SecretType.Opaque, Data(("k", "a")));
        await _local.Store.CreateAsync("paged/b", "not a record"u8.ToArray());
        await _local.Store.CreateAsync("paged/c", new byte[] { 1, 40, 0 });
        await Trousseau.CreateSecretAsync("paged/d", SecretType.Opaque, Data(("k", "d")));
        await _local.Store.CreateAsync("paged/e f", (await _local.Store.GetAsync("paged/d"))!.Value);

        var first = await Trousseau.ListSecretsPageAsync("paged/", limit: 2);
        var second = await Trousseau.ListSecretsPageAsync("paged/", first.ContinuationToken, limit: 2);
        var all = new List<string>();
        await foreach (var metadata in Trousseau.ListSecretsAsync("paged/"))
        {
            all.Add(metadata.Name);
        }

        Assert.Equal(["paged/a"], first.Items.Select(m => m.Name));
        Assert.Equal(["paged/d"], second.Items.Select(m => m.Name));
        Assert.Null(second.ContinuationToken);
        Assert.Equal(["paged/a", "paged/d"], all);
        var damaged = await Assert.ThrowsAsync<InvalidCiphertextException>(async () => await Trousseau.GetSecretAsync("paged/c"));
        Assert.Equal("The stored record of secret 'paged/c' is corrupt: its header is malformed.", damaged.Message);
    }

    [Fact]
    public async Task Listing_more_secrets_than_one_page_enumerates_them_all_in_name_order()
    {
        var names = Enumerable.Range(0, TrousseauLimits.DefaultListPageSize * 2 + 1).Select(i => $"many/{i:D4}").ToList();
        foreach (var name in names)
        {
            await Trousseau.CreateSecretAsync(name, SecretType.Opaque, Data(("k", "v")));
        }

        var listed = new List<string>();
        await foreach (var item in Trousseau.ListSecretsAsync("many/"))
        {
            listed.Add(item.Name);
        }

        Assert.Equal(names, listed);
        Assert.Equal(TrousseauLimits.DefaultListPageSize, (await Trousseau.ListSecretsPageAsync("many/")).Items.Count);
    }

    [Theory]
    [InlineData(0)]
    [InlineData(-1)]
    [InlineData(TrousseauLimits.MaxListPageSize + 1)]
    public async Task A_page_size_outside_1_to_1000_is_invalid_input(int limit)
    {
        var error = await Assert.ThrowsAsync<InvalidInputException>(async () => await Trousseau.ListSecretsPageAsync(limit: limit));

        Assert.Equal("limit", error.Field);
    }

    [Fact]
    public async Task A_continuation_token_of_another_prefix_or_made_up_is_invalid_input()
    {
        await Trousseau.CreateSecretAsync("team/a", SecretType.Opaque, Data(("k", "1")));
        await Trousseau.CreateSecretAsync("team/b", SecretType.Opaque, Data(("k", "2")));
        var token = (await Trousseau.ListSecretsPageAsync("team/", limit: 1)).ContinuationToken!;

        foreach (var (prefix, bad) in new[] { ("other/", token), ("team/", "not-a-token"), ("team/", token + "x"), ("team/", "AXRlYW0vQSBi") })
        {
            var error = await Assert.ThrowsAsync<InvalidInputException>(async () => await Trousseau.ListSecretsPageAsync(prefix, bad));
            Assert.Equal("continue", error.Field);
        }

        Assert.Equal(["team/b"], (await Trousseau.ListSecretsPageAsync("team/", token)).Items.Select(m => m.Name));
    }

    [Theory]
    [InlineData("")]
    [InlineData("Upper")]
    [InlineData("/leading")]
    [InlineData("trailing/")]
    [InlineData("has space")]
    [InlineData("dot..ok-but-ends-with.")]
    [InlineData("tmp/../prod/db")]
    [InlineData("tmp//db")]
    public async Task Bad_names_are_refused_and_nothing_is_stored(string name)
    {
        var error = await Assert.ThrowsAsync<InvalidInputException>(async () => await Trousseau.CreateSecretAsync(name, SecretType.Opaque, Data(("k", "v"))));

        Assert.Equal("name", error.Field);
        Assert.Empty((await _local.Store.ListAsync("", startAfter: null, limit: 1)).Entries);
    }

    [Fact]
    public async Task A_name_longer_than_253_characters_is_refused()
    {
        await Assert.ThrowsAsync<InvalidInputException>(async () => await Trousseau.CreateSecretAsync(new string('a', 254), SecretType.Opaque, Data(("k", "v"))));
        await Trousseau.CreateSecretAsync(new string('a', 253), SecretType.Opaque, Data(("k", "v")));
    }

    [Fact]
    public async Task Login_secrets_need_a_username_and_password_and_hold_nothing_else()
    {
        await Assert.ThrowsAsync<InvalidInputException>(async () => await Trousseau.CreateSecretAsync("l1", SecretType.Login, Data(("username", "u"))));
        await Assert.ThrowsAsync<InvalidInputException>(async () => await Trousseau.CreateSecretAsync("l2", SecretType.Login, Data(("password", "p"))));
        await Assert.ThrowsAsync<InvalidInputException>(async () => await Trousseau.CreateSecretAsync("l3", SecretType.Login, Data(("username", "u"), ("password", "p"), ("extra", "x"))));
        await Assert.ThrowsAsync<InvalidInputException>(async () => await Trousseau.CreateSecretAsync("l4", new SecretType("certificate"), Data(("k", "v"))));
    }

    [Theory]
    [InlineData("Password")]
    [InlineData("USERNAME")]
    [InlineData("Endpoint")]
    public async Task A_login_secret_refuses_a_key_that_differs_from_its_own_keys_only_in_case(string key)
    {
        var refused = await Assert.ThrowsAsync<InvalidInputException>(
            async () => await Trousseau.CreateSecretAsync("login/cased", SecretType.Login, Data(("username", "u"), ("password", "p"), (key, "x"))));

        Assert.Equal(("data", $"A login secret holds only 'username', 'password' and 'endpoint', not '{key}'."), (refused.Field, refused.Message));
        await Assert.ThrowsAsync<SecretNotFoundException>(async () => await Trousseau.GetSecretAsync("login/cased"));
    }

    [Theory]
    [InlineData("a/b")]
    [InlineData("a b")]
    [InlineData("caf\u00e9")]
    [InlineData("key:1")]
    [InlineData("")]
    [InlineData("k254")]
    public async Task A_data_key_outside_1_to_253_letters_digits_dots_underscores_and_dashes_is_refused_and_nothing_is_stored(string key)
    {
        key = key == "k254" ? new string('k', 254) : key;

        var refused = await Assert.ThrowsAsync<InvalidInputException>(
            async () => await Trousseau.CreateSecretAsync("keys/bad", SecretType.Opaque, Data((key, "v"))));

        Assert.Equal("data", refused.Field);
        Assert.EndsWith("use 1 to 253 characters of A-Z, a-z, 0-9, '.', '_', '-'.", refused.Message, StringComparison.Ordinal);
        await Assert.ThrowsAsync<SecretNotFoundException>(async () => await Trousseau.GetSecretAsync("keys/bad"));
    }

    [Fact]
    public async Task Data_keys_of_253_characters_and_of_every_allowed_character_are_kept()
    {
        var data = Data((new string('k', 253), "long"), ("A-z_0.9", "mixed"), (".", "dot"), ("..", "dots"));

        await Trousseau.CreateSecretAsync("keys/good", SecretType.Opaque, data);

        Assert.Equal(data, (await Trousseau.GetSecretAsync("keys/good")).Data);
    }

    [Fact]
    public async Task A_secret_holds_at_least_one_key_so_empty_data_and_a_patch_removing_every_key_are_refused_and_change_nothing()
    {
        var created = await Trousseau.CreateSecretAsync("empty/kept", SecretType.Opaque, Data(("a", "1"), ("b", "2")));

        var refusals = new[]
        {
            await Assert.ThrowsAsync<InvalidInputException>(async () => await Trousseau.CreateSecretAsync("empty/new", SecretType.Opaque, Data())),
            await Assert.ThrowsAsync<InvalidInputException>(async () => await Trousseau.UpdateSecretAsync("empty/kept", Data())),
            await Assert.ThrowsAsync<InvalidInputException>(async () => await Trousseau.UpdateSecretAsync("empty/kept", Data(), SecretType.Opaque)),
            await Assert.ThrowsAsync<InvalidInputException>(
                async () => await Trousseau.PatchSecretAsync("empty/kept", new Dictionary<string, string?> { ["a"] = null, ["b"] = null })),
        };

        Assert.All(refusals, e => Assert.Equal(("data", EmptyDataMessage), (e.Field, e.Message)));
        await Assert.ThrowsAsync<SecretNotFoundException>(async () => await Trousseau.GetSecretAsync("empty/new"));
        var kept = await Trousseau.GetSecretAsync("empty/kept");
        Assert.Equal(created.Revision, kept.Metadata.Revision);
        Assert.Equal(Data(("a", "1"), ("b", "2")), kept.Data);
    }

    [Theory]
    [InlineData("")]
    [InlineData("  ")]
    public async Task An_empty_or_blank_login_endpoint_is_refused_naming_it_whether_given_or_generated(string endpoint)
    {
        var given = await Assert.ThrowsAsync<InvalidInputException>(
            async () => await Trousseau.CreateSecretAsync("endpoint/given", SecretType.Login, Data(("username", "u"), ("password", "p"), ("endpoint", endpoint))));
        var generated = await Assert.ThrowsAsync<InvalidInputException>(
            async () => await Trousseau.GenerateSecretAsync("endpoint/generated", new SecretGenerationOptions { Type = SecretType.Login, Username = "u", Endpoint = endpoint }));

        Assert.Equal(("data", EmptyEndpointMessage), (given.Field, given.Message));
        Assert.Equal(("endpoint", EmptyEndpointMessage), (generated.Field, generated.Message));
        await Assert.ThrowsAsync<SecretNotFoundException>(async () => await Trousseau.GetSecretAsync("endpoint/given"));
        await Assert.ThrowsAsync<SecretNotFoundException>(async () => await Trousseau.GetSecretAsync("endpoint/generated"));
    }

    [Theory]
    [InlineData(" ")]
    [InlineData("\t ")]
    public async Task A_blank_login_username_is_refused_naming_it_whether_given_or_generated(string username)
    {
        var given = await Assert.ThrowsAsync<InvalidInputException>(
            async () => await Trousseau.CreateSecretAsync("username/given", SecretType.Login, Data(("username", username), ("password", "p"))));
        var generated = await Assert.ThrowsAsync<InvalidInputException>(
            async () => await Trousseau.GenerateSecretAsync("username/generated", new SecretGenerationOptions { Type = SecretType.Login, Username = username }));

        Assert.Equal(("data", "A login secret's 'username' is only white space; give the account's name."), (given.Field, given.Message));
        Assert.Equal(("username", "A generated login secret needs a username."), (generated.Field, generated.Message));
        await Assert.ThrowsAsync<SecretNotFoundException>(async () => await Trousseau.GetSecretAsync("username/given"));
        await Assert.ThrowsAsync<SecretNotFoundException>(async () => await Trousseau.GetSecretAsync("username/generated"));
    }

    [Theory]
    [InlineData("\u200B", Invisible)]
    [InlineData("\u2060\u00A0\u200D", Invisible)]
    [InlineData("admin\n", Control)]
    [InlineData("ad\u0000min", Control)]
    [InlineData("\u0085root", Control)]
    public async Task A_login_username_that_shows_nothing_or_holds_a_control_character_is_refused_saying_why_whether_given_or_generated(string username, string message)
    {
        var given = await Assert.ThrowsAsync<InvalidInputException>(
            async () => await Trousseau.CreateSecretAsync("username/given", SecretType.Login, Data(("username", username), ("password", "p"))));
        var generated = await Assert.ThrowsAsync<InvalidInputException>(
            async () => await Trousseau.GenerateSecretAsync("username/generated", new SecretGenerationOptions { Type = SecretType.Login, Username = username }));

        Assert.Equal(("data", message), (given.Field, given.Message));
        Assert.Equal(("username", message), (generated.Field, generated.Message));
        await Assert.ThrowsAsync<SecretNotFoundException>(async () => await Trousseau.GetSecretAsync("username/given"));
        await Assert.ThrowsAsync<SecretNotFoundException>(async () => await Trousseau.GetSecretAsync("username/generated"));
    }

    [Theory]
    [InlineData("\u0645\u0647\u200C\u0633\u0627")]
    [InlineData("o'brien.example")]
    public async Task A_login_username_with_a_joiner_between_letters_is_kept_as_given(string username)
    {
        await Trousseau.CreateSecretAsync("username/joined", SecretType.Login, Data(("username", username), ("password", "p")));

        Assert.Equal(username, (await Trousseau.GetSecretAsync("username/joined")).Data["username"]);
    }

    [Fact]
    public async Task An_update_without_a_type_keeps_to_the_rules_of_the_type_the_secret_has()
    {
        var created = await Trousseau.CreateSecretAsync("l5", SecretType.Login, Data(("username", "u"), ("password", "p")));
        await Trousseau.UpdateSecretAsync("l5", Data(("username", "u"), ("password", "p2")));

        await Assert.ThrowsAsync<InvalidInputException>(async () => await Trousseau.UpdateSecretAsync("l5", Data(("token", "t"))));
        await Assert.ThrowsAsync<InvalidInputException>(async () => await Trousseau.UpdateSecretAsync("l5", Data(("username", "u"))));

        var secret = await Trousseau.GetSecretAsync("l5");
        Assert.Equal((SecretType.Login, "p2"), (secret.Type, secret.Data["password"]));
        Assert.Equal(created.CreatedAt, secret.Metadata.CreatedAt);
    }

    [Fact]
    public async Task Data_over_one_mebibyte_is_refused_and_data_just_under_is_kept()
    {
        var overhead = "k".Length;
        await Assert.ThrowsAsync<SecretTooLargeException>(
            async () => await Trousseau.CreateSecretAsync("big", SecretType.Opaque, Data(("k", new string('x', TrousseauLimits.MaxSecretDataBytes)))));
        await Assert.ThrowsAsync<SecretNotFoundException>(async () => await Trousseau.GetSecretAsync("big"));

        await Trousseau.CreateSecretAsync("big", SecretType.Opaque, Data(("k", new string('x', TrousseauLimits.MaxSecretDataBytes - overhead))));
        Assert.Equal(TrousseauLimits.MaxSecretDataBytes - overhead, (await Trousseau.GetSecretAsync("big")).Data["k"].Length);
    }

    [Fact]
    public async Task A_record_moved_to_another_name_of_any_length_does_not_decrypt()
    {
        await Trousseau.CreateSecretAsync("origin", SecretType.Opaque, Data(("k", "v")));
        var entry = await _local.Store.GetAsync("origin");
        await _local.Store.CreateAsync("moved", entry!.Value);
        await _local.Store.CreateAsync("origim", entry.Value);

        await Assert.ThrowsAsync<InvalidCiphertextException>(async () => await Trousseau.GetSecretAsync("moved"));
        await Assert.ThrowsAsync<InvalidCiphertextException>(async () => await Trousseau.GetSecretAsync("origim"));
        Assert.Equal(Data(("k", "v")), (await Trousseau.GetSecretAsync("origin")).Data);
    }

    [Theory]
    [InlineData(2)]
    [InlineData(2 + 6 + 7)]
    [InlineData(2 + 6 + 8 + 7)]
    public async Task A_records_type_or_timestamps_edited_in_the_store_do_not_decrypt(int editedByte)
    {
        // The clear header of an opaque secret's record: format, type length, "opaque", created and updated times.
        await Trousseau.CreateSecretAsync("times/a", SecretType.Opaque, Data(("k", "v")));
        var entry = await _local.Store.GetAsync("times/a");
        var edited = entry!.Value.ToArray();
        edited[editedByte] ^= 0x20;

        await _local.Store.UpdateAsync("times/a", edited, entry.Revision);

        var refused = await Assert.ThrowsAsync<InvalidCiphertextException>(async () => await Trousseau.GetSecretAsync("times/a"));
        Assert.StartsWith("The stored record of secret 'times/a' cannot be decrypted", refused.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_record_cut_short_inside_its_header_is_refused_as_corrupt_and_left_out_of_listings()
    {
        await Trousseau.CreateSecretAsync("cut/a", SecretType.Opaque, Data(("k", "v")));
        await Trousseau.CreateSecretAsync("cut/b", SecretType.Opaque, Data(("k", "v")));
        var entry = await _local.Store.GetAsync("cut/a");
        await _local.Store.UpdateAsync("cut/a", entry!.Value[..(2 + entry.Value.Span[1] + 12)], entry.Revision);

        var refused = await Assert.ThrowsAsync<InvalidCiphertextException>(async () => await Trousseau.GetSecretAsync("cut/a"));

        Assert.Equal("The stored record of secret 'cut/a' is corrupt: its header is malformed.", refused.Message);
        Assert.Equal(["cut/b"], (await Trousseau.ListSecretsAsync("cut/").ToListAsync()).Select(m => m.Name));
    }

    [Theory]
    [InlineData("00000001" + "00000001" + "6b" + "00000001" + "76" + "00")]
    [InlineData("00000001" + "00000001" + "6b" + "0000000a" + "767676")]
    [InlineData("00000002" + "00000001" + "6b" + "00000001" + "76")]
    [InlineData("00000001" + "00000001" + "6b" + "00000002" + "c328")]
    [InlineData("00000001" + "ffffffff" + "6b")]
    public async Task Sealed_data_that_does_not_decode_exactly_is_refused_as_corrupt_not_read_in_part(string plaintextHex)
    {
        await SealRecordAsync("coded/good", SecretType.Opaque, Convert.FromHexString("00000001" + "00000001" + "6b" + "00000001" + "76"));
        await SealRecordAsync("coded/bad", SecretType.Opaque, Convert.FromHexString(plaintextHex));

        var refused = await Assert.ThrowsAsync<InvalidCiphertextException>(async () => await Trousseau.GetSecretAsync("coded/bad"));

        Assert.Equal(Data(("k", "v")), (await Trousseau.GetSecretAsync("coded/good")).Data);
        Assert.Equal("The stored record of secret 'coded/bad' is corrupt: its data does not decode.", refused.Message);
    }

    [Fact]
    public async Task Generated_secrets_use_the_default_length_and_alphabet()
    {
        var generated = await Trousseau.GenerateSecretAsync("gen/default");

        var value = Assert.Single((await Trousseau.GetSecretAsync("gen/default")).Data).Value;
        Assert.Equal(SecretType.Opaque, generated.Type);
        Assert.Equal(SecretGenerationOptions.DefaultLength, value.Length);
        Assert.All(value, c => Assert.Contains(c, SecretGenerationOptions.DefaultAlphabet));
    }

    [Fact]
    public async Task Generated_values_honour_length_and_alphabet_and_differ()
    {
        var options = new SecretGenerationOptions { Key = "pin", Length = 40, Alphabet = "0123456789" };
        await Trousseau.GenerateSecretAsync("gen/one", options);
        await Trousseau.GenerateSecretAsync("gen/two", options);

        var one = (await Trousseau.GetSecretAsync("gen/one")).Data["pin"];
        var two = (await Trousseau.GetSecretAsync("gen/two")).Data["pin"];

        Assert.Equal(40, one.Length);
        Assert.All(one, c => Assert.InRange(c, '0', '9'));
        Assert.NotEqual(one, two);
    }

    [Fact]
    public async Task An_alphabet_of_characters_beyond_the_basic_plane_gives_whole_characters_and_length_counts_characters()
    {
        // Each emoji is two UTF-16 units: drawn unit by unit, a value holds halves that no encoding keeps.
        const string alphabet = "ab\U0001F510\U0001F511";
        await Trousseau.GenerateSecretAsync("gen/emoji", new SecretGenerationOptions { Length = 64, Alphabet = alphabet });

        var value = (await Trousseau.GetSecretAsync("gen/emoji")).Data["value"];

        var characters = value.EnumerateRunes().ToList();
        Assert.Equal(64, characters.Count);
        Assert.All(characters, c => Assert.Contains(c, alphabet.EnumerateRunes()));
        Assert.Contains(characters, c => !c.IsBmp);
    }

    [Theory]
    [InlineData(new[] { 'a', 'b', '\uD83D' })]
    [InlineData(new[] { '\uDD10', 'a', 'b' })]
    [InlineData(new[] { 'a', 'b', '\uD83D', '\uDD10', '\uD83D', '\uDD10' })]
    public async Task An_alphabet_with_half_a_character_or_a_character_twice_is_refused(char[] units)
    {
        // As UTF-16 units: an attribute's strings are kept as UTF-8, which has no half characters.
        var refused = await Assert.ThrowsAsync<InvalidInputException>(
            async () => await Trousseau.GenerateSecretAsync("gen/half", new SecretGenerationOptions { Length = 10, Alphabet = new string(units) }));

        Assert.Equal("alphabet", refused.Field);
        await Assert.ThrowsAsync<SecretNotFoundException>(async () => await Trousseau.GetSecretAsync("gen/half"));
    }

    [Theory]
    [InlineData("ab\t")]
    [InlineData("ab\u001B")]
    [InlineData("ab\u007F")]
    [InlineData("ab\u0085")]
    public async Task An_alphabet_with_a_control_character_is_refused(string alphabet)
    {
        // A tab, an escape, DEL or NEL in a password is typed as nothing, or as a key that does something else.
        var refused = await Assert.ThrowsAsync<InvalidInputException>(
            async () => await Trousseau.GenerateSecretAsync("gen/control", new SecretGenerationOptions { Length = 32, Alphabet = alphabet }));

        Assert.Equal("alphabet", refused.Field);
        Assert.Contains("no control characters", refused.Message, StringComparison.Ordinal);
        await Assert.ThrowsAsync<SecretNotFoundException>(async () => await Trousseau.GetSecretAsync("gen/control"));
    }

    [Theory]
    [InlineData("A\uFF21", "U+FF21")]
    [InlineData("ab\uFB01", "U+FB01")]
    [InlineData("\u2126ab", "U+2126")]
    [InlineData("ae\u0301\u00E9", "U+0301")]
    [InlineData("ab\u200B", "U+200B")]
    [InlineData("\u1100\u1161\uAC00", "U+1100")]
    [InlineData("\uA960ab", "U+A960")]
    [InlineData("ab\uD7B0", "U+D7B0")]
    [InlineData("ab\u2028", "U+2028")]
    [InlineData("ab\u0378", "U+0378")]
    public async Task An_alphabet_with_a_character_that_does_not_stand_alone_is_refused_naming_it(string alphabet, string named)
    {
        // Full-width 'Ａ' is 'A' once normalized (NFKC, as PostgreSQL's SCRAM does to a password): "AＡ" would make 2^32
        // values of 32 characters that all normalize to the same one. A combining mark or a Hangul jamo joins the character
        // before it ('e' and U+0301 make 'é'), and an invisible or unassigned character reads as nothing.
        var refused = await Assert.ThrowsAsync<InvalidInputException>(
            async () => await Trousseau.GenerateSecretAsync("gen/unstable", new SecretGenerationOptions { Length = 32, Alphabet = alphabet }));
        await Trousseau.CreateSecretAsync("gen/unstable-regenerate", SecretType.Opaque, Data(("value", "old")));
        var refusedRegeneration = await Assert.ThrowsAsync<InvalidInputException>(
            async () => await Trousseau.RegenerateSecretAsync("gen/unstable-regenerate", new SecretRegenerationOptions { Alphabet = alphabet }));

        Assert.Equal("alphabet", refused.Field);
        Assert.Contains($"'{named}'", refused.Message, StringComparison.Ordinal);
        Assert.Equal(refused.Message, refusedRegeneration.Message);
        await Assert.ThrowsAsync<SecretNotFoundException>(async () => await Trousseau.GetSecretAsync("gen/unstable"));
        Assert.Equal("old", (await Trousseau.GetSecretAsync("gen/unstable-regenerate")).Data["value"]);
    }

    [Fact]
    public async Task Regenerating_draws_the_new_value_with_the_length_and_from_the_alphabet_asked_for()
    {
        await Trousseau.CreateSecretAsync("gen/regenerated", SecretType.Opaque, Data(("pin", "typed-by-a-person")));

        await Trousseau.RegenerateSecretAsync("gen/regenerated", new SecretRegenerationOptions { Length = 48, Alphabet = "0123456789" });

        var pin = (await Trousseau.GetSecretAsync("gen/regenerated")).Data["pin"];
        Assert.Equal(48, pin.Length);
        Assert.All(pin, c => Assert.InRange(c, '0', '9'));
    }

    [Fact]
    public async Task A_generated_login_secret_gets_a_password_beside_its_username()
    {
        await Trousseau.GenerateSecretAsync("gen/login", new SecretGenerationOptions { Type = SecretType.Login, Username = "svc", Endpoint = "https://db" });

        var secret = await Trousseau.GetSecretAsync("gen/login");

        Assert.Equal("svc", secret.Data["username"]);
        Assert.Equal("https://db", secret.Data["endpoint"]);
        Assert.Equal(SecretGenerationOptions.DefaultLength, secret.Data["password"].Length);
    }

    [Theory]
    [InlineData(1)]
    [InlineData(4096)]
    public async Task Lengths_1_and_4096_the_bounds_the_reference_gives_are_generated_and_regenerated(int length)
    {
        await Trousseau.GenerateSecretAsync("gen/bound", new SecretGenerationOptions { Length = length });
        var generated = (await Trousseau.GetSecretAsync("gen/bound")).Data["value"];
        await Trousseau.RegenerateSecretAsync("gen/bound", new SecretRegenerationOptions { Length = length });
        var regenerated = (await Trousseau.GetSecretAsync("gen/bound")).Data["value"];

        Assert.Equal((length, length), (generated.Length, regenerated.Length));
    }

    [Fact]
    public async Task The_default_alphabet_is_the_documented_ASCII_letters_and_digits_when_generating_and_regenerating()
    {
        // 4096 draws miss one of 62 characters with probability below 62 × (61/62)^4096, about e^-62.
        const string Documented = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
        await Trousseau.GenerateSecretAsync("gen/default-alphabet", new SecretGenerationOptions { Length = 4096 });
        var generated = (await Trousseau.GetSecretAsync("gen/default-alphabet")).Data["value"];
        await Trousseau.RegenerateSecretAsync("gen/default-alphabet", new SecretRegenerationOptions { Length = 4096 });
        var regenerated = (await Trousseau.GetSecretAsync("gen/default-alphabet")).Data["value"];

        Assert.Equal(Documented.Order(), generated.Distinct().Order());
        Assert.Equal(Documented.Order(), regenerated.Distinct().Order());
    }

    [Fact]
    public async Task A_login_secret_generated_with_no_username_at_all_is_refused_and_nothing_is_stored()
    {
        var refused = await Assert.ThrowsAsync<InvalidInputException>(
            async () => await Trousseau.GenerateSecretAsync("gen/no-username", new SecretGenerationOptions { Type = SecretType.Login }));

        Assert.Equal(("username", "A generated login secret needs a username."), (refused.Field, refused.Message));
        await Assert.ThrowsAsync<SecretNotFoundException>(async () => await Trousseau.GetSecretAsync("gen/no-username"));
    }

    [Theory]
    [InlineData(0, SecretGenerationOptions.DefaultAlphabet)]
    [InlineData(SecretGenerationOptions.MaxLength + 1, SecretGenerationOptions.DefaultAlphabet)]
    [InlineData(10, "a")]
    [InlineData(10, "aaaa")]
    public async Task Bad_generation_options_are_refused(int length, string alphabet)
    {
        await Assert.ThrowsAsync<InvalidInputException>(
            async () => await Trousseau.GenerateSecretAsync("gen/bad", new SecretGenerationOptions { Length = length, Alphabet = alphabet }));
        await Assert.ThrowsAsync<SecretNotFoundException>(async () => await Trousseau.GetSecretAsync("gen/bad"));
    }

    [Fact]
    public async Task Bytes_encrypt_and_decrypt_with_their_context()
    {
        var sealedBytes = await Trousseau.EncryptAsync("payload"u8.ToArray(), "tenant-1"u8.ToArray());

        Assert.Equal("payload", Encoding.UTF8.GetString(await Trousseau.DecryptAsync(sealedBytes.Ciphertext, "tenant-1"u8.ToArray())));
        await Assert.ThrowsAsync<InvalidCiphertextException>(async () => await Trousseau.DecryptAsync(sealedBytes.Ciphertext, "tenant-2"u8.ToArray()));
    }

    [Fact]
    public async Task Key_status_after_a_rotation_names_the_key_and_version_the_rotation_answered()
    {
        var before = await _local.Keys.GetKeyStatusAsync();
        var rotated = await _local.Keys.RotateKeyAsync();
        var after = await _local.Keys.GetKeyStatusAsync();

        Assert.Equal(before.Version + 1, rotated.Version);
        Assert.NotEqual(before.KeyId, rotated.KeyId);
        Assert.Equal(rotated, after);
    }

    [Fact]
    public async Task Rewrap_moves_every_secret_to_the_current_key_and_keeps_the_values()
    {
        for (var i = 0; i < 10; i++)
        {
            await Trousseau.CreateSecretAsync($"wrap/{i}", SecretType.Opaque, Data(("k", $"v{i}")));
        }

        var before = await _local.Keys.GetKeyStatusAsync();
        var after = await _local.Keys.RotateKeyAsync();
        var rewrapped = (await _local.Keys.RewrapSecretsAsync()).Rewrapped;
        var again = (await _local.Keys.RewrapSecretsAsync()).Rewrapped;

        Assert.NotEqual(before.KeyId, after.KeyId);
        Assert.Equal(10, rewrapped);
        Assert.Equal(0, again);
        for (var i = 0; i < 10; i++)
        {
            Assert.Equal($"v{i}", (await Trousseau.GetSecretAsync($"wrap/{i}")).Data["k"]);
        }
    }

    [Fact]
    public async Task Rewrap_goes_through_every_page_of_the_listing()
    {
        var count = TrousseauLimits.DefaultListPageSize * 2 + 1;
        for (var i = 0; i < count; i++)
        {
            await Trousseau.CreateSecretAsync($"pages/{i:D4}", SecretType.Opaque, Data(("k", $"v{i}")));
        }

        await _local.Keys.RotateKeyAsync();
        var rewrapped = (await _local.Keys.RewrapSecretsAsync()).Rewrapped;

        Assert.Equal(count, rewrapped);
        Assert.Equal(0, (await _local.Keys.RewrapSecretsAsync()).Rewrapped);
        Assert.Equal($"v{count - 1}", (await Trousseau.GetSecretAsync($"pages/{count - 1:D4}")).Data["k"]);
    }

    [Fact]
    public async Task A_record_the_rewrap_cannot_decrypt_is_counted_as_failed_at_each_rewrap_and_left_as_it_is()
    {
        for (var i = 0; i < 3; i++)
        {
            await Trousseau.CreateSecretAsync($"mixed/{i}", SecretType.Opaque, Data(("k", $"v{i}")));
        }

        var damaged = "\u0001not a sealed record"u8.ToArray();
        await _local.Store.CreateAsync("mixed/damaged", damaged);
        var rotated = await _local.Keys.RotateKeyAsync();

        var first = await _local.Keys.RewrapSecretsAsync();
        var again = await _local.Keys.RewrapSecretsAsync();

        Assert.Equal((new RewrapResult(3, 0, 1) { KeyId = rotated.KeyId }, new RewrapResult(0, 3, 1) { KeyId = rotated.KeyId }), (first, again));
        Assert.Equal(damaged, (await _local.Store.GetAsync("mixed/damaged"))!.Value.ToArray());
    }

    [Fact]
    public async Task A_rewrap_keeps_every_revision_so_writes_at_a_revision_read_before_it_succeed()
    {
        var kept = await Trousseau.CreateSecretAsync("keep/a", SecretType.Opaque, Data(("k", "a1")));
        await Trousseau.CreateSecretAsync("keep/b", SecretType.Opaque, Data(("k", "b1")));
        var updated = await Trousseau.UpdateSecretAsync("keep/b", Data(("k", "b2")));
        await _local.Keys.RotateKeyAsync();

        Assert.Equal(2, (await _local.Keys.RewrapSecretsAsync()).Rewrapped);

        var read = await Trousseau.GetSecretAsync("keep/a");
        var listed = await Trousseau.ListSecretsAsync("keep/").ToListAsync();
        Assert.Equal(kept, read.Metadata);
        Assert.Equal([kept.Revision, updated.Revision], listed.Select(m => m.Revision));
        Assert.Equal([kept.Revision, updated.Revision], (await Trousseau.ListSecretsPageAsync("keep/")).Items.Select(m => m.Revision));
        var written = await Trousseau.UpdateSecretAsync("keep/a", Data(("k", "a2")), expectedRevision: kept.Revision);
        await Trousseau.DeleteSecretAsync("keep/b", updated.Revision);
        Assert.True(written.Revision > updated.Revision);
        Assert.Equal("a2", (await Trousseau.GetSecretAsync("keep/a")).Data["k"]);
        await Assert.ThrowsAsync<SecretNotFoundException>(async () => await Trousseau.GetSecretAsync("keep/b"));
    }

    [Fact]
    public async Task After_a_rewrap_a_revision_older_than_the_last_change_of_the_data_still_conflicts()
    {
        var created = await Trousseau.CreateSecretAsync("older/a", SecretType.Opaque, Data(("k", "v1")));
        var updated = await Trousseau.UpdateSecretAsync("older/a", Data(("k", "v2")));
        await _local.Keys.RotateKeyAsync();
        await _local.Keys.RewrapSecretsAsync();

        var stale = await Assert.ThrowsAsync<SecretConflictException>(
            async () => await Trousseau.UpdateSecretAsync("older/a", Data(("k", "v3")), expectedRevision: created.Revision));
        await Assert.ThrowsAsync<SecretConflictException>(async () => await Trousseau.DeleteSecretAsync("older/a", created.Revision));

        Assert.Equal(SecretConflictReason.RevisionMismatch, stale.Reason);
        var secret = await Trousseau.GetSecretAsync("older/a");
        Assert.Equal("v2", secret.Data["k"]);
        Assert.Equal(updated.Revision, secret.Revision);
    }

    [Fact]
    public async Task A_secret_deleted_and_created_again_never_gets_a_revision_it_had_before_even_after_rewraps()
    {
        var first = await Trousseau.CreateSecretAsync("again/a", SecretType.Opaque, Data(("k", "v1")));
        await _local.Keys.RotateKeyAsync();
        await _local.Keys.RewrapSecretsAsync();
        await Trousseau.DeleteSecretAsync("again/a", first.Revision);

        var second = await Trousseau.CreateSecretAsync("again/a", SecretType.Opaque, Data(("k", "v2")));

        Assert.True(second.Revision > first.Revision);
        await Assert.ThrowsAsync<SecretConflictException>(
            async () => await Trousseau.UpdateSecretAsync("again/a", Data(("k", "v3")), expectedRevision: first.Revision));
    }

    [Fact]
    public async Task A_revision_kept_by_a_rewrap_is_authenticated_so_editing_it_in_the_store_breaks_the_record()
    {
        var created = await Trousseau.CreateSecretAsync("edit/a", SecretType.Opaque, Data(("k", "v")));
        await _local.Keys.RotateKeyAsync();
        await _local.Keys.RewrapSecretsAsync();
        var entry = await _local.Store.GetAsync("edit/a");
        var edited = entry!.Value.ToArray();
        var header = 2 + edited[1] + 16;
        Assert.Equal(created.Revision, BinaryPrimitives.ReadInt64BigEndian(edited.AsSpan(header)));
        BinaryPrimitives.WriteInt64BigEndian(edited.AsSpan(header), created.Revision + 1000);

        await _local.Store.UpdateAsync("edit/a", edited, entry.Revision);

        await Assert.ThrowsAsync<InvalidCiphertextException>(async () => await Trousseau.GetSecretAsync("edit/a"));
    }

    [Fact]
    public async Task A_secret_written_again_under_the_old_key_at_every_attempt_is_counted_as_failed_while_the_rewrap_moves_the_others()
    {
        // Another instance that has not yet seen the rotation writes one secret under the old key each time the
        // rewrap is about to write it: the rewrap gives up on that one alone, and says so, instead of a conflict.
        InterleavingStore store = null!;
        using var local = new LocalTrousseau(_time, inner => store = new InterleavingStore(inner));
        foreach (var name in new[] { "hot/a", "hot/b", "hot/c" })
        {
            await local.Trousseau.CreateSecretAsync(name, SecretType.Opaque, Data(("k", name)));
        }

        var underOldKey = (await store.GetAsync("hot/b"))!.Value.ToArray();
        var rotated = await local.Keys.RotateKeyAsync();
        async Task WriteUnderOldKeyAgain()
        {
            await store.UpdateAsync("hot/b", underOldKey, (await store.GetAsync("hot/b"))!.Revision);
            store.BeforeNextUpdateOf("hot/b", WriteUnderOldKeyAgain);
        }

        store.BeforeNextUpdateOf("hot/b", WriteUnderOldKeyAgain);
        var busy = await local.Keys.RewrapSecretsAsync();

        store.BeforeNextUpdateOf("hot/b", () => Task.CompletedTask);
        var quiet = await local.Keys.RewrapSecretsAsync();

        Assert.Equal((new RewrapResult(2, 0, 1) { KeyId = rotated.KeyId }, new RewrapResult(1, 2, 0) { KeyId = rotated.KeyId }), (busy, quiet));
        Assert.Equal("hot/b", (await local.Trousseau.GetSecretAsync("hot/b")).Data["k"]);
    }

    [Fact]
    public async Task Rewrap_beside_concurrent_writers_never_loses_a_write()
    {
        // A writer's update lands between the rewrap's read of each even secret and its write of it; the odd
        // secrets see no writer. The rewrap must keep every written value and move only what it read last.
        InterleavingStore store = null!;
        using var local = new LocalTrousseau(_time, inner => store = new InterleavingStore(inner));
        var revisions = new long[50];
        for (var i = 0; i < revisions.Length; i++)
        {
            revisions[i] = (await local.Trousseau.CreateSecretAsync($"busy/{i:D2}", SecretType.Opaque, Data(("k", "v0")))).Revision;
        }

        var rotated = await local.Keys.RotateKeyAsync();
        for (var i = 0; i < revisions.Length; i += 2)
        {
            var name = $"busy/{i:D2}";
            var index = i;
            store.BeforeNextUpdateOf(name, async () =>
                revisions[index] = (await local.Trousseau.UpdateSecretAsync(name, Data(("k", "written")), expectedRevision: revisions[index])).Revision);
        }

        var rewrapped = await local.Keys.RewrapSecretsAsync();

        // The even secrets were already under the new key when the rewrap looked again: it moved the odd ones.
        Assert.Equal(new RewrapResult(revisions.Length / 2, revisions.Length / 2, 0) { KeyId = rotated.KeyId }, rewrapped);
        Assert.Equal(0, (await local.Keys.RewrapSecretsAsync()).Rewrapped);
        for (var i = 0; i < revisions.Length; i++)
        {
            var secret = await local.Trousseau.GetSecretAsync($"busy/{i:D2}");
            Assert.Equal((i % 2 == 0 ? "written" : "v0", revisions[i]), (secret.Data["k"], secret.Metadata.Revision));
        }
    }

    [Fact]
    public async Task A_patch_or_regenerate_that_another_write_overtakes_is_merged_into_the_new_data()
    {
        // Another writer's change lands between the server's read of the secret and its write: without an expected
        // revision, the patch and the regeneration start again from the new data, so neither change is lost.
        InterleavingStore store = null!;
        using var local = new LocalTrousseau(_time, inner => store = new InterleavingStore(inner));
        await local.Trousseau.CreateSecretAsync("merge/patch", SecretType.Opaque, Data(("a", "1"), ("old", "x")));
        await local.Trousseau.CreateSecretAsync("merge/login", SecretType.Login, Data(("username", "app"), ("password", "first")));
        store.BeforeNextUpdateOf("merge/patch", async () => await local.Trousseau.PatchSecretAsync("merge/patch", new Dictionary<string, string?> { ["b"] = "2" }));
        store.BeforeNextUpdateOf("merge/login", async () => await local.Trousseau.PatchSecretAsync("merge/login", new Dictionary<string, string?> { ["endpoint"] = "db:5432" }));

        var patched = await local.Trousseau.PatchSecretAsync("merge/patch", new Dictionary<string, string?> { ["a"] = "10", ["old"] = null });
        var regenerated = await local.Trousseau.RegenerateSecretAsync("merge/login");

        var patchedData = await local.Trousseau.GetSecretAsync("merge/patch");
        var login = await local.Trousseau.GetSecretAsync("merge/login");
        Assert.Equal(Data(("a", "10"), ("b", "2")), patchedData.Data);
        Assert.Equal(patched.Metadata.Revision, patchedData.Metadata.Revision);
        Assert.Empty(patched.AbsentKeys);
        Assert.Equal(("app", "db:5432"), (login.Data["username"], login.Data["endpoint"]));
        Assert.NotEqual("first", login.Data["password"]);
        Assert.Equal(SecretGenerationOptions.DefaultLength, login.Data["password"].Length);
        Assert.Equal(regenerated.Revision, login.Metadata.Revision);
    }

    [Fact]
    public async Task A_patch_names_as_absent_the_keys_missing_from_the_data_it_was_merged_into_not_from_an_earlier_read()
    {
        // Another writer removes 'old' and adds 'new' between the patch's read and its write: the patch starts again
        // from that data, so 'old' was absent where the removal landed, and 'new' was not.
        InterleavingStore store = null!;
        using var local = new LocalTrousseau(_time, inner => store = new InterleavingStore(inner));
        await local.Trousseau.CreateSecretAsync("merge/absent", SecretType.Opaque, Data(("a", "1"), ("old", "x")));
        store.BeforeNextUpdateOf("merge/absent", async () => await local.Trousseau.UpdateSecretAsync("merge/absent", Data(("a", "1"), ("new", "y"))));

        var patched = await local.Trousseau.PatchSecretAsync("merge/absent", new Dictionary<string, string?> { ["old"] = null, ["new"] = null, ["a"] = "2" });

        Assert.Equal(["old"], patched.AbsentKeys);
        var secret = await local.Trousseau.GetSecretAsync("merge/absent");
        Assert.Equal(Data(("a", "2")), secret.Data);
        Assert.Equal(patched.Metadata, secret.Metadata);
    }

    [Fact]
    public async Task A_patch_or_regenerate_at_an_expected_revision_that_another_write_overtakes_conflicts_and_writes_nothing()
    {
        InterleavingStore store = null!;
        using var local = new LocalTrousseau(_time, inner => store = new InterleavingStore(inner));
        var revision = (await local.Trousseau.CreateSecretAsync("merge/cas", SecretType.Opaque, Data(("value", "v0")))).Revision;
        store.BeforeNextUpdateOf("merge/cas", async () => await local.Trousseau.PatchSecretAsync("merge/cas", new Dictionary<string, string?> { ["value"] = "theirs" }));

        var patch = await Assert.ThrowsAsync<SecretConflictException>(async () =>
            await local.Trousseau.PatchSecretAsync("merge/cas", new Dictionary<string, string?> { ["value"] = "mine" }, expectedRevision: revision));
        var regenerate = await Assert.ThrowsAsync<SecretConflictException>(async () =>
            await local.Trousseau.RegenerateSecretAsync("merge/cas", expectedRevision: revision));

        Assert.Equal(SecretConflictReason.RevisionMismatch, patch.Reason);
        Assert.Equal(SecretConflictReason.RevisionMismatch, regenerate.Reason);
        Assert.Equal("theirs", (await local.Trousseau.GetSecretAsync("merge/cas")).Data["value"]);
    }

    [Fact]
    public async Task Regenerating_a_secret_stored_without_keys_says_to_name_a_key_and_makes_the_key_named()
    {
        // Older versions stored a secret with no keys; the library now refuses to, so the record is written as they did.
        await SealRecordAsync("old/empty", SecretType.Opaque, SecretRecord.EncodeData(new Dictionary<string, string>()));

        var unnamed = await Assert.ThrowsAsync<InvalidInputException>(async () => await Trousseau.RegenerateSecretAsync("old/empty"));
        var regenerated = await Trousseau.RegenerateSecretAsync("old/empty", new SecretRegenerationOptions { Key = "token" });

        Assert.Equal(
            ("key", "Secret 'old/empty' has no keys (an older version stored it so): name the key to give a new value, 'key' (clectl: --key KEY)."),
            (unnamed.Field, unnamed.Message));
        var secret = await Trousseau.GetSecretAsync("old/empty");
        Assert.Equal(["token"], secret.Data.Keys);
        Assert.Equal(SecretGenerationOptions.DefaultLength, secret.Data["token"].Length);
        Assert.Equal(regenerated, secret.Metadata);
    }

    [Fact]
    public async Task Regenerating_a_login_secret_stored_without_keys_says_to_give_its_username_and_password_and_changes_nothing()
    {
        // Older versions stored a secret with no keys; the library now refuses to, so the record is written as they did.
        await SealRecordAsync("old/login", SecretType.Login, SecretRecord.EncodeData(new Dictionary<string, string>()));
        var before = (await Trousseau.GetSecretAsync("old/login")).Metadata;

        var refused = await Assert.ThrowsAsync<InvalidInputException>(async () => await Trousseau.RegenerateSecretAsync("old/login"));

        Assert.Equal(
            ("name", "Secret 'old/login' is a login secret with no keys (an older version stored it so): a new 'password' alone would leave it without its 'username'; give it both (clectl secret update old/login --username U --password-stdin)."),
            (refused.Field, refused.Message));
        Assert.Equal(before, (await Trousseau.GetSecretAsync("old/login")).Metadata);
        await Trousseau.PatchSecretAsync("old/login", new Dictionary<string, string?> { ["username"] = "app", ["password"] = "p" });
        await Trousseau.RegenerateSecretAsync("old/login");
        Assert.NotEqual("p", (await Trousseau.GetSecretAsync("old/login")).Data["password"]);
    }

    [Fact]
    public async Task A_patch_that_changes_no_value_writes_nothing_and_answers_the_metadata_at_the_same_revision()
    {
        var created = await Trousseau.CreateSecretAsync("merge/same", SecretType.Opaque, Data(("a", "1"), ("b", "2")));
        var stored = await _local.Store.GetAsync("merge/same");
        _time.Advance(TimeSpan.FromMinutes(1));

        var patched = await Trousseau.PatchSecretAsync("merge/same", new Dictionary<string, string?> { ["a"] = "1", ["gone"] = null });

        Assert.Equal(created, patched.Metadata);
        Assert.Equal(["gone"], patched.AbsentKeys);
        Assert.Equal(stored!.Revision, (await _local.Store.GetAsync("merge/same"))!.Revision);
        var secret = await Trousseau.GetSecretAsync("merge/same");
        Assert.Equal(created, secret.Metadata);
        Assert.Equal(Data(("a", "1"), ("b", "2")), secret.Data);
    }

    [Fact]
    public async Task Patch_and_regenerate_refuse_bad_input_before_they_change_anything()
    {
        var created = await Trousseau.CreateSecretAsync("merge/bad", SecretType.Login, Data(("username", "app"), ("password", "p")));

        await Assert.ThrowsAsync<InvalidInputException>(async () => await Trousseau.PatchSecretAsync("merge/bad", new Dictionary<string, string?>()));
        await Assert.ThrowsAsync<InvalidInputException>(async () => await Trousseau.PatchSecretAsync("merge/bad", new Dictionary<string, string?> { ["bad key"] = "v" }));
        await Assert.ThrowsAsync<InvalidInputException>(async () => await Trousseau.PatchSecretAsync("merge/bad", new Dictionary<string, string?> { ["username"] = null }));
        await Assert.ThrowsAsync<InvalidInputException>(async () => await Trousseau.RegenerateSecretAsync("merge/bad", new SecretRegenerationOptions { Key = "username" }));
        await Assert.ThrowsAsync<InvalidInputException>(async () => await Trousseau.RegenerateSecretAsync("merge/bad", new SecretRegenerationOptions { Length = 0 }));
        await Assert.ThrowsAsync<SecretNotFoundException>(async () => await Trousseau.PatchSecretAsync("merge/none", new Dictionary<string, string?> { ["k"] = "v" }));
        await Assert.ThrowsAsync<SecretNotFoundException>(async () => await Trousseau.RegenerateSecretAsync("merge/none"));

        var secret = await Trousseau.GetSecretAsync("merge/bad");
        Assert.Equal(created, secret.Metadata);
        Assert.Equal(Data(("username", "app"), ("password", "p")), secret.Data);
    }

    /// <summary>Stores a record whose sealed data is <paramref name="plaintext"/>, as an older version or another writer would.</summary>
    private async Task SealRecordAsync(string name, SecretType type, byte[] plaintext)
    {
        var header = SecretRecord.BuildHeader(type, _time.GetUtcNow(), _time.GetUtcNow());
        var sealedData = await _local.Services.GetRequiredService<EnvelopeEncryptor>().EncryptAsync(
            EnvelopePurpose.Store, plaintext, SecretRecord.AssociatedData(name, header), CancellationToken.None);
        await _local.Store.CreateAsync(name, (byte[])[.. header, .. sealedData.Ciphertext]);
    }
}
