using System.Globalization;
using System.Text;

namespace Trousseau.Tests.Integration.Soak;

/// <summary>The soak's summary in Markdown: recovery per fault, the totals, every problem seen, and the fault timeline.</summary>
internal static class SoakReport
{
    /// <summary>The summary; <paramref name="faultNames"/> gives the order of the faults' rows.</summary>
    public static string Summarize(SoakSettings settings, TimeSpan loadTime, IReadOnlyList<string> faultNames, IReadOnlyList<SoakFaultRecord> faults, SoakFigures figures, SoakLoad load, SoakSystem system)
    {
        var text = new StringBuilder();
        Line(text, $"# Chaos soak");
        Line(text);
        Line(text, $"Load for {loadTime.TotalSeconds:0} s (asked: {settings.Duration.TotalSeconds:0} s, and the last round of faults finished), fault order seed {settings.Seed}, {Environment.ProcessorCount} CPUs.");
        Line(text);
        Line(text, $"| Fault | Injected | Recovered within {SoakFaults.RecoveryLimit.TotalSeconds:0} s | Median recovery | Max recovery | Failed calls |");
        Line(text, $"|---|---:|---:|---:|---:|---:|");
        foreach (var fault in faults.GroupBy(f => f.Fault).OrderBy(g => faultNames.ToList().IndexOf(g.Key)))
        {
            var recoveries = fault.Where(f => f.Recovery is not null).Select(f => f.Recovery!.Value).Order().ToList();
            Line(text, $"| {fault.Key} | {fault.Count()} | {recoveries.Count} | {Seconds(Median(recoveries))} | {Seconds(recoveries.Count == 0 ? null : recoveries[^1])} | {fault.Sum(f => f.FailedCalls):N0} |");
        }

        Line(text);
        Line(text, $"Recovery runs from the fault's end (the switch turned off, the process started again) until a secret write, a secret read, a KMS Encrypt and a KMS Decrypt, each started after that moment, have all succeeded. Failed calls are the secret and KMS calls refused (503, UNAVAILABLE) or unanswered from the fault's start until that recovery, over all its injections.");
        Line(text);
        Line(text, $"| Total | Count |");
        Line(text, $"|---|---:|");
        Line(text, $"| secret writes acknowledged (creates + updates with If-Match) | {figures.Creates + figures.Updates:N0} ({figures.Creates:N0} + {figures.Updates:N0}) |");
        Line(text, $"| secret writes refused as unavailable, or unanswered | {figures.WriteFailures:N0} |");
        Line(text, $"| writes answered 409/412 (a rewrap moved the record, or an unanswered write had landed) | {figures.Conflicts:N0} |");
        Line(text, $"| secret reads checked against the acknowledged writes | {figures.Reads:N0} (refused or unanswered: {figures.ReadFailures:N0}) |");
        Line(text, $"| **acknowledged writes lost, or refused writes found applied** | **{figures.Lost.Count:N0}** |");
        Line(text, $"| secrets read back at the end | {load.SecretsVerified:N0} |");
        Line(text, $"| **secrets and KMS ciphertexts undecryptable** | **{figures.Undecryptable.Count:N0}** |");
        Line(text, $"| KMS calls (Encrypt and Decrypt) | {figures.KmsCalls:N0} ({string.Join(", ", figures.KmsCodes.OrderByDescending(c => c.Value).Select(c => $"{c.Key} {c.Value:N0}"))}) |");
        Line(text, $"| KMS answers slower than {SoakFigures.KubeApiServerDeadline.TotalSeconds:0} s | {figures.KmsSlow:N0} (slowest {Seconds(figures.SlowestKmsAnswer)}) |");
        Line(text, $"| KMS ciphertexts decrypted again at the end | {load.CiphertextsVerified:N0} |");
        Line(text, $"| trousseaud processes | {system.Generations} ({system.InjectedKills} killed by the fault script) |");
        Line(text, $"| **trousseaud exits not injected** | **{system.UnexpectedExits.Count}** |");
        Line(text, $"| **final check timed out before checking everything** | **{(load.FinalCheckTimeout is null ? 0 : 1)}** |");
        Line(text);
        List(text, "Unexpected answers (count, kind: one example)", figures.UnexpectedAnswers.OrderByDescending(a => a.Value.Count).Select(a => $"{a.Value.Count:N0} × {a.Key}: {a.Value.Example}"));
        List(text, "Lost writes, or refused writes found applied (first examples)", figures.Lost.Examples);
        List(text, "Undecryptable (first examples)", figures.Undecryptable.Examples);
        List(text, "Unexpected exits", system.UnexpectedExits);
        List(text, "Final check timeout", load.FinalCheckTimeout is { } timeout ? [timeout] : []);
        Line(text, $"## Timeline");
        Line(text);
        Line(text, $"| At | Fault | Recovered after | Failed calls | Note |");
        Line(text, $"|---:|---|---:|---:|---|");
        foreach (var fault in faults)
        {
            Line(text, $"| {fault.At.TotalSeconds:0.0} s | {fault.Fault} | {Seconds(fault.Recovery)} | {fault.FailedCalls:N0} | {fault.Note} |");
        }

        return text.ToString();
    }

    private static TimeSpan? Median(List<TimeSpan> sorted) =>
        sorted.Count == 0 ? null : sorted.Count % 2 == 1 ? sorted[sorted.Count / 2] : (sorted[(sorted.Count / 2) - 1] + sorted[sorted.Count / 2]) / 2;

    private static string Seconds(TimeSpan? time) => time is { } t ? string.Create(CultureInfo.InvariantCulture, $"{t.TotalSeconds:0.00} s") : "not recovered";

    private static void List(StringBuilder text, string title, IEnumerable<string> items)
    {
        var all = items.ToList();
        Line(text, $"{title}: {(all.Count == 0 ? "none." : "")}");
        foreach (var item in all)
        {
            Line(text, $"- {item}");
        }

        Line(text);
    }

    private static void Line(StringBuilder text, FormattableString? line = null) =>
        text.Append(line is null ? "" : line.ToString(CultureInfo.InvariantCulture)).Append('\n');
}
