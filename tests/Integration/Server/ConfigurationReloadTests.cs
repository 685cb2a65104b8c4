using System.Net;
using Trousseau.Tests.Integration.Etcd;
using Trousseau.Tests.Integration.Infrastructure;
using Trousseau.Tests.StoreContract;

namespace Trousseau.Tests.Integration.Server;

/// <summary>
/// What trousseaud says when a JSON settings file it reads changes while it runs in a way it does not take: one
/// warning (event 9001) at once, rather than silence until the next start.
/// </summary>
public sealed class ConfigurationReloadTests : IDisposable
{
    private const string NotTaken = "The changed configuration is not taken: ";
    private const string UnknownKey = "The changed configuration names a key that is no setting: ";

    private readonly TempDirectory _temp = new();

    /// <summary>Read by <see cref="StoreFactAttribute"/>: skip the etcd tests when etcd is missing outside CI.</summary>
    public static string? SkipReason => EtcdProcess.SkipReason;

    public void Dispose() => _temp.Dispose();

    [Fact]
    public async Task A_key_that_is_no_setting_added_to_the_config_file_is_named_in_the_log_at_once_never_its_value()
    {
        var dataDir = _temp.Combine("data");
        var config = _temp.Combine("settings.json");
        await File.WriteAllTextAsync(config, """{ "Trousseau": { "Store": "memory" } }""");
        await using var server = await TrousseauServerProcess.StartAsync(dataDir, ["--config", config]);

        await File.WriteAllTextAsync(config, """{ "Trousseau": { "Store": "memory", "Etcd": { "Pasword": "s3cr3t-typo" } } }""");
        var warning = await WarningAsync(server, UnknownKey, "Trousseau:Etcd:Pasword");

        Assert.Equal(
            $"{UnknownKey}Trousseau:Etcd:Pasword (did you mean Trousseau:Etcd:Password?) is not a setting of trousseaud. Every setting is listed in "
            + "docs/reference.md of the Trousseau repository. Nothing reads it, and the next start refuses it; the rest of the change is taken as usual.",
            warning);
        Assert.DoesNotContain(NotTaken, server.Log, StringComparison.Ordinal);
        Assert.DoesNotContain("s3cr3t", server.Log, StringComparison.Ordinal);
        Assert.False(server.HasExited);
    }

    [StoreFact]
    public async Task A_new_etcd_password_beside_a_key_that_is_no_setting_is_taken_and_the_log_says_so_not_the_opposite()
    {
        await using var etcd = await EtcdProcess.StartAsync();
        await etcd.EnableAuthAsync("trousseau", "etcd-pass-old", "/trousseau/");
        var dataDir = _temp.Combine("data");
        var config = _temp.Combine("settings.json");
        string Settings(string password, string extra) => $$"""
            { "Trousseau": { "Store": "etcd", "Etcd": { "Endpoints": ["{{etcd.ClientUrl}}"], "Username": "trousseau", "Password": "{{password}}"{{extra}} } } }
            """;
        await File.WriteAllTextAsync(config, Settings("etcd-pass-old", ""));
        await using var server = await TrousseauServerProcess.StartAsync(dataDir, ["--config", config]);
        using var http = await BearerClient.FromTokenFileAsync(server.BaseAddress, Path.Combine(dataDir, "api.token"));

        await etcd.CtlWithInputAsync("etcd-pass-new\n", "--user", "root:root-pass-1", "user", "passwd", "trousseau", "--interactive=false");
        await File.WriteAllTextAsync(config, Settings("etcd-pass-new", ", \"Pasword\": \"typo\""));
        await WarningAsync(server, UnknownKey, "Trousseau:Etcd:Pasword");
        var created = await Eventually.ReturnsAsync(
            async () =>
            {
                using var response = await http.PostAsync(
                    new Uri("v1/secrets", UriKind.Relative), new StringContent("""{"name":"reload/new-password","data":{"k":"v"}}""", System.Text.Encoding.UTF8, "application/json"));
                return response.StatusCode;
            },
            status => status == HttpStatusCode.Created,
            awaited: "a secret created with the new etcd password");

        Assert.Equal(HttpStatusCode.Created, created);
        Assert.DoesNotContain(NotTaken, server.Log, StringComparison.Ordinal);
        Assert.DoesNotContain("etcd-pass-", server.Log, StringComparison.Ordinal);
    }

