namespace Trousseau.Tests.Integration.Infrastructure;

/// <summary>
/// Where a started server listens (the <c>--urls</c> it is given) and how the tests reach it: the base address and
/// the handler of <see cref="TrousseauServerProcess.Http"/>.
/// </summary>
/// <param name="Urls">The value of <c>--urls</c>.</param>
/// <param name="BaseAddress">The address the tests call, on the same port.</param>
/// <param name="CreateHandler">The handler of the test's client (one that trusts the server's CA over TLS); a default one when null.</param>
internal sealed record ServerListener(string Urls, Uri BaseAddress, Func<HttpMessageHandler>? CreateHandler = null)
{
    /// <summary>Plain HTTP on a free loopback port.</summary>
    public static ServerListener Loopback()
    {
        var port = FreePort.Next();
        return new($"http://127.0.0.1:{port}", new Uri($"http://127.0.0.1:{port}/"));
    }

    /// <summary>Plain HTTP on every interface (<c>0.0.0.0</c>), reached through loopback.</summary>
    public static ServerListener AllInterfaces()
    {
        var port = FreePort.Next();
        return new($"http://0.0.0.0:{port}", new Uri($"http://127.0.0.1:{port}/"));
    }

    /// <summary>HTTPS on a free loopback port, reached through the handlers <paramref name="createHandler"/> makes.</summary>
    public static ServerListener Https(Func<HttpMessageHandler> createHandler)
    {
        var port = FreePort.Next();
        return new($"https://127.0.0.1:{port}", new Uri($"https://127.0.0.1:{port}/"), createHandler);
    }

    /// <summary>A client of the server, with the handler this listener calls for.</summary>
    public HttpClient CreateClient() =>
        new(CreateHandler?.Invoke() ?? new HttpClientHandler()) { BaseAddress = BaseAddress, Timeout = TimeSpan.FromSeconds(30) };
}
