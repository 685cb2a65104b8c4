using System.Collections.Concurrent;
using System.Runtime.ExceptionServices;
using System.Runtime.InteropServices;

namespace Trousseau.Hosting.Audit;

/// <summary>
/// Audit lines written to standard output so that a failure shows, as it does on a file: a pipe whose reader went
/// away (EPIPE) or a closed descriptor fails the write, where <see cref="Console.Out"/> drops the lines without a word;
/// and a pipe that stays open but is not read fails the write after <see cref="Patience"/> instead of holding the trail,
/// and with it every call, until someone reads it. Such a late write goes on meanwhile and is not repeated: its lines
/// are in the trail once standard output takes them, and <see cref="TakeLate"/> says so, for the chain to go on from
/// them. Lines are written holding <see cref="Console.Out"/>'s lock, so that they stay whole beside the console log's.
/// </summary>
internal sealed class StandardOutputLines
{
    /// <summary>How long a write may wait for standard output to take it before it counts as failed.</summary>
    public static readonly TimeSpan Patience = TimeSpan.FromSeconds(5);

    private const int StandardOutputDescriptor = 1;

    private readonly BlockingCollection<(byte[] Lines, TaskCompletionSource Done)> _pending = [];
    private Thread? _writer;
    private Task? _late;
    private string? _lateLast;

    /// <summary>
    /// Settles a write that was late: the hash of its last line once standard output took it, <see langword="null"/>
    /// when there was none or it failed; an <see cref="IOException"/> while it is still under way.
    /// </summary>
    public string? TakeLate()
    {
        if (_late is not { } late)
        {
            return null;
        }

        if (!late.IsCompleted)
        {
            throw new IOException($"Standard output has not yet taken the audit lines written more than {Patience.TotalSeconds:0} s ago: nothing reads it.");
        }

        var last = late.IsCompletedSuccessfully ? _lateLast : null;
        (_late, _lateLast) = (null, null);
        return last;
    }

    /// <summary>
    /// Writes <paramref name="lines"/>, whose last line's hash is <paramref name="last"/>; an <see cref="IOException"/>
    /// when standard output refuses them or does not take them within <see cref="Patience"/>.
    /// </summary>
    public void Write(ReadOnlySpan<byte> lines, string last)
    {
        if (OperatingSystem.IsWindows())
        {
            Console.Out.Write(System.Text.Encoding.ASCII.GetString(lines));
            Console.Out.Flush();
            return;
        }

        // On a thread of its own, since a write to a pipe nobody reads never returns; not a pool thread, which a busy
        // pool could leave waiting past Patience while this one blocks for it.
        var done = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        _pending.Add((lines.ToArray(), done));
        EnsureWriter();
        try
        {
            if (done.Task.Wait(Patience))
            {
                return;
            }
        }
        catch (AggregateException e) when (e.InnerException is IOException failure)
        {
            ExceptionDispatchInfo.Throw(failure);
        }

        (_late, _lateLast) = (done.Task, last);
        throw new IOException($"Standard output did not take the audit lines within {Patience.TotalSeconds:0} s: nothing reads it.");
    }

    /// <summary>Starts the thread that writes the lines handed to it, one write after another, at the first write.</summary>
    private void EnsureWriter()
    {
        if (_writer is not null)
        {
            return;
        }

        _writer = new Thread(static state => ((StandardOutputLines)state!).WritePending())
        {
            IsBackground = true,
            Name = "Audit trail to standard output",
        };
        _writer.Start(this);
    }

    private void WritePending()
    {
        foreach (var (lines, done) in _pending.GetConsumingEnumerable())
        {
            try
            {
                WriteAll(lines);
                done.SetResult();
            }
            catch (IOException e)
            {
                done.SetException(e);
            }
        }
    }

    private static void WriteAll(byte[] bytes)
    {
        lock (Console.Out)
        {
            var offset = 0;
            while (offset < bytes.Length)
            {
                var written = Libc.Write(StandardOutputDescriptor, ref bytes[offset], (nuint)(bytes.Length - offset));
                if (written >= 0)
                {
                    offset += (int)written;
                    continue;
                }

                var error = Marshal.GetLastPInvokeError();
                if (error != Libc.Interrupted)
                {
                    throw new IOException($"Standard output cannot be written: {Marshal.GetPInvokeErrorMessage(error)}.");
                }
            }
        }
    }
}
