using System.Diagnostics;
using System.Globalization;
using Microsoft.Extensions.Configuration;
using Trousseau.Remote;

namespace Trousseau.Benchmarks;

/// <summary>
/// <c>config --server URL --token-file FILE --prefix P [--polls N] [--interval-ms MS] [--delay-ms D]</c>: loads the secrets under
/// <c>P</c> of a running trousseaud as <see cref="IConfiguration"/> (<c>AddTrousseauSecrets</c> over the remote
/// client), then lets it poll <c>N</c> times with nothing changed, then once after one secret changed, and prints the
/// HTTP requests each step made (listing pages and secret reads) and the bytes they brought back. <c>--delay-ms</c>
/// holds each request that long before sending it, as a broker that far away would. With
/// <c>--polls 0</c> it prints the start alone. <c>config seed --server URL --token-file FILE --prefix P --count N</c>
/// creates <c>N</c> secrets under <c>P</c> (one key of 40 characters each), several at a time.
/// </summary>
internal static class ConfigPollProbe
{
    public static async Task<int> RunAsync(string[] args)
    {
        if (args is ["seed", .. var seed])
        {
            return await SeedAsync(seed);
        }

        if (args.Length % 2 != 0)
        {
            await Console.Error.WriteLineAsync("usage: config --server URL --token-file FILE --prefix P [--polls N] [--interval-ms MS] [--delay-ms D]");
            return 2;
        }

        var options = args.Chunk(2).ToDictionary(pair => pair[0], pair => pair[1], StringComparer.Ordinal);
        var polls = int.Parse(options.GetValueOrDefault("--polls", "5"), CultureInfo.InvariantCulture);
        var interval = TimeSpan.FromMilliseconds(int.Parse(options.GetValueOrDefault("--interval-ms", "2000"), CultureInfo.InvariantCulture));
        var prefix = options["--prefix"];
        var delay = TimeSpan.FromMilliseconds(int.Parse(options.GetValueOrDefault("--delay-ms", "0"), CultureInfo.InvariantCulture));
        var counter = new CountingHandler(delay) { InnerHandler = new SocketsHttpHandler() };
        using var http = new HttpClient(counter) { BaseAddress = new Uri(options["--server"]) };
        var client = new TrousseauClient(http, (await File.ReadAllTextAsync(options["--token-file"])).Trim());

        var clock = Stopwatch.StartNew();
        var configuration = new ConfigurationBuilder()
            .AddTrousseauSecrets(o => { o.Trousseau = client; o.Prefix = prefix; o.ReloadInterval = interval; })
            .Build();
        var loaded = clock.Elapsed;
        counter.Print(FormattableString.Invariant($"start: loaded in {loaded.TotalSeconds:0.00} s;"));

        // Enumerating the keys is .NET's configuration work, not the load's: each section asks every key whether it is a
        // child (ConfigurationProvider.GetChildKeys), quadratic in the number of keys, and polls go on meanwhile.
        counter.Reset();
        var keys = configuration.AsEnumerable().Count(pair => pair.Value is not null);
        counter.Print(FormattableString.Invariant($"then: {keys} configuration keys enumerated in {(clock.Elapsed - loaded).TotalSeconds:0.00} s, polls meanwhile:"));
        if (polls == 0)
        {
            return 0;
        }

        counter.Reset();
        var reloads = 0;
        using var subscription = Microsoft.Extensions.Primitives.ChangeToken.OnChange(configuration.GetReloadToken, () => Interlocked.Increment(ref reloads));
        await Task.Delay(interval * polls + interval / 2);
        counter.Print(FormattableString.Invariant($"{polls} polls, nothing changed, {reloads} reloads fired:"));

        var first = configuration.AsEnumerable().First(pair => pair.Value is not null && pair.Key.Contains(':', StringComparison.Ordinal));
        var name = prefix + first.Key[..first.Key.LastIndexOf(':')].Replace(':', '/');
        await client.UpdateSecretAsync(name, new Dictionary<string, string>(StringComparer.Ordinal) { [first.Key[(first.Key.LastIndexOf(':') + 1)..]] = "changed" });
        counter.Reset();
        await Task.Delay(interval + interval / 2);
        counter.Print(FormattableString.Invariant($"1 poll after one secret changed, {reloads} reloads fired in all:"));
        return 0;
    }

    private static async Task<int> SeedAsync(string[] args)
    {
        var options = args.Chunk(2).ToDictionary(pair => pair[0], pair => pair[1], StringComparer.Ordinal);
        using var http = new HttpClient { BaseAddress = new Uri(options["--server"]) };
        var client = new TrousseauClient(http, (await File.ReadAllTextAsync(options["--token-file"])).Trim());
        var count = int.Parse(options["--count"], CultureInfo.InvariantCulture);
        await Parallel.ForAsync(0, count, new ParallelOptions { MaxDegreeOfParallelism = 16 }, async (i, cancellationToken) =>
            await client.CreateSecretAsync(
                FormattableString.Invariant($"{options["--prefix"]}s{i:00000}"),
                SecretType.Opaque,
                new Dictionary<string, string>(StringComparer.Ordinal) { ["value"] = new string('x', 40) },
                cancellationToken));
        return 0;
    }

    /// <summary>
    /// Counts the requests that pass, listing pages apart from secret reads, and the bytes of their answers; holds each
    /// request <paramref name="delay"/> first.
    /// </summary>
    private sealed class CountingHandler(TimeSpan delay) : DelegatingHandler
    {
        private long _pages;
        private long _reads;
        private long _other;
        private long _bytes;

        public void Reset()
        {
            Interlocked.Exchange(ref _pages, 0);
            Interlocked.Exchange(ref _reads, 0);
            Interlocked.Exchange(ref _other, 0);
            Interlocked.Exchange(ref _bytes, 0);
        }

        public void Print(string what) =>
            Console.WriteLine(FormattableString.Invariant($"{what} {_pages} listing pages, {_reads} secret reads, {_other} other requests, {_bytes / 1024.0:0} KiB of answers"));

        protected override async Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
        {
            if (delay > TimeSpan.Zero)
            {
                await Task.Delay(delay, cancellationToken);
            }

            var response = await base.SendAsync(request, cancellationToken);
            var path = request.RequestUri!.AbsolutePath;
            Interlocked.Increment(ref path == "/v1/secrets" ? ref _pages : ref path.StartsWith("/v1/secrets/", StringComparison.Ordinal) ? ref _reads : ref _other);
            await response.Content.LoadIntoBufferAsync(cancellationToken);
            Interlocked.Add(ref _bytes, (await response.Content.ReadAsByteArrayAsync(cancellationToken)).Length);
            return response;
        }
    }
}
