using System.Diagnostics;
using System.Net;
using System.Net.Http.Json;
using Trousseau.Tests.Integration.Infrastructure;
using Trousseau.Tests.StoreContract;

namespace Trousseau.Tests.Integration.Server;

/// <summary>
/// A data directory that group or others may write, where another user of the machine can plant files before
/// trousseaud starts: a symbolic link where trousseaud writes, a token or key ring of their own.
/// </summary>
public sealed class SharedDataDirectoryTests : IDisposable
{
    private const UnixFileMode WritableByAll = (UnixFileMode)0x1FF;
    private const int Nobody = 65534;

    // As the broker runs: a KMS socket in the data directory would be refused there by the socket's own check.
    private static readonly string[] KmsOff = ["--Trousseau:Kms:Enabled=false"];

    private static readonly string[] MemoryStoreKmsOff = ["--Trousseau:Kms:Enabled=false", "--Trousseau:Store=memory"];

    private readonly TempDirectory _temp = new();

    /// <summary>Why the tests are skipped: giving a file to another user needs root.</summary>
    public static string? SkipReason => Environment.IsPrivilegedProcess
        ? null
        : "Needs root, to give a planted file to another user (chown); run the tests as root to include it.";

    [Fact]
    public async Task A_symbolic_link_planted_where_the_audit_trail_goes_stops_the_start_and_the_file_it_leads_to_is_left_as_it_was()
    {
        var dataDir = SharedDirectory("shared");
        var victim = _temp.Combine("someone-elses-file");
        await File.WriteAllTextAsync(victim, "line one\nno newline at the end");
        var auditTrail = Path.Combine(dataDir, "audit.log");
        File.CreateSymbolicLink(auditTrail, victim);

        var result = await TrousseauServerProcess.RunToExitAsync(dataDir, KmsOff);

        Assert.Equal(1, result.ExitCode);
        var line = Assert.Single((result.Stdout + result.Stderr).Split('\n', StringSplitOptions.RemoveEmptyEntries));
        Assert.StartsWith($"trousseaud: cannot start: {auditTrail} is a symbolic link (to {victim}) in the data directory {dataDir}, which group or others may write", line, StringComparison.Ordinal);
        Assert.Equal("line one\nno newline at the end", await File.ReadAllTextAsync(victim));
    }

