namespace Trousseau.Tests.Integration.Infrastructure;

/// <summary>
/// What a running process holds, read from <c>/proc/PID</c>: its open file descriptors by kind (<c>socket</c>,
/// <c>pipe</c>, <c>anon_inode</c>, <c>file</c> for a path, <c>dev</c> for a device), its thread count and resident
/// memory, as <c>ls -l /proc/PID/fd</c> and <c>/proc/PID/status</c> show them.
/// </summary>
internal sealed record ProcessFigures(IReadOnlyDictionary<string, int> DescriptorKinds, int Threads, string ResidentMemory)
{
    /// <summary>How many file descriptors the process had open.</summary>
    public int Descriptors => DescriptorKinds.Values.Sum();

    /// <summary>Reads the figures of process <paramref name="pid"/>.</summary>
    public static ProcessFigures Of(int pid)
    {
        var kinds = new SortedDictionary<string, int>(StringComparer.Ordinal);
        foreach (var descriptor in new DirectoryInfo($"/proc/{pid}/fd").EnumerateFileSystemInfos())
        {
            string? target;
            try
            {
                target = descriptor.LinkTarget;
            }
            catch (IOException)
            {
                // Closed while listed.
                continue;
            }

            var kind = target switch
            {
                null => "unknown",
                _ when target.StartsWith("/dev/", StringComparison.Ordinal) => "dev",
                _ when target.StartsWith('/') => "file",
                _ => target.Split(':')[0],
            };
            kinds[kind] = kinds.GetValueOrDefault(kind) + 1;
        }

        var status = File.ReadAllLines($"/proc/{pid}/status");
        string Field(string name) => status.First(line => line.StartsWith(name + ":", StringComparison.Ordinal))[(name.Length + 1)..].Trim();
        return new ProcessFigures(kinds, int.Parse(Field("Threads"), System.Globalization.CultureInfo.InvariantCulture), Field("VmRSS"));
    }

    public override string ToString() =>
        $"{Descriptors} descriptors ({string.Join(", ", DescriptorKinds.Select(k => $"{k.Key} {k.Value}"))}), {Threads} threads, resident memory {ResidentMemory}";
}
