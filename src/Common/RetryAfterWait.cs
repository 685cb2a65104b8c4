using System.Net.Http.Headers;

namespace Trousseau;

// Linked into Trousseau.Client and clectl: how the remote client and clectl's failover among servers read the wait a
// server asks for and say it, so that one server's 503 and a list of servers' 503s name it alike.

/// <summary>The wait the <c>Retry-After</c> of an answer asks for, and how an error message says it.</summary>
internal static class RetryAfterWait
{
    /// <summary>
    /// The wait <paramref name="headers"/>' <c>Retry-After</c> asks for, given as seconds or as a date read against
    /// <paramref name="clock"/>; <see langword="null"/> without one.
    /// </summary>
    public static TimeSpan? Of(HttpResponseHeaders headers, TimeProvider clock) => headers.RetryAfter switch
    {
        { Delta: { } delta } => delta,
        { Date: { } date } => date - clock.GetUtcNow(),
        _ => null,
    };

    /// <summary>
    /// <c>; it asks to wait N s before trying again</c>, to end a message's sentence: <paramref name="wait"/> in whole
    /// seconds, rounded up, and never below 0 (a date already past).
    /// </summary>
    public static string Asked(TimeSpan wait) => $"; it asks to wait {Math.Max(0, Math.Ceiling(wait.TotalSeconds)):0} s before trying again";
}