    [StoreFact]
    public async Task An_api_token_file_another_user_planted_stops_the_start_instead_of_making_their_token_admin()
    {
        var dataDir = SharedDirectory("shared");
        var tokenFile = Path.Combine(dataDir, "api.token");
        await File.WriteAllTextAsync(tokenFile, "a-token-the-planter-knows\n");
        File.SetUnixFileMode(tokenFile, UnixFileMode.UserRead | UnixFileMode.UserWrite);
        var chown = await ChildProcess.RunAsync(new ProcessStartInfo("chown", [$"{Nobody}:{Nobody}", tokenFile]));
        Assert.True(chown.ExitCode == 0, chown.Stderr);

        var result = await TrousseauServerProcess.RunToExitAsync(dataDir, KmsOff);

        Assert.Equal(1, result.ExitCode);
        var line = Assert.Single((result.Stdout + result.Stderr).Split('\n', StringSplitOptions.RemoveEmptyEntries));
        Assert.StartsWith(
            $"trousseaud: cannot start: {tokenFile} belongs to user id {Nobody}, neither root nor the user trousseaud runs as (uid 0), in the data directory {dataDir}, which group or others may write",
            line,
            StringComparison.Ordinal);
        Assert.DoesNotContain("a-token-the-planter-knows", result.Stdout + result.Stderr, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_symbolic_link_planted_after_the_start_where_the_audit_trail_is_reopened_is_refused_and_the_file_it_leads_to_gets_no_line()
    {
        var dataDir = SharedDirectory("shared");
        var victim = _temp.Combine("someone-elses-file");
        await File.WriteAllTextAsync(victim, "line one\n");
        var trail = Path.Combine(dataDir, "audit.log");
        await using var server = await TrousseauServerProcess.StartAsync(dataDir, MemoryStoreKmsOff);
        using var http = await BearerClient.FromTokenFileAsync(server.BaseAddress, Path.Combine(dataDir, "api.token"));
        using (var before = await http.GetAsync(new Uri("v1/secrets/planted/before", UriKind.Relative)))
        {
            Assert.Equal(HttpStatusCode.NotFound, before.StatusCode);
        }

        // What the directory lets another user do without racing a rotation: replace the trail with a link, and the
        // lock file, which they may unlink, with one that counts a rotation, so that trousseaud opens the trail's path
        // again as it does after another daemon rotated it.
        File.Delete(trail);
        File.CreateSymbolicLink(trail, victim);
        File.Delete(trail + ".lock");
        await File.WriteAllBytesAsync(trail + ".lock", BitConverter.GetBytes(1L));

        using var after = await http.GetAsync(new Uri("v1/secrets/planted/after", UriKind.Relative));

        Assert.Equal("line one\n", await File.ReadAllTextAsync(victim));
        var problem = await Problems.AssertAsync(after, HttpStatusCode.ServiceUnavailable);
        Assert.Equal("urn:trousseau:problem:audit-unavailable", problem.GetProperty("type").GetString());
        await Eventually.HoldsAsync(
            () => server.Log.Contains($"{trail} is a symbolic link (to {victim}) in the directory {dataDir}, which group or others may write (mode 0777)", StringComparison.Ordinal),
            () => server.Log);
    }

    [StoreFact]
    public async Task An_audit_lock_file_another_user_planted_after_the_start_is_refused_naming_it_and_its_owner()
    {
        var dataDir = SharedDirectory("shared");
        var lockFile = Path.Combine(dataDir, "audit.log.lock");
        await using var server = await TrousseauServerProcess.StartAsync(dataDir, MemoryStoreKmsOff);
        using var http = await BearerClient.FromTokenFileAsync(server.BaseAddress, Path.Combine(dataDir, "api.token"));
        using (var before = await http.GetAsync(new Uri("v1/secrets/planted/before", UriKind.Relative)))
        {
            Assert.Equal(HttpStatusCode.NotFound, before.StatusCode);
        }

        File.Delete(lockFile);
        await File.WriteAllBytesAsync(lockFile, BitConverter.GetBytes(0L));
        var chown = await ChildProcess.RunAsync(new ProcessStartInfo("chown", [$"{Nobody}:{Nobody}", lockFile]));
        Assert.True(chown.ExitCode == 0, chown.Stderr);

        using var after = await http.GetAsync(new Uri("v1/secrets/planted/after", UriKind.Relative));

        await Problems.AssertAsync(after, HttpStatusCode.ServiceUnavailable);
        await Eventually.HoldsAsync(
            () => server.Log.Contains(
                $"{lockFile} belongs to user id {Nobody}, neither root nor the user this process runs as (uid 0), in the directory {dataDir}, which group or others may write (mode 0777)",
                StringComparison.Ordinal),
            () => server.Log);
        Assert.DoesNotContain("\"planted/after\"", await File.ReadAllTextAsync(Path.Combine(dataDir, "audit.log")), StringComparison.Ordinal);
    }

    [StoreFact]
    public async Task An_api_token_file_another_user_puts_in_place_after_the_start_is_refused_and_the_token_read_before_still_holds()
    {
        var dataDir = SharedDirectory("shared");
        var tokenFile = Path.Combine(dataDir, "api.token");
        await using var server = await TrousseauServerProcess.StartAsync(dataDir, MemoryStoreKmsOff);
        using var admin = await BearerClient.FromTokenFileAsync(server.BaseAddress, tokenFile);

        // The planter cannot write trousseaud's file, but the directory lets them rename one of their own over it.
        var planted = Path.Combine(dataDir, "planted.tmp");
        await File.WriteAllTextAsync(planted, "a-token-the-planter-knows\n");
        File.SetUnixFileMode(planted, UnixFileMode.UserRead | UnixFileMode.UserWrite);
        var chown = await ChildProcess.RunAsync(new ProcessStartInfo("chown", [$"{Nobody}:{Nobody}", planted]));
        Assert.True(chown.ExitCode == 0, chown.Stderr);
        File.Move(planted, tokenFile, overwrite: true);
        using var planter = BearerClient.Create(server.BaseAddress, "a-token-the-planter-knows");

        using var theirs = await planter.GetAsync(new Uri("v1/secrets/planted/theirs", UriKind.Relative));
        using var ours = await admin.GetAsync(new Uri("v1/secrets/planted/ours", UriKind.Relative));

        Assert.Equal(HttpStatusCode.Unauthorized, theirs.StatusCode);
        Assert.Equal(HttpStatusCode.NotFound, ours.StatusCode);
        await Eventually.HoldsAsync(
            () => server.Log.Contains($"{tokenFile} belongs to user id {Nobody}, neither root nor the user this process runs as (uid 0), in the directory {dataDir}", StringComparison.Ordinal),
            () => server.Log);
        Assert.DoesNotContain("a-token-the-planter-knows", server.Log, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_symbolic_link_planted_after_the_start_as_the_key_rings_lock_file_stops_the_rotation_and_creates_nothing_where_it_leads()
    {
        var dataDir = SharedDirectory("shared");
        var lockFile = Path.Combine(dataDir, "local.keyring.lock");
        var target = _temp.Combine("created-through-the-link");
        await using var server = await TrousseauServerProcess.StartAsync(dataDir, MemoryStoreKmsOff);
        using var http = await BearerClient.FromTokenFileAsync(server.BaseAddress, Path.Combine(dataDir, "api.token"));
        using (var status = await http.GetAsync(new Uri("v1/keys", UriKind.Relative)))
        {
            Assert.Equal(HttpStatusCode.OK, status.StatusCode);
        }

        File.Delete(lockFile);
        File.CreateSymbolicLink(lockFile, target);

        using var rotated = await http.PostAsJsonAsync("v1/keys/rotate", new { });

        Assert.False(File.Exists(target), "the rotation created a file where the planted link leads");
        var problem = await Problems.AssertAsync(rotated, HttpStatusCode.ServiceUnavailable);
        Assert.Contains(
            $"{lockFile} is a symbolic link (to {target}) in the directory {dataDir}, which group or others may write (mode 0777)",
            problem.GetProperty("detail").GetString(),
            StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_data_directory_others_may_write_with_nothing_planted_starts_with_a_warning_naming_it_its_mode_and_the_fix()
    {
        var dataDir = SharedDirectory("shared");

        await using var server = await TrousseauServerProcess.StartAsync(dataDir, KmsOff);

        Assert.Contains(
            $"The data directory {dataDir} has mode 0777, which lets group or others add, replace or remove its files (a symbolic link where trousseaud writes, a token of their own): "
            + "remove that access (chmod go-w) or choose another directory; a symbolic link or another user's file put there after the start is refused when trousseaud opens it, "
            + "and what needs that file stops until it is removed.",
            server.Log,
            StringComparison.Ordinal);
        Assert.Equal(0, await server.StopAsync());
    }

    public void Dispose() => _temp.Dispose();

    private string SharedDirectory(string name)
    {
        var directory = Directory.CreateDirectory(_temp.Combine(name)).FullName;
        File.SetUnixFileMode(directory, WritableByAll);
        return directory;
    }
}
