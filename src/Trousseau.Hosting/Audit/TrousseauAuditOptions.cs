namespace Trousseau.Hosting;

/// <summary>The audit trail of the HTTP API and the KMS plugin (<c>Trousseau:Audit</c>).</summary>
public sealed class TrousseauAuditOptions
{
    /// <summary>The <see cref="Path"/> that writes the trail to standard output.</summary>
    public const string StandardOutput = "-";

    /// <summary>
    /// The trail's file, created with mode 0600 (its directory 0700) when absent and appended to when present, or
    /// <see cref="StandardOutput"/> (<c>-</c>). trousseaud's default is <c>audit.log</c> in its data directory.
    /// </summary>
    [RequiredSetting(ErrorMessage = "Trousseau:Audit:Path is {0}; it must be the audit trail's file (for example /var/lib/trousseau/audit.log), or - for standard output.")]
    public string? Path { get; set; }

    /// <summary>
    /// Whether calls go on when their record cannot be written (logged once per failure burst). By default
    /// (<see langword="false"/>) such calls are refused: HTTP 503 <c>urn:trousseau:problem:audit-unavailable</c>,
    /// KMS UNAVAILABLE.
    /// </summary>
    public bool FailOpen { get; set; }

    /// <summary>The size the file may reach before it is rotated to <c>PATH.1</c>, in bytes (default 100 MiB).</summary>
    [SettingRange(1024, 1L << 40, ErrorMessage = "Trousseau:Audit:MaxFileBytes is {0}; it must be at least 1024 and at most 1099511627776 (1 TiB).")]
    public long MaxFileBytes { get; set; } = 100L * 1024 * 1024;

    /// <summary>How many rotated files (<c>PATH.1</c> … <c>PATH.N</c>) are kept; the oldest beyond them is deleted. Default 10.</summary>
    [SettingRange(1, 1000, ErrorMessage = "Trousseau:Audit:MaxFiles is {0}; it must be at least 1 and at most 1000.")]
    public int MaxFiles { get; set; } = 10;
}
