using System.Net;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using Trousseau.Tests.Integration.Infrastructure;

namespace Trousseau.Tests.Integration.Audit;

/// <summary>
/// The audit trail on standard output (<c>Audit:Path=-</c>) when nothing reads it: a real trousseaud whose standard
/// output is a FIFO this test holds, closes or leaves unread, as a container runtime or a shell pipe may.
/// </summary>
public sealed class AuditStandardOutputTests
{
    [Fact]
    public async Task With_path_dash_a_standard_output_whose_reader_went_away_refuses_calls_instead_of_answering_them_unrecorded()
    {
        using var temp = new TempDirectory();
        var dataDir = temp.Combine("data");
        var fifo = await Fifo.MakeAsync(temp.Combine("stdout"));
        var reader = Task.Run(() => new FileStream(fifo, FileMode.Open, FileAccess.Read));
        await using var server = await StartWritingToAsync(dataDir, fifo);
        using var http = await BearerClient.FromTokenFileAsync(server.BaseAddress, Path.Combine(dataDir, "api.token"));
        using (var created = await http.PostAsJsonAsync("v1/secrets", new { name = "audit/piped", data = new { k = "piped-value" } }))
        {
            Assert.Equal(HttpStatusCode.Created, created.StatusCode);
        }

        await (await reader).DisposeAsync();

        using var read = await http.GetAsync(new Uri("v1/secrets/audit/piped", UriKind.Relative));
        var body = await read.Content.ReadAsStringAsync();
        Assert.DoesNotContain("piped-value", body, StringComparison.Ordinal);
        var problem = await Problems.AssertAsync(read, HttpStatusCode.ServiceUnavailable);
        Assert.Equal("urn:trousseau:problem:audit-unavailable", problem.GetProperty("type").GetString());
        using var ready = await server.Http.GetAsync(new Uri("readyz", UriKind.Relative));
        Assert.Equal(HttpStatusCode.ServiceUnavailable, ready.StatusCode);
        Assert.Equal(0, await server.StopAsync());
    }

    [Fact]
    public async Task With_path_dash_a_standard_output_nobody_reads_refuses_calls_instead_of_holding_them_and_serves_them_once_it_is_read_with_the_chain_whole()
    {
        using var temp = new TempDirectory();
        var dataDir = temp.Combine("data");
        var fifo = await Fifo.MakeAsync(temp.Combine("stdout"));
        var reader = Task.Run(() => new FileStream(fifo, FileMode.Open, FileAccess.Read));
        await using var server = await StartWritingToAsync(dataDir, fifo);
        await using var output = await reader;

        // Nothing reads the pipe: once its buffer is full, a call must end (refused) rather than wait for a reader.
        using var http = await BearerClient.FromTokenFileAsync(server.BaseAddress, Path.Combine(dataDir, "api.token"), TimeSpan.FromSeconds(60));
        var statuses = new List<HttpStatusCode>();
        while (statuses.Count < 5000 && statuses.LastOrDefault() != HttpStatusCode.ServiceUnavailable)
        {
            using var response = await http.GetAsync(new Uri("v1/secrets/audit/unread", UriKind.Relative));
            statuses.Add(response.StatusCode);
        }

        Assert.Equal(HttpStatusCode.ServiceUnavailable, statuses[^1]);
        Assert.All(statuses.SkipLast(1), status => Assert.Equal(HttpStatusCode.NotFound, status));
        using (var ready = await server.Http.GetAsync(new Uri("readyz", UriKind.Relative)))
        {
            Assert.Equal(HttpStatusCode.ServiceUnavailable, ready.StatusCode);
        }

        // Read again, the trail takes lines again: calls are served and /readyz is ready.
        var drained = new MemoryStream();
        var draining = output.CopyToAsync(drained);
        await Eventually.HoldsAsync(async () =>
        {
            using var response = await http.GetAsync(new Uri("v1/secrets/audit/unread", UriKind.Relative));
            return response.StatusCode == HttpStatusCode.NotFound;
        });
        await server.WaitForReadinessAsync(HttpStatusCode.OK);
        Assert.Equal(0, await server.StopAsync());
        await draining;

        // Every line standard output took, the late ones among them, makes one chain.
        var lines = Encoding.UTF8.GetString(drained.ToArray()).Split('\n').Where(l => l.StartsWith("{\"time\":", StringComparison.Ordinal)).ToList();
        Assert.True(lines.Count >= statuses.Count, $"{lines.Count} audit lines for {statuses.Count} calls");
        using (var first = JsonDocument.Parse(lines[0]))
        {
            Assert.Equal(new string('0', 64), first.RootElement.GetProperty("prev").GetString());
        }

        var trail = temp.Combine("audit.log");
        await File.WriteAllTextAsync(trail, string.Join('\n', lines) + "\n");
        ClectlAssert.Ok(await new ClectlRunner(temp.Path, new Dictionary<string, string?>()).RunAsync("audit", "verify", trail));
    }

    /// <summary>Starts trousseaud with its audit trail on standard output, and standard output sent to <paramref name="fifo"/>.</summary>
    private static Task<TrousseauServerProcess> StartWritingToAsync(string dataDir, string fifo) =>
        TrousseauServerProcess.StartHostAsync(
            RepositoryPaths.Server,
            Path.GetDirectoryName(dataDir)!,
            ["--data-dir", dataDir, "--Trousseau:Audit:Path=-"],
            "healthz",
            prepare: info =>
            {
                string[] command = [info.FileName, .. info.ArgumentList];
                info.FileName = "bash";
                info.ArgumentList.Clear();
                foreach (var arg in (string[])["-c", "exec \"${@:2}\" >\"$1\"", "bash", fifo, .. command])
                {
                    info.ArgumentList.Add(arg);
                }
            });
}
