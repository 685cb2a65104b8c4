using System.Runtime.InteropServices;
using System.Text;

namespace Trousseau.Cli;

/// <summary>
/// clectl's standard output, whose every write failure is a <see cref="StandardOutputException"/>: a closed descriptor
/// (<c>&gt;&amp;-</c>), a full disk (<c>&gt; /dev/full</c>), and on Linux a pipe whose reader went away, which
/// <see cref="Console.Out"/> drops without a word, so that clectl would go on asking for pages nobody reads.
/// </summary>
internal static class StandardOutput
{
    /// <summary>Standard output as text, UTF-8 without a byte order mark, each write passed on at once.</summary>
    public static TextWriter Writer() => new StreamWriter(Open(), new UTF8Encoding(false)) { AutoFlush = true };

    /// <summary>Standard output as bytes, unbuffered.</summary>
    public static Stream Open() => OperatingSystem.IsLinux() ? new DescriptorStream(ClosedAtStart) : new ConsoleStream(Console.OpenStandardOutput());

    // Told before anything else opens a file, which would take descriptor 1 when it is closed: on a terminal, .NET's
    // set-up of Console.In does, and what clectl printed would go there.
    private static readonly bool ClosedAtStart = OperatingSystem.IsLinux() && !File.Exists("/proc/self/fd/1");

    /// <summary>
    /// Writes to descriptor 1 with write(2), waiting with poll(2) when it was left non-blocking; when it was
    /// <paramref name="closed"/> at start, every write fails as write(2) fails on a closed descriptor.
    /// </summary>
    private sealed class DescriptorStream(bool closed) : OutputStream
    {
        private const int Descriptor = 1;
        private const short PollOut = 4; // POLLOUT

        public override void Write(ReadOnlySpan<byte> buffer)
        {
            if (closed)
            {
                throw Failure(Libc.BadDescriptor);
            }

            var pending = buffer.ToArray();
            var offset = 0;
            while (offset < pending.Length)
            {
                var written = Send(Descriptor, pending, offset, pending.Length - offset);
                if (written >= 0)
                {
                    offset += (int)written;
                    continue;
                }

                var error = Marshal.GetLastPInvokeError();
                if (error == Libc.WouldBlock)
                {
                    var wait = new PollDescriptor { Descriptor = Descriptor, Events = PollOut };
                    _ = Poll(ref wait, 1, -1);
                }
                else if (error != Libc.Interrupted)
                {
                    throw Failure(error);
                }
            }
        }

        private static StandardOutputException Failure(int error) =>
            new(Marshal.GetPInvokeErrorMessage(error) + (error == Libc.BadDescriptor ? " (it is closed)" : ""), pipeClosed: error == Libc.BrokenPipe);

        [DllImport("libc", EntryPoint = "poll", SetLastError = true)]
        [DefaultDllImportSearchPaths(DllImportSearchPath.SafeDirectories)]
        private static extern int Poll(ref PollDescriptor descriptors, nuint count, int timeout);

        private static nint Send(int descriptor, byte[] buffer, int offset, int count) => Libc.Write(descriptor, ref buffer[offset], (nuint)count);

        [StructLayout(LayoutKind.Sequential)]
        private struct PollDescriptor
        {
            public int Descriptor;
            public short Events;
            public short Returned;
        }
    }

    /// <summary>Elsewhere than on Linux: the console's stream, its failures made <see cref="StandardOutputException"/>s.</summary>
    private sealed class ConsoleStream(Stream console) : OutputStream
    {
        public override void Write(ReadOnlySpan<byte> buffer)
        {
            try
            {
                console.Write(buffer);
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                throw new StandardOutputException(e.Message.TrimEnd('.'), pipeClosed: false);
            }
        }

        protected override void Dispose(bool disposing)
        {
            if (disposing)
            {
                console.Dispose();
            }

            base.Dispose(disposing);
        }
    }

    /// <summary>A stream that is written only, unbuffered.</summary>
    private abstract class OutputStream : Stream
    {
        public override bool CanRead => false;

        public override bool CanSeek => false;

        public override bool CanWrite => true;

        public override long Length => throw new NotSupportedException();

        public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }

        public abstract override void Write(ReadOnlySpan<byte> buffer);

        public override void Write(byte[] buffer, int offset, int count) => Write(buffer.AsSpan(offset, count));

        public override Task WriteAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken)
        {
            Write(buffer.AsSpan(offset, count));
            return Task.CompletedTask;
        }

        public override ValueTask WriteAsync(ReadOnlyMemory<byte> buffer, CancellationToken cancellationToken = default)
        {
            Write(buffer.Span);
            return ValueTask.CompletedTask;
        }

        public override void Flush()
        {
        }

        public override int Read(byte[] buffer, int offset, int count) => throw new NotSupportedException();

        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();

        public override void SetLength(long value) => throw new NotSupportedException();
    }
}

/// <summary>Standard output refused a write; <see cref="PipeClosed"/> when it is a pipe whose reader went away.</summary>
internal sealed class StandardOutputException(string reason, bool pipeClosed) : IOException(
    $"Cannot write to standard output: {reason}. "
    + "Nothing more was printed; a change the command made (create, update, delete, rotate) stands.")
{
    /// <summary>Whether standard output is a pipe nobody reads any more (EPIPE), which ends clectl quietly, as it does Unix tools.</summary>
    public bool PipeClosed { get; } = pipeClosed;

    /// <summary>Why standard output refused the write, as write(2) tells it (<c>No space left on device</c>).</summary>
    public string Reason { get; } = reason;
}
