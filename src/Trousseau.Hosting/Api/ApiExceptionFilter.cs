using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Hosting;

namespace Trousseau.Hosting.Api;

/// <summary>
/// Answers the API's requests that fail with a Trousseau exception with the matching problem details; anything else
/// goes on to <see cref="ApiExceptionHandler"/>. A call still running 5 s after the host began to
/// stop (waiting on a Vault or etcd that does not answer) is cut off and answered 503, rather than left to the host's
/// shutdown timeout, which ends it with no answer at all.
/// </summary>
internal sealed class ApiExceptionFilter(IHostApplicationLifetime lifetime, TimeProvider time) : IEndpointFilter
{
    private const string CutOffByStop =
        "The server is stopping, and this call was still waiting 5 s later, so it was cut off; a change it made may or may not have been made: "
        + "check, or try again against another instance or once this one is back.";

    /// <summary>How long the calls in flight when the host begins to stop have to finish (the 5 s that <see cref="CutOffByStop"/> names).</summary>
    private static readonly TimeSpan StopGrace = TimeSpan.FromSeconds(5);

    public async ValueTask<object?> InvokeAsync(EndpointFilterInvocationContext context, EndpointFilterDelegate next)
    {
        var http = context.HttpContext;
        var aborted = http.RequestAborted;
        using var stopCutOff = new CancellationTokenSource(Timeout.InfiniteTimeSpan, time);
        using var cutOff = CancellationTokenSource.CreateLinkedTokenSource(stopCutOff.Token);
        using (aborted.Register(static state => ((CancellationTokenSource)state!).Cancel(), cutOff))
        using (lifetime.ApplicationStopping.Register(static state => ((CancellationTokenSource)state!).CancelAfter(StopGrace), stopCutOff))
        {
            http.RequestAborted = cutOff.Token;
            ApiCall.Of(http).ChangeAborted = stopCutOff.Token;
            try
            {
                return await next(context);
            }
            catch (Exception e) when (ApiProblems.IsMapped(e))
            {
                return ApiProblems.ForException(e, http.Response);
            }
            catch (OperationCanceledException) when (cutOff.IsCancellationRequested && !aborted.IsCancellationRequested)
            {
                return ApiProblems.Unavailable(CutOffByStop, retryAfter: null, http.Response);
            }
            catch (OperationCanceledException e) when (e.CancellationToken == cutOff.Token)
            {
                // A client gone mid-body is told before Kestrel cancels the request's token (ApiRequests.ReadJsonAsync),
                // by the token this filter lent: it is given the request's own, by which the audit filter and the
                // exception handler, outside, tell a client's going away from a failure.
                throw new OperationCanceledException(e.Message, e, aborted);
            }
            finally
            {
                http.RequestAborted = aborted;
            }
        }
    }
}
