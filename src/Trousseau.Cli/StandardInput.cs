namespace Trousseau.Cli;

/// <summary>
/// clectl's standard input, read as empty (as <c>/dev/null</c> is) when clectl was started with it closed
/// (<c>&lt;&amp;-</c>). Descriptor 0 is then either still closed (the native build), and reading it fails, or the first
/// one the .NET runtime opened for itself (the build run by <c>dotnet</c>), a pipe whose write end it holds too, and
/// reading it would wait forever.
/// </summary>
internal static class StandardInput
{
    // Decided before anything reads standard input: reading it duplicates descriptor 0.
    private static readonly bool ClosedAtStart = OperatingSystem.IsLinux() && (!File.Exists("/proc/self/fd/0") || IsOwnPipe());

    /// <summary>
    /// Standard input as text. On a terminal, <see cref="Console.In"/> sets the terminal up through standard output, and
    /// fails when that is closed (<c>&gt;&amp;-</c>): standard input is then read as a plain stream, and the command's
    /// first write to standard output says it is closed.
    /// </summary>
    public static TextReader Reader()
    {
        if (ClosedAtStart)
        {
            return TextReader.Null;
        }

        try
        {
            return Console.In;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return new StreamReader(Console.OpenStandardInput());
        }
    }

    /// <summary>Standard input as bytes.</summary>
    public static Stream Open() => ClosedAtStart ? Stream.Null : Console.OpenStandardInput();

    /// <summary>
    /// Runs <paramref name="read"/>, a read of standard input, until it ends or Ctrl-C cancels
    /// <paramref name="cancellationToken"/>. Standard input is read with blocking read(2), which neither returns to the
    /// caller nor sees the token: the read runs on a thread of its own, and Ctrl-C stops the wait for it, the read left
    /// behind as clectl exits.
    /// </summary>
    public static Task<T> ReadAsync<T>(Func<CancellationToken, Task<T>> read, CancellationToken cancellationToken) =>
        Task.Run(() => read(cancellationToken), cancellationToken).WaitAsync(cancellationToken);

    /// <summary>
    /// Whether descriptor 0 is a pipe this process also holds open for writing (Linux, through <c>/proc/self</c>): no
    /// program that starts clectl hands it both ends of its input.
    /// </summary>
    private static bool IsOwnPipe()
    {
        try
        {
            var input = new FileInfo("/proc/self/fd/0").LinkTarget;
            if (input is null || !input.StartsWith("pipe:", StringComparison.Ordinal))
            {
                return false;
            }

            foreach (var descriptor in new DirectoryInfo("/proc/self/fd").EnumerateFileSystemInfos())
            {
                if (descriptor.Name != "0" && descriptor.LinkTarget == input && OpenForWriting(descriptor.Name))
                {
                    return true;
                }
            }

            return false;
        }
        catch (IOException)
        {
            return false;
        }
        catch (UnauthorizedAccessException)
        {
            return false;
        }
    }

    /// <summary>Whether descriptor <paramref name="name"/> is open write-only or read-write (its <c>flags</c> in <c>/proc/self/fdinfo</c>, in octal).</summary>
    private static bool OpenForWriting(string name)
    {
        foreach (var line in File.ReadLines("/proc/self/fdinfo/" + name))
        {
            if (line.StartsWith("flags:", StringComparison.Ordinal))
            {
                var flags = Convert.ToInt32(line["flags:".Length..].Trim(), 8);
                return (flags & 3) is 1 or 2;
            }
        }

        return false;
    }
}
