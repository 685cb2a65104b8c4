using System.Diagnostics;
using System.Net;
using Microsoft.Extensions.Http.Resilience;
using Polly;
using Polly.Retry;
using Polly.Timeout;

namespace Trousseau.Vault.Internal;

/// <summary>
/// The one resilience pipeline of the Vault HttpClient, outermost first: the total timeout
/// (<see cref="VaultOptions.Timeout"/>), jittered exponential retries, and the attempt timeout
/// (<see cref="VaultOptions.AttemptTimeout"/>). Only a request marked <see cref="Repeatable"/> is retried or cut per
/// attempt; a login or a key rotation is sent once. Retried: connection failures, an attempt that timed out, 5xx,
/// 429 and 412 (a standby not caught up), but not the 500 with which Vault refuses a ciphertext that its RSA key does
/// not decrypt (<see cref="VaultHttp.RefusesCiphertext"/>) to a request marked <see cref="MayRefuseInput"/>: no retry
/// changes the ciphertext. A <c>Retry-After</c> is waited when the call's time allows it; a longer one ends the
/// retries, so that the caller's typed error carries it.
/// </summary>
internal static class VaultResilience
{
    public const string PipelineName = "vault";
    public const int Retries = 2;
    public static readonly TimeSpan FirstBackoff = TimeSpan.FromMilliseconds(100);

    /// <summary>Marks a request as safe to send again: it changes nothing in Vault that a second copy would repeat.</summary>
    public static readonly HttpRequestOptionsKey<bool> Repeatable = new("Trousseau.Vault.Repeatable");

    /// <summary>When the call began (a <see cref="TimeProvider"/> timestamp), to know how much of its time is left.</summary>
    public static readonly HttpRequestOptionsKey<long> StartedAt = new("Trousseau.Vault.StartedAt");

    /// <summary>
    /// Marks a call whose refusal may be of its input rather than of Vault's state (one given a <c>badRequest</c>, or one
    /// that takes a 500 as an answer): a Transit decrypt, batch decrypt or rewrap, whose ciphertext comes from a caller,
    /// a login, a caller check.
    /// </summary>
    public static readonly HttpRequestOptionsKey<bool> MayRefuseInput = new("Trousseau.Vault.MayRefuseInput");

    public static void Configure(ResiliencePipelineBuilder<HttpResponseMessage> pipeline, VaultOptions options, TimeProvider time)
    {
        pipeline.TimeProvider = time;
        pipeline
            .AddTimeout(options.Timeout)
            .AddRetry(new RetryStrategyOptions<HttpResponseMessage>
            {
                MaxRetryAttempts = Retries,
                Delay = FirstBackoff,
                BackoffType = DelayBackoffType.Exponential,
                UseJitter = true,
                ShouldHandle = args => ShouldRetryAsync(args.Outcome, args.Context, options.Timeout, time),
                DelayGenerator = args => ValueTask.FromResult(args.Outcome.Result is { } response ? RetryAfterWait.Of(response.Headers, time) : null),
                OnRetry = args =>
                {
                    Activity.Current?.SetTag("http.request.resend_count", args.AttemptNumber + 1);
                    return ValueTask.CompletedTask;
                },
            })
            .AddTimeout(new TimeoutStrategyOptions
            {
                TimeoutGenerator = args => ValueTask.FromResult(IsRepeatable(args.Context) ? options.AttemptTimeout : System.Threading.Timeout.InfiniteTimeSpan),
            });
    }

    private static bool IsRepeatable(ResilienceContext context) => IsMarked(context, Repeatable);

    private static bool IsMarked(ResilienceContext context, HttpRequestOptionsKey<bool> mark) =>
        context.GetRequestMessage() is { } request && request.Options.TryGetValue(mark, out var marked) && marked;

    private static async ValueTask<bool> ShouldRetryAsync(Outcome<HttpResponseMessage> outcome, ResilienceContext context, TimeSpan timeout, TimeProvider time)
    {
        if (!ShouldRetry(outcome, context, timeout, time))
        {
            return false;
        }

        if (outcome.Result is not { StatusCode: HttpStatusCode.InternalServerError } response || !IsMarked(context, MayRefuseInput))
        {
            return true;
        }

        // Buffered, so that the caller reads Vault's errors from it again.
        await response.Content.LoadIntoBufferAsync(context.CancellationToken).ConfigureAwait(false);
        return !VaultHttp.RefusesCiphertext(await response.Content.ReadAsStringAsync(context.CancellationToken).ConfigureAwait(false));
    }

    private static bool ShouldRetry(Outcome<HttpResponseMessage> outcome, ResilienceContext context, TimeSpan timeout, TimeProvider time)
    {
        if (!IsRepeatable(context) || context.CancellationToken.IsCancellationRequested)
        {
            return false;
        }

        if (outcome.Exception is { } exception)
        {
            return exception is HttpRequestException or IOException or TimeoutRejectedException;
        }

        var response = outcome.Result!;
        if ((int)response.StatusCode < 500 && response.StatusCode is not (HttpStatusCode.TooManyRequests or HttpStatusCode.PreconditionFailed))
        {
            return false;
        }

        // A Retry-After that the call cannot wait out ends the retries here, and the caller sees it.
        return RetryAfterWait.Of(response.Headers, time) is not { } wait || wait < TimeLeft(context, timeout, time);
    }

    private static TimeSpan TimeLeft(ResilienceContext context, TimeSpan timeout, TimeProvider time) =>
        context.GetRequestMessage() is { } request && request.Options.TryGetValue(StartedAt, out var started)
            ? timeout - time.GetElapsedTime(started)
            : TimeSpan.Zero;
}
