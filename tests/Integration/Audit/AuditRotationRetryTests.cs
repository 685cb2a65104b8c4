using System.Diagnostics;
using System.Net;
using System.Text.Json;
using Trousseau.Tests.Integration.Infrastructure;
using Trousseau.Tests.StoreContract;

namespace Trousseau.Tests.Integration.Audit;

/// <summary>
/// An audit rotation that fails half way, one rotated file made immutable (<c>chattr +i</c>) so that it alone cannot be
/// renamed while the renames before it went through, and tried again once the file can be renamed: the trail's files
/// must still hold every line in one chain, as <c>clectl audit verify</c> reads them.
/// </summary>
public sealed class AuditRotationRetryTests : IDisposable
{
    private const int MaxFiles = 3;

    private static readonly string[] Settings =
        ["--Trousseau:Audit:MaxFileBytes=1024", $"--Trousseau:Audit:MaxFiles={MaxFiles}", "--Trousseau:Kms:Enabled=false", "--Trousseau:Store=memory"];

    private static readonly Lazy<string?> Unavailable = new(WhyFilesCannotBeMadeImmutable);

    private readonly TempDirectory _temp = new();

    /// <summary>Why the tests are skipped: making one file immutable needs root and a file system that has the attribute.</summary>
    public static string? SkipReason => Unavailable.Value;

    public void Dispose() => _temp.Dispose();

    [StoreFact]
    public async Task A_rotation_that_failed_half_way_goes_on_from_where_it_stopped_and_keeps_every_line_in_one_chain()
    {
        var dataDir = _temp.Combine("data");
        var trail = Path.Combine(dataDir, "audit.log");
        await using var server = await TrousseauServerProcess.StartAsync(dataDir, Settings);
        using var http = await BearerClient.FromTokenFileAsync(server.BaseAddress, Path.Combine(dataDir, "api.token"));
        var answered = 0;

        // Two rotations (a file of 1024 bytes holds 2 records): audit.log.2 holds the trail's first lines.
        for (var call = 0; call < 12 && !File.Exists(trail + ".2"); call++)
        {
            Assert.Equal(HttpStatusCode.NotFound, await ReadAsync(http, $"before-{call}"));
            answered++;
        }

        Assert.True(File.Exists(trail + ".2"), "12 records of about 350 bytes fill more than two files of 1024 bytes");

        // The next rotation moves audit.log.2 to audit.log.3, then cannot move audit.log.1: the call is refused.
        await using (await ImmutableFile.ProtectAsync(trail + ".1"))
        {
            await Eventually.ReturnsAsync(
                async () =>
                {
                    var status = await ReadAsync(http, $"filler-{answered}");
                    answered += status == HttpStatusCode.NotFound ? 1 : 0;
                    return status;
                },
                status => status == HttpStatusCode.ServiceUnavailable,
                awaited: "a call refused once the rotation fails half way",
                show: status => $"{(int)status}; the server's output:\n{server.Log}");
            Assert.True(File.Exists(trail + ".3") && !File.Exists(trail + ".2"), "the rotation stopped after moving audit.log.2 to audit.log.3");
        }

        // Tried again before the next call, now that audit.log.1 can be renamed.
        Assert.Equal(HttpStatusCode.NotFound, await ReadAsync(http, "after"));
        answered++;

        var report = await VerifyAsync(trail);
        Assert.Equal([trail + ".3", trail + ".2", trail + ".1", trail], report.GetProperty("files").EnumerateArray().Select(f => f.GetString()));
        Assert.True(report.GetProperty("startsAtGenesis").GetBoolean(), $"the trail's first lines are kept: {report}");
        Assert.Equal(answered, report.GetProperty("lines").GetInt64());
    }

