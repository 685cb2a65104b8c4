using System.Net;
using Trousseau.Tests.Integration.Infrastructure;
using Trousseau.Tests.StoreContract;

namespace Trousseau.Tests.Integration.Server;

/// <summary>
/// Two trousseaud started at the same moment on one API token file not created yet: each finds it absent and makes a
/// token, and the token the file holds once it appears must stay the one both accept. strace holds the first one as it
/// is about to put its token in place (at its first call on the file's path once its temporary file is written beside
/// it), lets the second one put its own there and holds it right after (at its first call on the file's directory once
/// the file exists), where a script waiting for the file reads it; then lets both go on.
/// </summary>
public sealed class ApiTokenStartRaceTests : IDisposable
{
    private readonly TempDirectory _temp = new();

    /// <summary>Read by <see cref="StoreFactAttribute"/>: strace is needed, and required under CI.</summary>
    public static string? SkipReason => StraceStops.SkipReason;

    public void Dispose() => _temp.Dispose();

    [StoreFact]
    public async Task The_token_read_from_the_file_as_it_appeared_is_the_one_both_accept_when_two_made_one_at_once()
    {
        // Only the token file is shared: each has a key ring of its own, which one of them, stopped, could hold.
        var tokenFile = _temp.Combine("shared", "api.token");
        string[] shared = [$"--Trousseau:Api:Auth:TokenFile={tokenFile}", "--Trousseau:Store=memory"];

        var firstTrace = _temp.Combine("strace-first");
        await using var first = TrousseauServerProcess.Launch(
            RepositoryPaths.Server, _temp.Path, ["--data-dir", _temp.Combine("first"), .. shared], prepare: info => StraceStops.Wrap(info, firstTrace, "all", tokenFile));
        var firstPid = await StopWhenAsync(firstTrace, () => OwnerOnlyFile.FindTemporaries(tokenFile).Count > 0 || File.Exists(tokenFile));
        var firstTemporary = OwnerOnlyFile.FindTemporaries(tokenFile).SingleOrDefault();

        var secondTrace = _temp.Combine("strace-second");
        await using var second = TrousseauServerProcess.Launch(
            RepositoryPaths.Server, _temp.Path, ["--data-dir", _temp.Combine("second"), .. shared], prepare: info => StraceStops.Wrap(info, secondTrace, "all", Path.GetDirectoryName(tokenFile)));
        var secondPid = await StopWhenAsync(secondTrace, () => File.Exists(tokenFile));
        var handedOut = await BearerClient.ReadTokenAsync(tokenFile);

        // The first one puts its token in place or gives up its temporary file; then both start.
        await StraceStops.GoOnUntilAsync(
            firstPid, Eventually.HoldsAsync(() => firstTemporary is null || !File.Exists(firstTemporary)), "the first trousseaud to be done with its temporary file");
        await StraceStops.GoOnUntilAsync(
            secondPid, StraceStops.GoOnUntilAsync(firstPid, first.WaitUntilLiveAsync(), "the first trousseaud to answer /healthz"), "both to start");
        await StraceStops.GoOnUntilAsync(secondPid, second.WaitUntilLiveAsync(), "the second trousseaud to answer /healthz");

        await StraceStops.GoOnUntilAsync(firstPid, AssertAcceptsAsync(first, handedOut, "the first trousseaud"), "the first trousseaud to answer a call");
        await StraceStops.GoOnUntilAsync(secondPid, AssertAcceptsAsync(second, handedOut, "the second trousseaud"), "the second trousseaud to answer a call");
        Assert.Equal(handedOut, await BearerClient.ReadTokenAsync(tokenFile));
        foreach (var server in (TrousseauServerProcess[])[first, second])
        {
            Assert.False(server.Log.Contains("holds a new API token", StringComparison.Ordinal), $"a trousseaud logged a new token:\n{server.Log}");
        }
    }

    /// <summary>
    /// Lets the process traced into <paramref name="trace"/> go on from each stop until it stops where
    /// <paramref name="holds"/>, and returns its process id.
    /// </summary>
    private static async Task<string> StopWhenAsync(string trace, Func<bool> holds)
    {
        var stops = 1;
        var tid = await StraceStops.StoppedAsync(trace, stops);
        while (!holds())
        {
            await StraceStops.ContinueAsync(tid);
            tid = await StraceStops.StoppedAsync(trace, ++stops);
        }

        return StraceStops.ProcessOf(tid);
    }

    /// <summary>Asserts that <paramref name="server"/> answers <c>GET /v1/auth/whoami</c> with 200 for <paramref name="token"/>.</summary>
    private static async Task AssertAcceptsAsync(TrousseauServerProcess server, string token, string which)
    {
        using var http = BearerClient.Create(server.BaseAddress, token);
        using var response = await http.GetAsync(new Uri("v1/auth/whoami", UriKind.Relative));
        Assert.True(
            response.StatusCode == HttpStatusCode.OK,
            $"{which} answered {(int)response.StatusCode} to the token api.token held as it appeared; its output:\n{server.Log}");
    }
}
