using Microsoft.Extensions.Options;

namespace Trousseau.Hosting;

/// <summary>Options of Trousseau's HTTP API (<c>Trousseau:Api</c>).</summary>
public sealed class TrousseauApiOptions
{
    /// <summary>How callers are authenticated.</summary>
    [ValidateObjectMembers]
    public TrousseauApiAuthOptions Auth { get; set; } = new();

    /// <summary>
    /// The largest request body accepted, in bytes (default 4 MiB: room for 1 MiB of secret data as escaped JSON).
    /// Larger bodies are refused with 413.
    /// </summary>
    [SettingRange(64 * 1024, 64L * 1024 * 1024, ErrorMessage = "Trousseau:Api:MaxRequestBodyBytes is {0}; it must be at least 65536 (64 KiB) and at most 67108864 (64 MiB).")]
    public long MaxRequestBodyBytes { get; set; } = 4L * 1024 * 1024;

    /// <summary>
    /// What each authenticated identity may do. Empty (the default): any authenticated identity may do everything.
    /// Otherwise a call is allowed only when some policy names its identity, its action and, for an action on a
    /// secret, the secret.
    /// </summary>
    public IList<TrousseauApiPolicy> Policies { get; } = [];
}
