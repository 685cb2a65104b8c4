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
        var warning = await WarningAsync(server, "Trousseau:Etcd:Pasword");

        Assert.Equal(
            $"{NotTaken}Trousseau:Etcd:Pasword (did you mean Trousseau:Etcd:Password?) is not a setting of trousseaud. Every setting is listed in "
            + "docs/reference.md of the Trousseau repository. The settings in use stay until a change validates.",
            warning);
        Assert.DoesNotContain("s3cr3t", server.Log, StringComparison.Ordinal);
        Assert.False(server.HasExited);
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
        var warning = await WarningAsync(server, "Trousseau:Etcd:Username");
        using var created = await http.PostAsync(
            new Uri("v1/secrets", UriKind.Relative), new StringContent("""{"name":"reload/after-user-removed","data":{"k":"v"}}""", System.Text.Encoding.UTF8, "application/json"));

        Assert.StartsWith($"{NotTaken}Trousseau:Etcd:Username is no longer set, but etcd auth is on", warning, StringComparison.Ordinal);
        Assert.Equal(HttpStatusCode.Created, created.StatusCode);
        Assert.DoesNotContain("etcd-pass-", server.Log, StringComparison.Ordinal);
    }

    /// <summary>The first line of the log saying that a changed configuration is not taken and naming <paramref name="key"/>.</summary>
    private static async Task<string> WarningAsync(TrousseauServerProcess server, string key) =>
        (await Eventually.ReturnsAsync(
            () => Task.FromResult(server.Log.Split('\n').Select(l => l.Trim()).FirstOrDefault(l => l.StartsWith(NotTaken, StringComparison.Ordinal) && l.Contains(key, StringComparison.Ordinal))),
            line => line is not null,
            awaited: $"a log line saying that the changed configuration is not taken, naming {key}",
            show: _ => $"the server's output:\n{server.Log}"))!;
}
