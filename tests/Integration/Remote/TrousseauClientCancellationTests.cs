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

    /// <summary>
    /// <see cref="HttpClient.Timeout"/> bounds the whole call, as it does for any <see cref="HttpClient.SendAsync(HttpRequestMessage, CancellationToken)"/>
    /// that reads the body: a server that sends the head of its answer and then stalls in the body fails the call too.
    /// The caller's token, cancelled a minute later, only keeps a failing run from hanging.
    /// </summary>
    [Theory]
    [InlineData("")]
    [InlineData("HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 500\r\n\r\n{\"name\":\"remote/half")]
    public async Task The_HttpClient_timeout_bounds_the_answer_s_body_as_well_as_its_head(string answeredSoFar)
    {
        using var server = TcpStandIn.WritingThenSilent(answeredSoFar);
        using var http = new HttpClient { BaseAddress = server.BaseAddress, Timeout = TimeSpan.FromSeconds(1) };
        var client = new TrousseauClient(http);
        using var backstop = new CancellationTokenSource(TimeSpan.FromMinutes(1));

        var error = await Assert.ThrowsAsync<DependencyUnavailableException>(async () => await client.GetSecretAsync("remote/stalled", backstop.Token));

        Assert.Equal($"trousseaud at {server.BaseAddress} did not answer GET v1/secrets/remote/stalled within 1 s (the HttpClient's Timeout).", error.Message);
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
