using Trousseau.Remote;
using Trousseau.Tests.Integration.Infrastructure;

namespace Trousseau.Tests.Integration.Remote;

/// <summary>
/// The remote <see cref="ITrousseau"/> when the caller cancels, or the server's answer is cut short: what a .NET
/// application catches must be the caller's own cancellation or a typed <see cref="TrousseauException"/>.
/// </summary>
public sealed class TrousseauClientCancellationTests
{
    /// <summary>Nothing answered yet; or the head and part of the body, then nothing more.</summary>
    [Theory]
    [InlineData("")]
    [InlineData("HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 500\r\n\r\n{\"name\":\"remote/half")]
    public async Task A_caller_cancelling_while_the_answer_has_not_all_arrived_gets_its_own_token(string answeredSoFar)
    {
        using var server = TcpStandIn.WritingThenSilent(answeredSoFar);
        using var http = new HttpClient { BaseAddress = server.BaseAddress };
        var client = new TrousseauClient(http);
        using var cancel = new CancellationTokenSource();

        var call = client.GetSecretAsync("remote/held", cancel.Token).AsTask();
        await Eventually.HoldsAsync(() => server.Connections > 0);
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
