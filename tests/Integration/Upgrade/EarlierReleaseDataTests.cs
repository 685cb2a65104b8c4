using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using Trousseau.Tests.Integration.Infrastructure;

namespace Trousseau.Tests.Integration.Upgrade;

/// <summary>
/// trousseaud started on a data directory an earlier release wrote (the fixtures under <c>Upgrade/Fixtures</c>, each
/// with a README naming the commit that made it), as an operator upgrading in place does.
/// </summary>
public sealed class EarlierReleaseDataTests : IDisposable
{
    private readonly TempDirectory _temp = new();

    public void Dispose() => _temp.Dispose();

    [Fact]
    public async Task A_listing_in_pages_reaches_every_secret_past_names_an_earlier_release_accepted_and_this_one_refuses()
    {
        var dataDir = CopyFixture("51daf8e");
        await using var server = await TrousseauServerProcess.StartAsync(dataDir, ["--Trousseau:Kms:Enabled=false"]);
        using var client = await BearerClient.FromTokenFileAsync(server.BaseAddress, Path.Combine(dataDir, "api.token"));

        var names = new List<string>();
        string? next = null;
        do
        {
            using var page = await client.GetAsync(new Uri($"v1/secrets?limit=1{(next is null ? "" : "&continue=" + next)}", UriKind.Relative));
            var body = await page.Content.ReadAsStringAsync();
            Assert.True(page.StatusCode == HttpStatusCode.OK, $"page after {names.LastOrDefault()}: {(int)page.StatusCode} {body}");
            using var json = JsonDocument.Parse(body);
            names.AddRange(json.RootElement.GetProperty("items").EnumerateArray().Select(item => item.GetProperty("name").GetString()!));
            next = json.RootElement.TryGetProperty("continue", out var token) ? token.GetString() : null;
        }
        while (next is not null);

        Assert.Equal(["app/db", "team//db", "x/./y", "zz/last"], names);
    }

    /// <summary>Copies the fixture's files into a fresh data directory, the key ring owner-only as trousseaud made it.</summary>
    private string CopyFixture(string commit)
    {
        var dataDir = _temp.Combine("data");
        Directory.CreateDirectory(dataDir);
        foreach (var file in new[] { "store.db", "local.keyring" })
        {
            var copy = Path.Combine(dataDir, file);
            File.Copy(Path.Combine(RepositoryPaths.Root, "tests/Integration/Upgrade/Fixtures", commit, file), copy);
            File.SetUnixFileMode(copy, UnixFileMode.UserRead | UnixFileMode.UserWrite);
        }

        return dataDir;
    }
}
