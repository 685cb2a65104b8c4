using Trousseau.Remote;
using Trousseau.Tests.Integration.Infrastructure;

namespace Trousseau.Tests.Integration.Remote;

/// <summary>
/// The remote <see cref="ITrousseau"/> when the caller cancels, or the server's answer is cut short: what a .NET
/// application catches must be the caller's own cancellation or a typed <see cref="TrousseauException"/>.
/// </summary>
public sealed class TrousseauClientCancellationTests
{
    [Fact]
    public async Task A_caller_cancelling_while_the_server_has_not_answered_gets_its_own_token()
    {
        using var silent = TcpStandIn.Silent();
        using var http = new HttpClient { BaseAddress = silent.BaseAddress };
        var client = new TrousseauClient(http);
        using var cancel = new CancellationTokenSource();

        var call = client.GetSecretAsync("remote/held", cancel.Token).AsTask();
        await Eventually.HoldsAsync(() => silent.Connections > 0);
        await cancel.CancelAsync();

        var error = await Assert.ThrowsAnyAsync<OperationCanceledException>(() => call);
        Assert.Equal(cancel.Token, error.CancellationToken);
    }

    [Fact]
    public async Task A_caller_cancelling_while_the_answer_is_still_arriving_gets_its_own_token()
    {
        using var halfway = TcpStandIn.WritingThenSilent(
            "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 500\r\n\r\n{\"name\":\"remote/half");
        using var http = new HttpClient { BaseAddress = halfway.BaseAddress };
        var client = new TrousseauClient(http);
        using var cancel = new CancellationTokenSource();

        var call = client.GetSecretAsync("remote/half", cancel.Token).AsTask();
        await Eventually.HoldsAsync(() => halfway.Connections > 0);
        await cancel.CancelAsync();

        var error = await Assert.ThrowsAnyAsync<OperationCanceledException>(() => call);
        Assert.Equal(cancel.Token, error.CancellationToken);
    }

    [Fact]
    public async Task An_answer_cut_short_by_the_server_is_unavailable_not_an_HttpRequestException()
    {
        using var cut = TcpStandIn.Writing(
            "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 500\r\nConnection: close\r\n\r\n{\"name\":\"remote/cut");
        using var http = new HttpClient { BaseAddress = cut.BaseAddress };
        var client = new TrousseauClient(http);

        var error = await Assert.ThrowsAsync<DependencyUnavailableException>(async () => await client.GetSecretAsync("remote/cut"));

        Assert.StartsWith($"trousseaud at {cut.BaseAddress} ", error.Message, StringComparison.Ordinal);
    }
}
