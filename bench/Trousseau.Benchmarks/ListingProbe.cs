using System.Diagnostics;
using System.Globalization;
using System.Security.Cryptography;
using Microsoft.Extensions.DependencyInjection;

namespace Trousseau.Benchmarks;

/// <summary>
/// <c>listing seed|list --store sqlite|etcd --dir DIR [--etcd URL] [--count N] [--size BYTES]</c>: <c>seed</c> fills
/// the store with <c>N</c> opaque secrets holding a value of <c>BYTES</c> characters each; <c>list</c> lists every
/// secret once through <see cref="ITrousseau.ListSecretsAsync"/> and prints how many, the time taken, the resident
/// memory before the listing and the process's peak. bench/listing.sh runs each step in a process of its own, so
/// the peak is the listing's. It calls only what every release of the library has, so it also measures older ones.
/// </summary>
internal static class ListingProbe
{
    public static async Task<int> RunAsync(string[] args)
    {
        if (args is not [var mode and ("seed" or "list"), .. var rest] || rest.Length % 2 != 0)
        {
            await Console.Error.WriteLineAsync("usage: listing seed|list --store sqlite|etcd --dir DIR [--etcd URL] [--count N] [--size BYTES]");
            return 2;
        }

        var options = rest.Chunk(2).ToDictionary(pair => pair[0], pair => pair[1], StringComparer.Ordinal);
        var directory = options["--dir"];
        var services = new ServiceCollection();
        var builder = services.AddTrousseau(_ => { }).UseLocalKeyRing(ring => ring.KeyFile = Path.Combine(directory, "ring.json"));
        _ = options["--store"] switch
        {
            "sqlite" => builder.UseSqliteStore(sqlite => sqlite.Path = Path.Combine(directory, "store.db")),
            "etcd" => builder.UseEtcdStore(etcd => etcd.Endpoints.Add(new Uri(options["--etcd"]))),
            var other => throw new ArgumentException($"--store must be sqlite or etcd, not '{other}'."),
        };

        await using var provider = services.BuildServiceProvider();
        var trousseau = provider.GetRequiredService<ITrousseau>();
        if (mode == "seed")
        {
            await SeedAsync(trousseau, int.Parse(options.GetValueOrDefault("--count", "100000"), CultureInfo.InvariantCulture), int.Parse(options.GetValueOrDefault("--size", "1024"), CultureInfo.InvariantCulture));
            return 0;
        }

        // Open the store and warm the code paths on a listing that finds nothing, then measure the real one.
        await foreach (var unused in trousseau.ListSecretsAsync("nothing-here/"))
        {
        }

        var before = Status("VmRSS");
        var clock = Stopwatch.StartNew();
        long listed = 0;
        await foreach (var unused in trousseau.ListSecretsAsync())
        {
            listed++;
        }

        clock.Stop();
        Console.WriteLine(FormattableString.Invariant($"listed {listed} secrets in {clock.Elapsed.TotalSeconds:0.00} s; RSS before {before / 1024.0:0} MiB, peak {Status("VmHWM") / 1024.0:0} MiB"));
        return 0;
    }

    private static async Task SeedAsync(ITrousseau trousseau, int count, int size)
    {
        // Up to 32 writes at a time, and no more than 4 MiB of values in flight, so that etcd answers each in time.
        var parallel = new ParallelOptions { MaxDegreeOfParallelism = Math.Clamp(4 * 1024 * 1024 / size, 1, 32) };
        var clock = Stopwatch.StartNew();
        await Parallel.ForEachAsync(Enumerable.Range(0, count), parallel, async (i, ct) =>
        {
            var data = new Dictionary<string, string>(StringComparer.Ordinal) { ["value"] = RandomNumberGenerator.GetString("abcdefghijklmnopqrstuvwxyz0123456789", size) };
            await trousseau.CreateSecretAsync(FormattableString.Invariant($"listing/{i:D7}"), SecretType.Opaque, data, ct);
        });
        Console.WriteLine(FormattableString.Invariant($"seeded {count} secrets of {size} characters in {clock.Elapsed.TotalSeconds:0} s"));
    }

    /// <summary>A memory figure of this process from /proc/self/status, in KiB (VmRSS: now; VmHWM: the peak).</summary>
    private static long Status(string field)
    {
        var line = File.ReadLines("/proc/self/status").First(l => l.StartsWith(field + ":", StringComparison.Ordinal));
        return long.Parse(line[(field.Length + 1)..].Trim().Split(' ')[0], CultureInfo.InvariantCulture);
    }
}
