using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using Trousseau.Tests.Integration.Infrastructure;
using Trousseau.Tests.StoreContract;

namespace Trousseau.Tests.Integration.Server;

/// <summary>
/// trousseaud's SQLite store on a file system that fills up (a small tmpfs, so that filling it costs little): readiness
/// says so, writes are refused as such and change nothing, and freeing space heals it without a restart.
/// </summary>
public sealed class StoreDiskFullTests : IDisposable
{
    private const long DiskBytes = 32 * 1024 * 1024;

    private readonly TempDirectory _temp = new();

    /// <summary>Why the tests are skipped: mounting a file system needs root.</summary>
    public static string? SkipReason => Environment.IsPrivilegedProcess
        ? null
        : "Needs root, to mount a small tmpfs (mount -t tmpfs) and fill it; run the tests as root to include it.";

    public void Dispose() => _temp.Dispose();

    [StoreFact]
    public async Task A_full_disk_makes_the_store_degraded_and_refuses_writes_as_disk_full_changing_nothing_until_space_is_freed()
    {
        await using var disk = await SmallFileSystem.MountAsync(_temp.Combine("disk"), DiskBytes);
        var dataDir = _temp.Combine("data");
        var storePath = Path.Combine(disk.Directory, "store.db");
        await using var server = await TrousseauServerProcess.StartAsync(dataDir, [$"--Trousseau:Sqlite:Path={storePath}"]);
        using var client = await BearerClient.FromTokenFileAsync(server.BaseAddress, Path.Combine(dataDir, "api.token"));
        using (var created = await client.PostAsJsonAsync("v1/secrets", new { name = "db/password", type = "opaque", data = new { value = "v1" } }))
        {
            Assert.Equal(HttpStatusCode.Created, created.StatusCode);
        }

        Assert.Equal("healthy", (await ReadinessAsync(client)).Store);
        var revision = await RevisionAsync(client);

        var filler = disk.Fill();
        var large = new string('x', 256 * 1024);
        using (var refused = await client.PutAsJsonAsync("v1/secrets/db/password", new { data = new { value = large } }))
        {
            var problem = await Problems.AssertAsync(refused, HttpStatusCode.ServiceUnavailable);
            Assert.StartsWith($"The SQLite store '{storePath}' cannot be written: the file system holding it is full (", problem.GetProperty("detail").GetString(), StringComparison.Ordinal);
        }

        var full = await Eventually.ReturnsAsync(() => ReadinessAsync(client), r => r.Store == "degraded");
        Assert.Equal(HttpStatusCode.OK, full.Status);
        Assert.StartsWith($"SQLite store {storePath}: the file system holding it has 0 bytes free, less than ", full.StoreDescription, StringComparison.Ordinal);
        Assert.Equal(revision, await RevisionAsync(client));

        File.Delete(filler);
        using (var updated = await client.PutAsJsonAsync("v1/secrets/db/password", new { data = new { value = large } }))
        {
            Assert.Equal(HttpStatusCode.OK, updated.StatusCode);
        }

        await Eventually.ReturnsAsync(() => ReadinessAsync(client), r => r.Store == "healthy");
        using var read = await client.GetFromJsonAsync<JsonDocument>("v1/secrets/db/password");
        Assert.Equal(large, read!.RootElement.GetProperty("data").GetProperty("value").GetString());
    }

    private static async Task<long> RevisionAsync(HttpClient client)
    {
        using var read = await client.GetFromJsonAsync<JsonDocument>("v1/secrets/db/password");
        Assert.Equal("v1", read!.RootElement.GetProperty("data").GetProperty("value").GetString());
        return read.RootElement.GetProperty("revision").GetInt64();
    }

    private static async Task<Readiness> ReadinessAsync(HttpClient client)
    {
        using var response = await client.GetAsync(new Uri("readyz", UriKind.Relative));
        using var report = JsonDocument.Parse(await response.Content.ReadAsStringAsync());
        var store = report.RootElement.GetProperty("checks").GetProperty("store");
        return new Readiness(response.StatusCode, store.GetProperty("status").GetString(), store.GetProperty("description").GetString());
    }

    private sealed record Readiness(HttpStatusCode Status, string? Store, string? StoreDescription);

    /// <summary>A tmpfs of a few megabytes mounted on a directory of its own, unmounted on dispose.</summary>
    private sealed class SmallFileSystem : IAsyncDisposable
    {
        private SmallFileSystem(string directory) => Directory = directory;

        /// <summary>Where it is mounted.</summary>
        public string Directory { get; }

        public static async Task<SmallFileSystem> MountAsync(string directory, long bytes)
        {
            System.IO.Directory.CreateDirectory(directory);
            var size = string.Create(CultureInfo.InvariantCulture, $"size={bytes}");
            var mount = await ChildProcess.RunAsync(new ProcessStartInfo("mount", ["-t", "tmpfs", "-o", size, "tmpfs", directory]));
            Assert.True(mount.ExitCode == 0, $"mount could not mount a tmpfs on {directory}: {mount.Stderr}");
            return new SmallFileSystem(directory);
        }

        /// <summary>Writes one file until the file system has no byte left; returns its path.</summary>
        public string Fill()
        {
            var path = Path.Combine(Directory, "filler");
            using var file = new FileStream(path, FileMode.CreateNew, FileAccess.Write, FileShare.None, bufferSize: 0);
            var block = new byte[1024 * 1024];
            try
            {
                while (true)
                {
                    file.Write(block);
                }
            }
            catch (IOException) when (new DriveInfo(Directory).AvailableFreeSpace == 0)
            {
                return path;
            }
        }

        public async ValueTask DisposeAsync()
        {
            var unmount = await ChildProcess.RunAsync(new ProcessStartInfo("umount", [Directory]));
            Assert.True(unmount.ExitCode == 0, $"umount could not unmount {Directory}: {unmount.Stderr}");
        }
    }
}