    [StoreFact]
    public async Task A_rotation_both_daemons_on_a_trail_failed_is_done_once_when_both_try_it_again_and_the_chain_stays_whole()
    {
        var dataDir = _temp.Combine("data");
        var trail = Path.Combine(dataDir, "audit.log");
        await using var first = await TrousseauServerProcess.StartAsync(dataDir, Settings);
        await using var second = await TrousseauServerProcess.StartAsync(dataDir, Settings);
        using var firstHttp = await BearerClient.FromTokenFileAsync(first.BaseAddress, Path.Combine(dataDir, "api.token"));
        using var secondHttp = await BearerClient.FromTokenFileAsync(second.BaseAddress, Path.Combine(dataDir, "api.token"));
        for (var call = 0; call < 8 && !File.Exists(trail + ".1"); call++)
        {
            Assert.Equal(HttpStatusCode.NotFound, await ReadAsync(firstHttp, $"before-{call}"));
        }

        Assert.True(File.Exists(trail + ".1"), "8 records of about 350 bytes fill more than one file of 1024 bytes");

        // The full file cannot be rotated while audit.log.1 cannot be renamed: each daemon fails the rotation.
        await using (await ImmutableFile.ProtectAsync(trail + ".1"))
        {
            await Eventually.ReturnsAsync(
                () => ReadAsync(firstHttp, "filler"),
                status => status == HttpStatusCode.ServiceUnavailable,
                awaited: "a call to the first daemon refused once the rotation fails",
                show: status => $"{(int)status}; the server's output:\n{first.Log}");
            Assert.Equal(HttpStatusCode.ServiceUnavailable, await ReadAsync(secondHttp, "refused"));
        }

        // Each tries it again at its readiness check, writing no line: the first rotates the trail, and the second
        // finds it rotated.
        await first.WaitForReadinessAsync(HttpStatusCode.OK);
        await second.WaitForReadinessAsync(HttpStatusCode.OK);
        Assert.Equal(HttpStatusCode.NotFound, await ReadAsync(secondHttp, "after"));

        var report = await VerifyAsync(trail);
        Assert.True(report.GetProperty("startsAtGenesis").GetBoolean(), $"the trail's first lines are kept: {report}");
    }

    [StoreFact]
    public async Task A_daemon_not_told_of_a_rotation_because_its_count_could_not_be_written_notices_the_new_file_and_the_chain_stays_whole()
    {
        var dataDir = _temp.Combine("data");
        var trail = Path.Combine(dataDir, "audit.log");

        // Only the first daemon rotates: the second allows a larger file, so that it writes on in the file it holds
        // unless it notices the rotation.
        await using var first = await TrousseauServerProcess.StartAsync(dataDir, Settings);
        await using var second = await TrousseauServerProcess.StartAsync(
            dataDir, ["--Trousseau:Audit:MaxFileBytes=1048576", "--Trousseau:Kms:Enabled=false", "--Trousseau:Store=memory"]);
        using var firstHttp = await BearerClient.FromTokenFileAsync(first.BaseAddress, Path.Combine(dataDir, "api.token"));
        using var secondHttp = await BearerClient.FromTokenFileAsync(second.BaseAddress, Path.Combine(dataDir, "api.token"));
        Assert.Equal(HttpStatusCode.NotFound, await ReadAsync(secondHttp, "second-before"));

        // The lock file cannot be written: the first daemon's rotation renames audit.log, then cannot count it there,
        // which is how the other daemons on the trail learn of a rotation.
        await using (await ImmutableFile.ProtectAsync(trail + ".lock"))
        {
            var call = 0;
            await Eventually.ReturnsAsync(
                () => ReadAsync(firstHttp, $"first-{call++}"),
                status => status == HttpStatusCode.ServiceUnavailable,
                awaited: "a call to the first daemon refused once its rotation could not be counted",
                show: status => $"{(int)status}; the server's output:\n{first.Log}");
            Assert.True(File.Exists(trail + ".1"), "the rotation renamed audit.log before it failed");

            Assert.Equal(HttpStatusCode.NotFound, await ReadAsync(firstHttp, "first-after-rotation"));
            Assert.Equal(HttpStatusCode.NotFound, await ReadAsync(secondHttp, "second-after-rotation"));
        }

        var report = await VerifyAsync(trail);
        Assert.True(report.GetProperty("startsAtGenesis").GetBoolean(), $"the trail's first lines are kept: {report}");
        Assert.Equal(
            ["audit/first-after-rotation", "audit/second-after-rotation"],
            File.ReadAllLines(trail).Select(SecretOf));
    }

