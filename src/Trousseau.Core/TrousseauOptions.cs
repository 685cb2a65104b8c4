using Microsoft.Extensions.Options;

namespace Trousseau;

/// <summary>
/// Options of the in-process library, bound from the <c>Trousseau</c> configuration section.
/// </summary>
public sealed class TrousseauOptions
{
    /// <summary>
    /// Which registered key provider to use (<c>local</c>, <c>vault</c>, ...), compared without regard to case. May
    /// stay unset when exactly one is registered.
    /// </summary>
    public string? KeyProvider { get; set; }

    /// <summary>
    /// Which registered store to use (<c>sqlite</c>, <c>etcd</c>, <c>memory</c>, ...), compared without regard to
    /// case. May stay unset when exactly one is registered.
    /// </summary>
    public string? Store { get; set; }

    /// <summary>Data-key (DEK) lifetime and caching, under <c>Trousseau:DataKeys</c>.</summary>
    [RequiredSetting(ErrorMessage = "Trousseau:DataKeys is {0}; it must hold the data-key settings.")]
    [ValidateObjectMembers]
    public DataKeyOptions DataKeys { get; set; } = new();
}

/// <summary>
/// How long data keys live. A data key encrypts many records and is wrapped by the key provider once, so that
/// steady-state reads and writes make no key-provider call.
/// </summary>
public sealed class DataKeyOptions
{
    /// <summary>The most records one data key encrypts before a new one is made. Default 1,048,576; at most 2^31.</summary>
    [SettingRange(1, 1L << 31, ErrorMessage = "Trousseau:DataKeys:MaxUses must be between 1 and 2147483648, not {0}.")]
    public long MaxUses { get; set; } = 1 << 20;

    /// <summary>How long one data key encrypts before a new one is made. Default one hour.</summary>
    [SettingRange("00:00:00", SettingRangeAttribute.MaxTimeSpan, MinimumIsExclusive = true, ErrorMessage = "Trousseau:DataKeys:MaxAge must be a positive time span (for example 01:00:00), not {0}.")]
    public TimeSpan MaxAge { get; set; } = TimeSpan.FromHours(1);

    /// <summary>The most unwrapped data keys kept in memory for decryption. Default 1000.</summary>
    [SettingRange(1, 1_000_000, ErrorMessage = "Trousseau:DataKeys:CacheSize must be between 1 and 1000000, not {0}.")]
    public int CacheSize { get; set; } = 1000;

    /// <summary>How long an unwrapped data key stays in memory before it is zeroed. Default one hour.</summary>
    [SettingRange("00:00:00", SettingRangeAttribute.MaxTimeSpan, MinimumIsExclusive = true, ErrorMessage = "Trousseau:DataKeys:CacheTimeToLive must be a positive time span (for example 01:00:00), not {0}.")]
    public TimeSpan CacheTimeToLive { get; set; } = TimeSpan.FromHours(1);
}
