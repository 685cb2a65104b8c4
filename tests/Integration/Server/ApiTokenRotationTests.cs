using System.Net;
using System.Text;
using Trousseau.Tests.Integration.Docs;
using Trousseau.Tests.Integration.Infrastructure;

namespace Trousseau.Tests.Integration.Server;

/// <summary>
/// Replacing the API token while trousseaud runs, as an operator rotates it: the file's new token is the one the server
/// takes from the next request on, and the previous one, perhaps leaked, is refused.
/// </summary>
public sealed class ApiTokenRotationTests : IDisposable
{
    private readonly TempDirectory _temp = new();

    private string DataDir => _temp.Combine("data");

    private string TokenFile => _temp.Combine("data", "api.token");

    public void Dispose() => _temp.Dispose();

    [Fact]
    public async Task A_token_written_over_the_file_while_the_server_runs_is_the_only_one_accepted_from_then_on()
    {
        await using var server = await TrousseauServerProcess.StartAsync(DataDir);
        var oldToken = await BearerClient.ReadTokenAsync(TokenFile);
        var clectl = ClectlRunner.For(server, DataDir, _temp.Path).With(("TROUSSEAU_TOKEN", null));
        ClectlAssert.Ok(await clectl.RunAsync("--token-file", TokenFile, "secret", "list"));

        await RunDocumentedRotationAsync();
        var newToken = await BearerClient.ReadTokenAsync(TokenFile);
        Assert.Equal(43, newToken.Length);
        Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(TokenFile));

        ClectlAssert.Ok(await clectl.RunAsync("--token-file", TokenFile, "secret", "list"));
        var oldTokenFile = _temp.Combine("old.token");
        ReplaceOwnerOnly(oldTokenFile, oldToken + "\n");
        var refused = ClectlAssert.Fails(await clectl.RunAsync("--token-file", oldTokenFile, "secret", "list"), 5);
        Assert.Contains("refused the API token", refused, StringComparison.Ordinal);
        await Eventually.HoldsAsync(
            () => server.Log.Contains($"The API token file {TokenFile} holds a new API token", StringComparison.Ordinal),
            () => server.Log);
        Assert.DoesNotContain(newToken, server.Log, StringComparison.Ordinal);
        Assert.DoesNotContain(oldToken, server.Log, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_replaced_token_file_open_to_others_is_not_used_until_chmod_600_and_the_old_token_goes_on_working()
    {
        await using var server = await TrousseauServerProcess.StartAsync(DataDir);
        var oldToken = await BearerClient.ReadTokenAsync(TokenFile);
        using var old = BearerClient.Create(server.BaseAddress, oldToken);

        const string NewToken = "rotated-token-open-to-others-77c1";
        ReplaceOwnerOnly(TokenFile, NewToken + "\n");
        File.SetUnixFileMode(
            TokenFile,
            UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.GroupRead | UnixFileMode.OtherRead);

        Assert.Equal(HttpStatusCode.OK, (await old.GetAsync("v1/secrets")).StatusCode);
        using var fresh = BearerClient.Create(server.BaseAddress, NewToken);
        Assert.Equal(HttpStatusCode.Unauthorized, (await fresh.GetAsync("v1/secrets")).StatusCode);
        await Eventually.HoldsAsync(
            () => server.Log.Contains($"The API token file {TokenFile} has mode 0644", StringComparison.Ordinal),
            () => server.Log);

        File.SetUnixFileMode(TokenFile, UnixFileMode.UserRead | UnixFileMode.UserWrite);
        Assert.Equal(HttpStatusCode.OK, (await fresh.GetAsync("v1/secrets")).StatusCode);
        Assert.Equal(HttpStatusCode.Unauthorized, (await old.GetAsync("v1/secrets")).StatusCode);
        Assert.DoesNotContain(NewToken, server.Log, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_token_file_replaced_by_one_larger_than_4_KiB_is_not_used_and_the_old_token_goes_on_working()
    {
        await using var server = await TrousseauServerProcess.StartAsync(DataDir);
        var oldToken = await BearerClient.ReadTokenAsync(TokenFile);
        using var old = BearerClient.Create(server.BaseAddress, oldToken);

        var huge = new string('h', 8 * 1024);
        ReplaceOwnerOnly(TokenFile, huge + "\n");

        Assert.Equal(HttpStatusCode.OK, (await old.GetAsync("v1/secrets")).StatusCode);
        using var fresh = BearerClient.Create(server.BaseAddress, huge);
        Assert.Equal(HttpStatusCode.Unauthorized, (await fresh.GetAsync("v1/secrets")).StatusCode);
        await Eventually.HoldsAsync(
            () => server.Log.Contains($"The API token file changed but cannot be used: The API token file {TokenFile} is larger than 4096 bytes", StringComparison.Ordinal),
            () => server.Log);
        Assert.DoesNotContain("hhhh", server.Log, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_token_rewritten_in_place_with_the_same_length_and_time_stamp_right_after_it_was_read_is_taken()
    {
        // Both writes carry the same time stamp, as two writes within one tick of a coarse file system clock (or of a
        // file server whose clock is ahead) do: here one a minute ahead, so that the server reads the first version
        // within the same tick whatever the time it takes to start.
        const string FirstToken = "first-token-written-before-the-server-read";
        const string SecondToken = "other-token-written-within-the-same-tick-1";
        Assert.Equal(FirstToken.Length, SecondToken.Length);
        var stamp = DateTime.UtcNow.AddMinutes(1);
        Directory.CreateDirectory(DataDir);
        ReplaceOwnerOnly(TokenFile, FirstToken + "\n");
        File.SetLastWriteTimeUtc(TokenFile, stamp);
        await using var server = await TrousseauServerProcess.StartAsync(DataDir);
        using var first = BearerClient.Create(server.BaseAddress, FirstToken);
        Assert.Equal(HttpStatusCode.OK, (await first.GetAsync("v1/secrets")).StatusCode);

        await File.WriteAllTextAsync(TokenFile, SecondToken + "\n");
        File.SetLastWriteTimeUtc(TokenFile, stamp);

        using var second = BearerClient.Create(server.BaseAddress, SecondToken);
        Assert.Equal(HttpStatusCode.OK, (await second.GetAsync("v1/secrets")).StatusCode);
        Assert.Equal(HttpStatusCode.Unauthorized, (await first.GetAsync("v1/secrets")).StatusCode);
    }

    /// <summary>The shell block of the reference's section on rotating the API token, run as written.</summary>
    private Task RunDocumentedRotationAsync() =>
        DocumentedShell.RunAsync(
            Assert.Single(DocumentedShell.Blocks("Rotating the API token", 1)),
            _temp.Path,
            new Dictionary<string, string?> { ["TROUSSEAU_HOME"] = DataDir });

    /// <summary>Writes the file as an operator replaces it: a new owner-only file renamed over the old one.</summary>
    private static void ReplaceOwnerOnly(string path, string content)
    {
        var staging = path + ".new";
        File.WriteAllText(staging, content, new UTF8Encoding(encoderShouldEmitUTF8Identifier: false));
        File.SetUnixFileMode(staging, UnixFileMode.UserRead | UnixFileMode.UserWrite);
        File.Move(staging, path, overwrite: true);
    }
}
