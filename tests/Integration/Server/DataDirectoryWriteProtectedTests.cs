using System.Net;
using System.Text;
using System.Text.Json;
using Trousseau.Tests.Integration.Infrastructure;

namespace Trousseau.Tests.Integration.Server;

/// <summary>
/// trousseaud's data directory made write-protected while it runs (<c>chmod 0500</c>; for root, whom modes do not
/// stop, <c>chattr +i</c>): what needs a new file there is refused naming the directory and the cause, changes nothing,
/// and goes through once the directory is writable again, without a restart.
/// </summary>
public sealed class DataDirectoryWriteProtectedTests : IDisposable
{
    private readonly TempDirectory _temp = new();

    public void Dispose() => _temp.Dispose();

    [Fact]
    public async Task A_key_rotation_in_a_write_protected_data_directory_is_503_naming_the_directory_and_the_cause_not_a_temporary_file_then_goes_through()
    {
        var data = _temp.Combine("data");
        await using var server = await TrousseauServerProcess.StartAsync(data, ["--Trousseau:Kms:Enabled=false"]);
        using var http = await BearerClient.FromTokenFileAsync(server.BaseAddress, Path.Combine(data, "api.token"));
        var before = await http.GetStringAsync(new Uri("v1/keys", UriKind.Relative));

        string? detail;
        await using (await WriteProtectedDirectory.CreateAsync(data))
        {
            using var rotate = await RotateAsync(http);
            var problem = await Problems.AssertAsync(rotate, HttpStatusCode.ServiceUnavailable);
            detail = problem.GetProperty("detail").GetString();
            Assert.Equal(before, await http.GetStringAsync(new Uri("v1/keys", UriKind.Relative)));
        }

        using var rotated = await RotateAsync(http);

        Assert.Contains($"directory {data} ", detail, StringComparison.Ordinal);
        Assert.Contains("may not create files", detail, StringComparison.Ordinal);
        Assert.DoesNotContain(".tmp", detail, StringComparison.Ordinal);
        Assert.Equal(HttpStatusCode.OK, rotated.StatusCode);
        Assert.Empty(Directory.GetFiles(data, "*.tmp"));
    }

    [Fact]
    public async Task A_write_protected_data_directory_shows_on_readyz_as_the_local_key_ring_degraded_naming_it_and_clears_once_writable_again()
    {
        var data = _temp.Combine("data");
        await using var server = await TrousseauServerProcess.StartAsync(data, ["--Trousseau:Kms:Enabled=false"]);
        using var http = await BearerClient.FromTokenFileAsync(server.BaseAddress, Path.Combine(data, "api.token"));

        // Ready first: the store creates its file at its first check, which a directory protected before that refuses.
        await server.WaitForReadinessAsync(HttpStatusCode.OK);
        Readiness protectedDirectory;
        await using (await WriteProtectedDirectory.CreateAsync(data))
        {
            // Degraded is still ready (200); on a loaded machine another check can time out meanwhile (503), which is
            // not what this test is about, so the answer waited for is the degraded key ring with nothing unhealthy.
            protectedDirectory = await Eventually.ReturnsAsync(
                () => ReadinessAsync(http), r => r is { KeyProvider: "degraded", Status: HttpStatusCode.OK }, show: r => $"{r}\n{server.Log}");
        }

        await Eventually.ReturnsAsync(() => ReadinessAsync(http), r => r.KeyProvider == "healthy", show: r => $"{r}\n{server.Log}");
        Assert.Contains($"directory {data} ", protectedDirectory.KeyProviderDescription, StringComparison.Ordinal);
        Assert.Contains("rotation", protectedDirectory.KeyProviderDescription, StringComparison.Ordinal);
    }

    private static async Task<Readiness> ReadinessAsync(HttpClient http)
    {
        using var response = await http.GetAsync(new Uri("readyz", UriKind.Relative));
        using var report = JsonDocument.Parse(await response.Content.ReadAsStringAsync());
        var check = report.RootElement.GetProperty("checks").GetProperty("key-provider");
        return new Readiness(response.StatusCode, check.GetProperty("status").GetString(), check.GetProperty("description").GetString(), report.RootElement.GetRawText());
    }

    /// <summary>The key provider's check, and the whole report, which names the check that made it 503.</summary>
    private sealed record Readiness(HttpStatusCode Status, string? KeyProvider, string? KeyProviderDescription, string Report);

    private static async Task<HttpResponseMessage> RotateAsync(HttpClient http)
    {
        using var body = new StringContent("{}", Encoding.UTF8, "application/json");
        return await http.PostAsync(new Uri("v1/keys/rotate", UriKind.Relative), body);
    }
}
