namespace Trousseau.Remote;

/// <summary>How a <see cref="TrousseauClient"/> treats its token and reads time; see its constructor.</summary>
public sealed class TrousseauClientOptions
{
    /// <summary>
    /// Whether the token may go over plain <c>http://</c> to a server that is not on this machine (a
    /// <see cref="HttpClient.BaseAddress"/> other than <c>localhost</c>, 127.0.0.0/8 or [::1]), where it crosses the
    /// network in clear text. <see langword="false"/> (the default) refuses such a client when it is made: use an
    /// <c>https://</c> address. Set it only on a network where clear text is acceptable (a service mesh or a proxy
    /// that encrypts the traffic), as trousseaud's <c>Trousseau:Api:AllowInsecureHttp</c> does on the server side.
    /// </summary>
    public bool AllowInsecureHttp { get; set; }

    /// <summary>
    /// The clock that a <c>Retry-After</c> date of a 429 or 5xx answer is read against, to say how long to wait; the system
    /// clock by default.
    /// </summary>
    public TimeProvider TimeProvider { get; set; } = TimeProvider.System;
}
