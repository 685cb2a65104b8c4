using System.Diagnostics;
using System.Net;
using Trousseau.Tests.Integration.Infrastructure;

namespace Trousseau.Tests.Integration.Server;

/// <summary>
/// trousseaud reading its files from Kubernetes volumes as kubelet writes them (<see cref="KubeletVolume"/>): the API
/// token from a Secret, the settings file from a ConfigMap, each swapped in by kubelet's atomic writer while it runs.
/// </summary>
public sealed class KubeletVolumeTests : IDisposable
{
    private const UnixFileMode OwnerRead = UnixFileMode.UserRead;
    private const UnixFileMode ConfigMapDefault = UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.GroupRead | UnixFileMode.OtherRead;
    private const string UnknownKey = "The changed configuration names a key that is no setting: ";

    private readonly TempDirectory _temp = new();

    private const string FirstToken = "first-token-from-a-kubernetes-secret-0001";
    private const string SecondToken = "second-token-kubelet-swapped-in-0000002";

    private string DataDir => _temp.Combine("data");

    public void Dispose() => _temp.Dispose();

    /// <summary>trousseaud with its API token in a Secret volume laid out as kubelet does, holding <see cref="FirstToken"/>.</summary>
    private async Task<(KubeletVolume Volume, TrousseauServerProcess Server)> StartWithTokenVolumeAsync()
    {
        var volume = KubeletVolume.Create(_temp.Combine("api-token"), OwnerRead, new Dictionary<string, string> { ["api.token"] = FirstToken + "\n" });
        var server = await TrousseauServerProcess.StartAsync(
            DataDir, [$"--Trousseau:Api:Auth:TokenFile={volume.PathOf("api.token")}", "--Trousseau:Kms:Enabled=false"]);
        return (volume, server);
    }

    [Fact]
    public async Task An_api_token_from_a_secret_volume_is_accepted_and_after_kubelet_swaps_in_a_new_one_only_the_new_one_is()
    {
        var (volume, server) = await StartWithTokenVolumeAsync();
        await using var stopping = server;
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
        var (volume, server) = await StartWithTokenVolumeAsync();
        await using var stopping = server;
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

        // The warning's advice fits a file that trousseaud cannot write, as a Secret volume is read-only.
        Assert.Equal(
            1,
            Lines(server, missing, "; put the token back: write it into the file, or, for a file mounted from a Kubernetes Secret, into the Secret, whose new version kubelet swaps in. A restart makes a new token only where trousseaud may create the file."));

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

    [Fact]
    public async Task A_settings_file_from_a_config_map_swapped_by_kubelet_is_applied_and_read_once_per_swap()
    {
        var volume = KubeletVolume.Create(_temp.Combine("config"), ConfigMapDefault, Settings("team/**", extra: ""));
        await using var server = await TrousseauServerProcess.StartAsync(DataDir, ["--config", volume.PathOf("config.json"), "--Trousseau:Kms:Enabled=false"]);
        using var http = await BearerClient.FromTokenFileAsync(server.BaseAddress, Path.Combine(DataDir, "api.token"));
        Assert.Equal(HttpStatusCode.NotFound, (await http.GetAsync("v1/secrets/team/absent")).StatusCode);

        volume.Update(Settings("other/**", extra: """, "Sotre": "memory" """));

        await Eventually.HoldsAsync(
            async () => (await http.GetAsync("v1/secrets/team/absent")).StatusCode == HttpStatusCode.Forbidden,
            () => server.Log);
        Assert.Equal(HttpStatusCode.NotFound, (await http.GetAsync("v1/secrets/other/absent")).StatusCode);

        // A second swap, seen once the server has polled again: the first one must not have been read twice.
        volume.Update(Settings("other/**", extra: """, "Stroe": "memory" """));
        await Eventually.HoldsAsync(() => Lines(server, UnknownKey, "Trousseau:Stroe") == 1, () => server.Log);

        Assert.Equal(1, Lines(server, UnknownKey, "Trousseau:Sotre"));
        Assert.Equal(1, Lines(server, "Trousseau:Api:Policies changed", ""));
        Assert.Equal(0, Lines(server, "The changed configuration is not taken", ""));
        Assert.False(server.HasExited);
    }

    private static Dictionary<string, string> Settings(string secrets, string extra) => new()
    {
        ["config.json"] = $$"""
            { "Trousseau": { "Store": "memory"{{extra}}, "Api": { "Policies": [ { "Subjects": ["admin"], "Secrets": ["{{secrets}}"], "Actions": ["read"] } ] } } }
            """,
    };

    /// <summary>How many lines of the server's log start with <paramref name="start"/> and hold <paramref name="text"/>.</summary>
    private static int Lines(TrousseauServerProcess server, string start, string text) =>
        server.Log.Split('\n').Select(l => l.Trim()).Count(l => l.Contains(start, StringComparison.Ordinal) && l.Contains(text, StringComparison.Ordinal));
}
