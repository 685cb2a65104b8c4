using System.Diagnostics;
using System.Net;
using Trousseau.Tests.Integration.Infrastructure;

namespace Trousseau.Tests.Integration.Server;

/// <summary>
/// trousseaud reading its files from Kubernetes volumes as kubelet writes them (<see cref="KubeletVolume"/>): the API
/// token from a Secret, swapped in by kubelet's atomic writer while it runs.
/// </summary>
public sealed class KubeletVolumeTests : IDisposable
{
    private const UnixFileMode OwnerRead = UnixFileMode.UserRead;

    private readonly TempDirectory _temp = new();

    private string DataDir => _temp.Combine("data");

    public void Dispose() => _temp.Dispose();

    [Fact]
    public async Task An_api_token_from_a_secret_volume_is_accepted_and_after_kubelet_swaps_in_a_new_one_only_the_new_one_is()
    {
        const string FirstToken = "first-token-from-a-kubernetes-secret-0001";
        const string SecondToken = "second-token-kubelet-swapped-in-0000002";
        var volume = KubeletVolume.Create(_temp.Combine("api-token"), OwnerRead, new Dictionary<string, string> { ["api.token"] = FirstToken + "\n" });
        await using var server = await TrousseauServerProcess.StartAsync(
            DataDir, [$"--Trousseau:Api:Auth:TokenFile={volume.PathOf("api.token")}", "--Trousseau:Kms:Enabled=false"]);
        using var first = BearerClient.Create(server.BaseAddress, FirstToken);
        using var second = BearerClient.Create(server.BaseAddress, SecondToken);
        Assert.Equal(HttpStatusCode.OK, (await first.GetAsync("v1/secrets")).StatusCode);

        volume.Update(new Dictionary<string, string> { ["api.token"] = SecondToken + "\n" });

        Assert.Equal(HttpStatusCode.OK, (await second.GetAsync("v1/secrets")).StatusCode);
        Assert.Equal(HttpStatusCode.Unauthorized, (await first.GetAsync("v1/secrets")).StatusCode);
        Assert.DoesNotContain("cannot be used", server.Log, StringComparison.Ordinal);
        Assert.DoesNotContain(FirstToken, server.Log, StringComparison.Ordinal);
        Assert.DoesNotContain(SecondToken, server.Log, StringComparison.Ordinal);
    }

    [Fact]
    public async Task While_a_secret_volume_update_leaves_the_api_token_missing_the_token_in_force_goes_on_working_with_one_warning()
    {
        const string FirstToken = "first-token-from-a-kubernetes-secret-0001";
        const string SecondToken = "second-token-kubelet-swapped-in-0000002";
        var volume = KubeletVolume.Create(_temp.Combine("api-token"), OwnerRead, new Dictionary<string, string> { ["api.token"] = FirstToken + "\n" });
        await using var server = await TrousseauServerProcess.StartAsync(
            DataDir, [$"--Trousseau:Api:Auth:TokenFile={volume.PathOf("api.token")}", "--Trousseau:Kms:Enabled=false"]);
        using var first = BearerClient.Create(server.BaseAddress, FirstToken);
        using var second = BearerClient.Create(server.BaseAddress, SecondToken);

        volume.BeginUpdateWithGap(new Dictionary<string, string> { ["api.token"] = SecondToken + "\n" });
        for (var call = 0; call < 3; call++)
        {
            Assert.Equal(HttpStatusCode.OK, (await first.GetAsync("v1/secrets")).StatusCode);
        }

        var missing = $"The API token file changed but cannot be used: The API token file {volume.PathOf("api.token")} does not exist";
        await Eventually.HoldsAsync(() => Lines(server, missing, "") == 1, () => server.Log);
        volume.FinishUpdate();

        Assert.Equal(HttpStatusCode.OK, (await second.GetAsync("v1/secrets")).StatusCode);
        Assert.Equal(HttpStatusCode.Unauthorized, (await first.GetAsync("v1/secrets")).StatusCode);
        Assert.Equal(1, Lines(server, "cannot be used", ""));
    }

    [Theory]
    [InlineData("out of the volume")]
    [InlineData("of another user")]
    public async Task A_link_in_a_secret_volume_that_leads_out_of_it_or_belongs_to_another_user_is_refused_at_start_naming_it(string link)
    {
        var volume = KubeletVolume.Create(_temp.Combine("api-token"), OwnerRead, new Dictionary<string, string> { ["api.token"] = "token-inside-the-volume-000000001\n" });
        var outside = _temp.Combine("outside.token");
        await File.WriteAllTextAsync(outside, "token-outside-the-volume-00000001\n");
        File.SetUnixFileMode(outside, OwnerRead);
        var planted = volume.PathOf("planted.token");
        var target = link == "out of the volume" ? outside : Path.Combine("..data", "api.token");
        File.CreateSymbolicLink(planted, target);
        if (link == "of another user")
        {
            var chown = await ChildProcess.RunAsync(new ProcessStartInfo("chown", ["-h", "65534", planted]));
            Assert.True(chown.ExitCode == 0, chown.Stderr);
        }

        var start = await TrousseauServerProcess.RunToExitAsync(
            DataDir, [$"--Trousseau:Api:Auth:TokenFile={planted}", "--Trousseau:Kms:Enabled=false"]);

        Assert.Equal(1, start.ExitCode);
        Assert.Contains($"{planted} is a symbolic link (to {target}) in the directory {volume.Directory}, which group or others may write (mode 1777)", start.Stderr, StringComparison.Ordinal);
        Assert.DoesNotContain("token-inside", start.Stdout + start.Stderr, StringComparison.Ordinal);
        Assert.DoesNotContain("token-outside", start.Stdout + start.Stderr, StringComparison.Ordinal);
    }

    /// <summary>How many lines of the server's log start with <paramref name="start"/> and hold <paramref name="text"/>.</summary>
    private static int Lines(TrousseauServerProcess server, string start, string text) =>
        server.Log.Split('\n').Select(l => l.Trim()).Count(l => l.Contains(start, StringComparison.Ordinal) && l.Contains(text, StringComparison.Ordinal));
}
