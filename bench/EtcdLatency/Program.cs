using System.Diagnostics;
using System.Globalization;
using Microsoft.Extensions.DependencyInjection;
using Trousseau;

// Sequential secret get and update latency through ITrousseau on the etcd store, against a running etcd.
// Usage: EtcdLatency <etcd client URL> <operations per kind> <warm-up seconds>. Prints one line: get and update p50 and
// mean in µs.
if (args is not [var endpoint, var countText, var warmUpText]
    || !int.TryParse(countText, CultureInfo.InvariantCulture, out var count) || count < 1
    || !double.TryParse(warmUpText, CultureInfo.InvariantCulture, out var warmUpSeconds) || warmUpSeconds < 0)
{
    Console.Error.WriteLine("usage: EtcdLatency <etcd client URL> <operations per kind> <warm-up seconds>");
    return 2;
}

var scratch = Directory.CreateTempSubdirectory("trousseau-etcd-latency-");
try
{
    var services = new ServiceCollection();
    services.AddTrousseau(_ => { })
        .UseLocalKeyRing(ring => ring.KeyFile = Path.Combine(scratch.FullName, "ring.json"))
        .UseEtcdStore(etcd =>
        {
            etcd.Endpoints.Add(new Uri(endpoint));
            etcd.Prefix = $"/latency-{Guid.NewGuid():N}/";
        });
    await using var provider = services.BuildServiceProvider();
    var trousseau = provider.GetRequiredService<ITrousseau>();
    var data = new Dictionary<string, string>(StringComparer.Ordinal) { ["username"] = "app", ["password"] = new string('p', 32) };
    await trousseau.CreateSecretAsync("bench/login", SecretType.Login, data);

    // Warm up connections, the data-key cache and the JIT, with at least 200 calls of each kind. .NET compiles a method
    // again, optimized, only after it has been called 30 times and no new method has needed compiling for 100 ms, so a
    // couple of hundred calls leave part of the code unoptimized; a few seconds of calls reach the code that a
    // long-running process runs.
    var warmUp = Stopwatch.StartNew();
    for (var i = 0; i < 200 || warmUp.Elapsed.TotalSeconds < warmUpSeconds; i++)
    {
        await trousseau.GetSecretAsync("bench/login");
        await trousseau.UpdateSecretAsync("bench/login", data);
    }

    var gets = new double[count];
    var updates = new double[count];
    for (var i = 0; i < count; i++)
    {
        var start = Stopwatch.GetTimestamp();
        await trousseau.GetSecretAsync("bench/login");
        gets[i] = Stopwatch.GetElapsedTime(start).TotalMicroseconds;
        start = Stopwatch.GetTimestamp();
        await trousseau.UpdateSecretAsync("bench/login", data);
        updates[i] = Stopwatch.GetElapsedTime(start).TotalMicroseconds;
    }

    Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
        $"get_p50={Median(gets):F0} get_mean={gets.Average():F0} update_p50={Median(updates):F0} update_mean={updates.Average():F0}"));
    return 0;
}
finally
{
    scratch.Delete(recursive: true);
}

static double Median(double[] values)
{
    var sorted = values.Order().ToArray();
    return sorted[sorted.Length / 2];
}
