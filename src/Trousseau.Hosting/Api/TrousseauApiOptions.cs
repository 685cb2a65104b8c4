namespace Trousseau.Hosting;

/// <summary>Options of Trousseau's HTTP API (<c>Trousseau:Api</c>).</summary>
public sealed class TrousseauApiOptions
{
    /// <summary>How callers are authenticated.</summary>
    public TrousseauApiAuthOptions Auth { get; set; } = new();

    /// <summary>
    /// The largest request body accepted, in bytes (default 4 MiB: room for 1 MiB of secret data as escaped JSON).
    /// Larger bodies are refused with 413.
    /// </summary>
    public long MaxRequestBodyBytes { get; set; } = 4L * 1024 * 1024;
}