    [StoreFact]
    public async Task A_config_file_rewritten_without_the_etcd_user_while_auth_is_on_is_not_taken_and_the_log_says_why()
    {
        await using var etcd = await EtcdProcess.StartAsync();
        await etcd.EnableAuthAsync("trousseau", "etcd-pass-kept", "/trousseau/");
        var dataDir = _temp.Combine("data");
        var config = _temp.Combine("settings.json");
        await File.WriteAllTextAsync(config, $$"""
            { "Trousseau": { "Store": "etcd", "Etcd": { "Endpoints": ["{{etcd.ClientUrl}}"], "Username": "trousseau", "Password": "etcd-pass-kept" } } }
            """);
        await using var server = await TrousseauServerProcess.StartAsync(dataDir, ["--config", config]);
        using var http = await BearerClient.FromTokenFileAsync(server.BaseAddress, Path.Combine(dataDir, "api.token"));

        await File.WriteAllTextAsync(config, $$"""
            { "Trousseau": { "Store": "etcd", "Etcd": { "Endpoints": ["{{etcd.ClientUrl}}"] } } }
            """);
        var warning = await WarningAsync(server, NotTaken, "Trousseau:Etcd:Username");
        using var created = await http.PostAsync(
            new Uri("v1/secrets", UriKind.Relative), new StringContent("""{"name":"reload/after-user-removed","data":{"k":"v"}}""", System.Text.Encoding.UTF8, "application/json"));

        Assert.StartsWith($"{NotTaken}Trousseau:Etcd:Username is no longer set, but etcd auth is on", warning, StringComparison.Ordinal);
        Assert.Equal(HttpStatusCode.Created, created.StatusCode);
        Assert.DoesNotContain("etcd-pass-", server.Log, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_policy_taken_away_in_the_config_file_refuses_the_next_call_without_a_restart_and_the_audit_trail_records_the_denial()
    {
        var dataDir = _temp.Combine("data");
        var config = _temp.Combine("settings.json");
        await File.WriteAllTextAsync(config, PolicySettings("""{ "Subjects": ["admin"], "Secrets": ["**"], "Actions": ["read", "create"] }"""));
        await using var server = await TrousseauServerProcess.StartAsync(dataDir, ["--config", config]);
        using var http = await BearerClient.FromTokenFileAsync(server.BaseAddress, Path.Combine(dataDir, "api.token"));
        using (var created = await http.PostAsync(new Uri("v1/secrets", UriKind.Relative), JsonBody.Of("""{"name":"team/db","data":{"k":"v"}}""")))
        {
            Assert.Equal(HttpStatusCode.Created, created.StatusCode);
        }

        await File.WriteAllTextAsync(config, PolicySettings("""{ "Subjects": ["admin"], "Secrets": ["other/**"], "Actions": ["read"] }"""));
        var refused = await Eventually.ReturnsAsync(
            async () =>
            {
                using var read = await http.GetAsync(new Uri("v1/secrets/team/db", UriKind.Relative));
                return (read.StatusCode, Body: await read.Content.ReadAsStringAsync());
            },
            answer => answer.StatusCode != HttpStatusCode.OK,
            awaited: "a read refused once the policy allowing it is gone from the file",
            show: answer => $"{(int)answer.StatusCode} {answer.Body}");

        Assert.Equal(HttpStatusCode.Forbidden, refused.StatusCode);
        Assert.Contains("may not do 'read' on the secret 'team/db'", refused.Body, StringComparison.Ordinal);
        var audit = await File.ReadAllLinesAsync(Path.Combine(dataDir, "audit.log"));
        Assert.Contains(audit, line =>
        {
            using var entry = System.Text.Json.JsonDocument.Parse(line);
            var root = entry.RootElement;
            return root.GetProperty("secret").GetString() == "team/db" && root.GetProperty("action").GetString() == "read"
                && root.GetProperty("outcome").GetString() == "denied" && root.GetProperty("httpStatus").GetInt32() == 403;
        });
        Assert.DoesNotContain(NotTaken, server.Log, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_config_file_whose_policies_are_invalid_or_all_removed_is_not_taken_the_policies_in_force_stay_and_the_log_says_why()
    {
        var dataDir = _temp.Combine("data");
        var config = _temp.Combine("settings.json");
        await File.WriteAllTextAsync(config, PolicySettings("""{ "Subjects": ["admin"], "Secrets": ["team/**"], "Actions": ["read", "create"] }"""));
        await using var server = await TrousseauServerProcess.StartAsync(dataDir, ["--config", config]);
        using var http = await BearerClient.FromTokenFileAsync(server.BaseAddress, Path.Combine(dataDir, "api.token"));

        await File.WriteAllTextAsync(config, PolicySettings("""{ "Subjects": ["admin"], "Secrets": ["**"], "Actions": ["raed", "create"] }"""));
        var invalid = await WarningAsync(server, NotTaken, "Trousseau:Api:Policies:0:Actions:0");
        using var elsewhereAfterInvalid = await http.GetAsync(new Uri("v1/secrets/other/x", UriKind.Relative));

        await File.WriteAllTextAsync(config, """{ "Trousseau": { "Store": "memory" } }""");
        var emptied = await WarningAsync(server, "The changed Trousseau:Api:Policies is not taken", "every identity");
        using var elsewhereAfterEmptied = await http.GetAsync(new Uri("v1/secrets/other/x", UriKind.Relative));
        using var allowed = await http.GetAsync(new Uri("v1/secrets/team/absent", UriKind.Relative));

        Assert.Contains("Trousseau:Api:Policies:0:Actions:0 is 'raed', which is not an action", invalid, StringComparison.Ordinal);
        Assert.Equal(HttpStatusCode.Forbidden, elsewhereAfterInvalid.StatusCode);
        Assert.Contains("it holds no policy", emptied, StringComparison.Ordinal);
        Assert.Equal(HttpStatusCode.Forbidden, elsewhereAfterEmptied.StatusCode);
        Assert.Equal(HttpStatusCode.NotFound, allowed.StatusCode);
        Assert.False(server.HasExited);
    }

    [Fact]
    public async Task A_policy_item_given_one_value_in_the_changed_config_file_is_not_taken_and_the_log_says_how_to_write_a_list()
    {
        var dataDir = _temp.Combine("data");
        var config = _temp.Combine("settings.json");
        await File.WriteAllTextAsync(config, PolicySettings("""{ "Subjects": ["admin"], "Secrets": ["team/**"], "Actions": ["read"] }"""));
        await using var server = await TrousseauServerProcess.StartAsync(dataDir, ["--config", config]);
        using var http = await BearerClient.FromTokenFileAsync(server.BaseAddress, Path.Combine(dataDir, "api.token"));

        await File.WriteAllTextAsync(config, PolicySettings("""{ "Subjects": "admin", "Secrets": ["**"], "Actions": ["read"] }"""));
        var warning = await WarningAsync(server, NotTaken, "Trousseau:Api:Policies:0:Subjects");
        using var elsewhere = await http.GetAsync(new Uri("v1/secrets/other/x", UriKind.Relative));

        Assert.Equal(
            $"{NotTaken}Trousseau:Api:Policies:0:Subjects is a list, so the one value given to it would not be read: write each item with its index, "
            + "as --Trousseau:Api:Policies:0:Subjects:0=VALUE on the command line, Trousseau__Api__Policies__0__Subjects__0=VALUE in the environment, "
            + "or a JSON array in a file. The settings in use stay until a change validates.",
            warning);
        Assert.Equal(HttpStatusCode.Forbidden, elsewhere.StatusCode);
        Assert.False(server.HasExited);
    }

    [Fact]
    public async Task A_config_file_left_half_written_is_not_taken_the_policies_in_force_stay_and_the_log_says_where()
    {
        var dataDir = _temp.Combine("data");
        var config = _temp.Combine("settings.json");
        await File.WriteAllTextAsync(config, PolicySettings("""{ "Subjects": ["admin"], "Secrets": ["team/**"], "Actions": ["read"] }"""));
        await using var server = await TrousseauServerProcess.StartAsync(dataDir, ["--config", config]);
        using var http = await BearerClient.FromTokenFileAsync(server.BaseAddress, Path.Combine(dataDir, "api.token"));

        await File.WriteAllTextAsync(config, """{ "Trousseau": { "Store": "memory", "Api": { "Policies": [ """);
        var warning = await WarningAsync(server, NotTaken, "It is not valid JSON");
        using var elsewhere = await http.GetAsync(new Uri("v1/secrets/other/x", UriKind.Relative));
        using var allowed = await http.GetAsync(new Uri("v1/secrets/team/absent", UriKind.Relative));

        Assert.Contains(config, warning, StringComparison.Ordinal);
        Assert.EndsWith("The settings in use stay until a change validates.", warning, StringComparison.Ordinal);
        Assert.Equal(HttpStatusCode.Forbidden, elsewhere.StatusCode);
        Assert.Equal(HttpStatusCode.NotFound, allowed.StatusCode);
        Assert.False(server.HasExited);
    }

    [Fact]
    public async Task Settings_read_only_at_start_changed_in_the_config_file_are_named_in_one_warning_with_their_new_values_never_a_credential_and_stay_as_started()
    {
        var dataDir = _temp.Combine("data");
        var config = _temp.Combine("settings.json");
        var movedSocket = _temp.Combine("moved.sock");
        await File.WriteAllTextAsync(config, """{ "Trousseau": { "Store": "memory", "Worker": { "Interval": "00:00:30" } } }""");
        await using var server = await TrousseauServerProcess.StartAsync(dataDir, ["--config", config]);
        using var http = await BearerClient.FromTokenFileAsync(server.BaseAddress, Path.Combine(dataDir, "api.token"));

        await RewriteAsync(config, $$"""
            { "Trousseau": { "Store": "sqlite", "KeyProvider": "vault", "Kms": { "Socket": "{{movedSocket}}" }, "Vault": { "Auth": { "Token": "s3cr3t-vault-token" } } } }
            """);
        var warning = await WarningAsync(server, NotTaken, "Trousseau:Kms:Socket");
        using var created = await http.PostAsync(new Uri("v1/secrets", UriKind.Relative), JsonBody.Of("""{"name":"reload/after-store-changed","data":{"k":"v"}}"""));

        // Nothing in the change fails a check, so the warning does not say that the settings in use wait for one that passes.
        Assert.Equal(
            $"{NotTaken}Trousseau:KeyProvider is now 'vault', Trousseau:Kms:Socket is now '{movedSocket}', Trousseau:Store is now 'sqlite', "
            + "Trousseau:Vault:Auth:Token is changed (its value is not shown) and Trousseau:Worker:Interval is no longer set: these settings are read only at start, "
            + "so they take effect when trousseaud restarts, and until then the values it started with stay in use.",
            warning);
        Assert.Single(server.Log.Split('\n'), line => line.Contains("Trousseau:Kms:Socket", StringComparison.Ordinal));
        Assert.Equal(HttpStatusCode.Created, created.StatusCode);
        Assert.True(File.Exists(Path.Combine(dataDir, "kms.sock")));
        Assert.False(File.Exists(movedSocket));
        Assert.False(File.Exists(Path.Combine(dataDir, "store.db")));
        Assert.DoesNotContain("s3cr3t", server.Log, StringComparison.Ordinal);
        Assert.False(server.HasExited);
    }

    [Fact]
    public async Task A_setting_read_only_at_start_changed_back_is_no_longer_named_and_a_policy_change_which_is_taken_is_never_named()
    {
        var dataDir = _temp.Combine("data");
        var config = _temp.Combine("settings.json");
        string Settings(string maxUses, string actions) =>
            $$"""{ "Trousseau": { "Store": "memory", "DataKeys": { "MaxUses": "{{maxUses}}" }, "Api": { "Policies": [ { "Subjects": ["admin"], "Secrets": ["**"], "Actions": [{{actions}}] } ] } } }""";
        await File.WriteAllTextAsync(config, Settings("100", "\"read\", \"create\""));
        await using var server = await TrousseauServerProcess.StartAsync(dataDir, ["--config", config]);
        using var http = await BearerClient.FromTokenFileAsync(server.BaseAddress, Path.Combine(dataDir, "api.token"));

        await RewriteAsync(config, Settings("200", "\"read\", \"create\""));
        var changed = await WarningAsync(server, NotTaken, "Trousseau:DataKeys:MaxUses is now '200'");
        await RewriteAsync(config, Settings("100", "\"read\""));
        var refused = await Eventually.ReturnsAsync(
            async () =>
            {
                // A name of its own each time: a create that went through before the change would make the next 409.
                using var create = await http.PostAsync(new Uri("v1/secrets", UriKind.Relative), JsonBody.Of($$$"""{"name":"reload/x-{{{Guid.NewGuid():N}}}","data":{"k":"v"}}"""));
                return create.StatusCode;
            },
            status => status != HttpStatusCode.Created,
            awaited: "a create refused once the file's policy allows only reads");

        // The changes are read in turn, so once the next one is told, nothing more is told of this one.
        await RewriteAsync(config, Settings("300", "\"read\""));
        var changedAgain = await WarningAsync(server, NotTaken, "Trousseau:DataKeys:MaxUses is now '300'");

        Assert.Equal(HttpStatusCode.Forbidden, refused);
        Assert.StartsWith($"{NotTaken}Trousseau:DataKeys:MaxUses is now '200': this setting is read only at start, so it takes effect when trousseaud restarts", changed, StringComparison.Ordinal);
        Assert.StartsWith($"{NotTaken}Trousseau:DataKeys:MaxUses is now '300': this setting", changedAgain, StringComparison.Ordinal);
        Assert.Equal([changed, changedAgain], server.Log.Split('\n').Select(line => line.Trim()).Where(line => line.Contains(NotTaken, StringComparison.Ordinal)));
    }

    [Fact]
    public async Task A_setting_read_only_at_start_given_a_value_the_next_start_refuses_is_named_once_with_why_beside_another_that_takes_a_restart()
    {
        var dataDir = _temp.Combine("data");
        var config = _temp.Combine("settings.json");
        await File.WriteAllTextAsync(config, """{ "Trousseau": { "Store": "memory", "Worker": { "Interval": "00:00:30" }, "DataKeys": { "MaxUses": "100" } } }""");
        await using var server = await TrousseauServerProcess.StartAsync(dataDir, ["--config", config]);

        await RewriteAsync(config, """{ "Trousseau": { "Store": "memory", "Worker": { "Interval": "30s" }, "DataKeys": { "MaxUses": "200" } } }""");
        var warning = await WarningAsync(server, NotTaken, "Trousseau:Worker:Interval");

        Assert.Equal(
            $"{NotTaken}Trousseau:Worker:Interval is '30s', which is not a time span such as 00:00:30. Trousseau:DataKeys:MaxUses is now '200': this setting is read only "
            + "at start, so it takes effect when trousseaud restarts, and until then the value it started with stays in use. The settings in use stay until a change validates.",
            warning);
        Assert.False(server.HasExited);
    }

    /// <summary>
    /// Replaces the settings file whole, as an editor saving through a new file does, so that trousseaud's look at it
    /// never finds it half-written.
    /// </summary>
    private static async Task RewriteAsync(string path, string text)
    {
        var written = path + ".new";
        await File.WriteAllTextAsync(written, text);
        File.Move(written, path, overwrite: true);
    }

    private static string PolicySettings(string policy) => $$"""{ "Trousseau": { "Store": "memory", "Api": { "Policies": [ {{policy}} ] } } }""";


    /// <summary>The first line of the log that starts with <paramref name="start"/> and names <paramref name="key"/>.</summary>
    private static async Task<string> WarningAsync(TrousseauServerProcess server, string start, string key) =>
        (await Eventually.ReturnsAsync(
            () => Task.FromResult(server.Log.Split('\n').Select(l => l.Trim()).FirstOrDefault(l => l.StartsWith(start, StringComparison.Ordinal) && l.Contains(key, StringComparison.Ordinal))),
            line => line is not null,
            awaited: $"a log line starting '{start}' and naming {key}",
            show: _ => $"the server's output:\n{server.Log}"))!;
}
