namespace Trousseau.Samples.Worker;

/// <summary>The <c>Reports</c> configuration section.</summary>
internal sealed class ReportOptions
{
    /// <summary>The directory sealed reports are written to.</summary>
    public string Outbox { get; set; } = "reports";

    /// <summary>The time between two reports.</summary>
    public TimeSpan Interval { get; set; } = TimeSpan.FromSeconds(10);

    /// <summary>How many reports to write before stopping; 0 runs until the host stops.</summary>
    public int Count { get; set; }
}
