using System.Diagnostics;
using System.Net.Sockets;

namespace Trousseau.Benchmarks;

/// <summary>A single-member etcd (Debian etcd-server) on free loopback ports, in a directory of its own.</summary>
internal sealed class EtcdServer : IDisposable
{
    private readonly Process _process;

    public EtcdServer()
    {
        Directory = System.IO.Directory.CreateTempSubdirectory("trousseau-bench-etcd-").FullName;
        ClientUrl = new Uri($"http://127.0.0.1:{FreePort()}/");
        var client = ClientUrl.GetLeftPart(UriPartial.Authority);
        var peer = $"http://127.0.0.1:{FreePort()}";
        _process = Process.Start(new ProcessStartInfo("etcd",
        [
            "--data-dir", Path.Combine(Directory, "etcd"), "--listen-client-urls", client, "--advertise-client-urls", client,
            "--listen-peer-urls", peer, "--initial-advertise-peer-urls", peer, "--initial-cluster", $"default={peer}", "--log-level", "error",
        ]) { RedirectStandardError = true, RedirectStandardOutput = true })!;
        Http = new HttpClient { BaseAddress = ClientUrl };
        WaitUntilServing();
    }

    /// <summary>The client URL, ending in a slash.</summary>
    public Uri ClientUrl { get; }

    /// <summary>A client for etcd's JSON gateway.</summary>
    public HttpClient Http { get; }

    /// <summary>A scratch directory removed with the server.</summary>
    public string Directory { get; }

    public void Dispose()
    {
        Http.Dispose();
        if (!_process.HasExited)
        {
            _process.Kill();
            _process.WaitForExit();
        }

        _process.Dispose();
        System.IO.Directory.Delete(Directory, recursive: true);
    }

    private void WaitUntilServing()
    {
        var deadline = DateTime.UtcNow.AddSeconds(30);
        while (DateTime.UtcNow < deadline)
        {
            try
            {
                using var health = Http.GetAsync(new Uri("health", UriKind.Relative)).GetAwaiter().GetResult();
                if (health.IsSuccessStatusCode)
                {
                    return;
                }
            }
            catch (HttpRequestException)
            {
                // Not serving yet.
            }

            Thread.Sleep(50);
        }

        throw new InvalidOperationException("etcd did not start; install the Debian package etcd-server.");
    }

    private static int FreePort()
    {
        using var listener = new TcpListener(System.Net.IPAddress.Loopback, 0);
        listener.Start();
        return ((System.Net.IPEndPoint)listener.LocalEndpoint).Port;
    }
}
