using System.Net.Http.Headers;

namespace Trousseau;

// Linked into Trousseau.Client, clectl and Trousseau.Vault: how the remote client, clectl's failover among servers and
// the Vault client read the wait a server asks for, and how the first two say it, so that one server's 503 and a list
// of servers' 503s name it alike.

/// <summary>The wait the <c>Retry-After</c> of an answer asks for, and how an error message says it.</summary>
internal static class RetryAfterWait
{
    /// <summary>
    /// The wait <paramref name="headers"/>' <c>Retry-After</c> asks for, given as seconds or as a date read against
    /// <paramref name="clock"/>: a date already past asks for no wait, <see cref="TimeSpan.Zero"/> (RFC 9110, section
    /// 10.2.3); <see langword="null"/> without one.
    /// </summary>
    public static TimeSpan? Of(HttpResponseHeaders headers, TimeProvider clock) => headers.RetryAfter switch
    {
        { Delta: { } delta } => delta,
        { Date: { } date } => date > clock.GetUtcNow() ? date - clock.GetUtcNow() : TimeSpan.Zero,
        _ => null,
    };

    /// <summary>
    /// <c>; it asks to wait N s before trying again</c>, to end a message's sentence: <paramref name="wait"/>, as
    /// <see cref="Of"/> reads it, in whole seconds, rounded up.
    /// </summary>
    public static string Asked(TimeSpan wait) => $"; it asks to wait {Math.Ceiling(wait.TotalSeconds):0} s before trying again";
}
