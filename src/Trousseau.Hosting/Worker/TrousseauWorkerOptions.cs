namespace Trousseau.Hosting;

/// <summary>The background worker, under <c>Trousseau:Worker</c>.</summary>
public sealed class TrousseauWorkerOptions
{
    /// <summary>How often the worker checks the key provider's health and current key. Default 30 s.</summary>
    [SettingRange("00:00:00.1", "1.00:00:00", ErrorMessage = "Trousseau:Worker:Interval is {0}; it must be at least 00:00:00.1 and at most 1.00:00:00.")]
    public TimeSpan Interval { get; set; } = TimeSpan.FromSeconds(30);

    /// <summary>
    /// Whether a new current key (a rotation, made anywhere) starts a rewrap of stored secrets, and the worker's first
    /// pass after start rewraps any stored secret not under the current key (a rewrap cut short by the process's end,
    /// or a rotation made while it was down). Default on.
    /// </summary>
    public bool RewrapAfterRotation { get; set; } = true;
}