    private static string? SecretOf(string line)
    {
        using var record = JsonDocument.Parse(line);
        return record.RootElement.GetProperty("secret").GetString();
    }

    [StoreFact]
    public async Task A_write_refused_for_want_of_access_is_tried_again_before_the_next_call_which_acts_once_the_file_can_be_written()
    {
        var dataDir = _temp.Combine("data");
        var trail = Path.Combine(dataDir, "audit.log");
        await using var server = await TrousseauServerProcess.StartAsync(dataDir, Settings);
        using var http = await BearerClient.FromTokenFileAsync(server.BaseAddress, Path.Combine(dataDir, "api.token"));
        Assert.Equal(HttpStatusCode.NotFound, await ReadAsync(http, "before"));

        await using (await ImmutableFile.ProtectAsync(trail))
        {
            Assert.Equal(HttpStatusCode.ServiceUnavailable, await ReadAsync(http, "withheld"));
        }

        // The file can be written again: the next call is not refused for the write that failed.
        Assert.Equal(HttpStatusCode.NotFound, await ReadAsync(http, "after"));

        var report = await VerifyAsync(trail);
        Assert.Equal(2, report.GetProperty("lines").GetInt64());
        Assert.Equal(["audit/before", "audit/after"], File.ReadAllLines(trail).Select(SecretOf));
    }

    private static async Task<HttpStatusCode> ReadAsync(HttpClient http, string name)
    {
        using var response = await http.GetAsync(new Uri($"v1/secrets/audit/{name}", UriKind.Relative));
        return response.StatusCode;
    }

    /// <summary>Runs <c>clectl audit verify -o json</c> on the trail, asserts it passes, and returns its one report.</summary>
    private async Task<JsonElement> VerifyAsync(string trail)
    {
        var verified = await new ClectlRunner(_temp.Path, new Dictionary<string, string?> { ["XDG_CONFIG_HOME"] = _temp.Combine("config") })
            .RunAsync("audit", "verify", trail, "-o", "json");
        ClectlAssert.Ok(verified);
        using var document = JsonDocument.Parse(verified.Stdout);
        return document.RootElement.GetProperty("trails")[0].Clone();
    }

    private static string? WhyFilesCannotBeMadeImmutable()
    {
        if (!OperatingSystem.IsLinux() || !Environment.IsPrivilegedProcess)
        {
            return "Needs root on Linux, to make one audit file immutable (chattr +i); run the tests as root to include it.";
        }

        var probe = Path.Combine(Path.GetTempPath(), $"trousseau-immutable-{Guid.NewGuid():N}");
        File.WriteAllText(probe, "probe");
        try
        {
            var set = Chattr("+i", probe);
            Chattr("-i", probe);
            return set is null ? null : $"chattr +i does not work in {Path.GetTempPath()} ({set}), which the tests use.";
        }
        finally
        {
            File.Delete(probe);
        }
    }

    /// <summary>Runs chattr; the reason it failed, or <see langword="null"/>.</summary>
    private static string? Chattr(string change, string path)
    {
        try
        {
            using var chattr = Process.Start(new ProcessStartInfo("chattr", [change, path]) { RedirectStandardError = true })!;
            var error = chattr.StandardError.ReadToEnd();
            chattr.WaitForExit();
            return chattr.ExitCode == 0 ? null : error.Trim();
        }
        catch (System.ComponentModel.Win32Exception e)
        {
            return e.Message;
        }
    }

    /// <summary>A file made immutable (<c>chattr +i</c>: it cannot be renamed, written or deleted) while this lives.</summary>
    private sealed class ImmutableFile : IAsyncDisposable
    {
        private readonly string _path;

        private ImmutableFile(string path) => _path = path;

        public static async Task<ImmutableFile> ProtectAsync(string path)
        {
            await ChangeAsync("+i", path);
            return new ImmutableFile(path);
        }

        public async ValueTask DisposeAsync() => await ChangeAsync("-i", _path);

        private static async Task ChangeAsync(string change, string path)
        {
            var chattr = await ChildProcess.RunAsync(new ProcessStartInfo("chattr", [change, path]));
            Assert.True(chattr.ExitCode == 0, $"chattr {change} {path} failed: {chattr.Stderr}");
        }
    }
}
