using System.Buffers.Binary;
using System.Net.Sockets;
using System.Text;

namespace Trousseau.Tests.Integration.Kms;

/// <summary>
/// One HTTP/2 connection to a Unix socket, written frame by frame, for what no HTTP client sends: a connection left
/// idle or stalled mid-frame, streams whose answers are never read, streams reset as soon as they open. Header blocks
/// are HPACK literals without indexing or Huffman coding (RFC 7541 §6.2.2), which every decoder accepts; the frames
/// read back are told apart by type and flags only.
/// </summary>
internal sealed class RawHttp2Connection : IDisposable
{
    public const byte Data = 0x0;
    public const byte Headers = 0x1;
    public const byte RstStream = 0x3;
    public const byte Settings = 0x4;
    public const byte GoAway = 0x7;
    public const byte EndStream = 0x1;
    public const byte EndHeaders = 0x4;
    public const ushort SettingsInitialWindowSize = 0x4;

    private static readonly byte[] Preface = "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"u8.ToArray();

    private readonly NetworkStream _stream;

    private RawHttp2Connection(Socket socket) => _stream = new NetworkStream(socket, ownsSocket: true);

    /// <summary>Connects to <paramref name="path"/> and sends nothing.</summary>
    public static async Task<RawHttp2Connection> ConnectAsync(string path)
    {
        var socket = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        await socket.ConnectAsync(new UnixDomainSocketEndPoint(path));
        return new RawHttp2Connection(socket);
    }

    /// <summary>The client preface and a SETTINGS frame with <paramref name="settings"/>.</summary>
    public Task SendPrefaceAsync(params (ushort Id, uint Value)[] settings)
    {
        var payload = new byte[6 * settings.Length];
        for (var i = 0; i < settings.Length; i++)
        {
            BinaryPrimitives.WriteUInt16BigEndian(payload.AsSpan(6 * i), settings[i].Id);
            BinaryPrimitives.WriteUInt32BigEndian(payload.AsSpan((6 * i) + 2), settings[i].Value);
        }

        return SendAsync([.. Preface, .. FrameOf(Settings, 0, 0, payload)]);
    }

    /// <summary>Raw bytes, as given: a frame cut short, for one.</summary>
    public async Task SendAsync(byte[] bytes) => await _stream.WriteAsync(bytes);

    /// <summary>A gRPC POST to <paramref name="path"/> on <paramref name="streamId"/>, with <paramref name="extra"/> headers, and its message.</summary>
    public Task SendCallAsync(int streamId, string path, byte[] message, params (string Name, string Value)[] extra) =>
        SendAsync([.. FrameOf(Headers, EndHeaders, streamId, RequestHeaders(path, extra)), .. FrameOf(Data, EndStream, streamId, message)]);

    /// <summary>The header block of a gRPC POST to <paramref name="path"/>.</summary>
    public static byte[] RequestHeaders(string path, params (string Name, string Value)[] extra)
    {
        var block = new List<byte>();
        foreach (var (name, value) in (ReadOnlySpan<(string, string)>)[(":method", "POST"), (":scheme", "http"), (":authority", "localhost"), (":path", path), ("content-type", "application/grpc"), ("te", "trailers"), .. extra])
        {
            block.Add(0x00);
            Literal(block, name);
            Literal(block, value);
        }

        return [.. block];
    }

    /// <summary>One length-prefixed gRPC message, exactly as given (the compressed flag set when asked).</summary>
    public static byte[] GrpcMessage(byte[] message, bool compressed = false)
    {
        var framed = new byte[5 + message.Length];
        framed[0] = compressed ? (byte)1 : (byte)0;
        BinaryPrimitives.WriteUInt32BigEndian(framed.AsSpan(1), (uint)message.Length);
        message.CopyTo(framed, 5);
        return framed;
    }

    /// <summary>One frame: its 9-byte header and <paramref name="payload"/>.</summary>
    public static byte[] FrameOf(byte type, byte flags, int streamId, byte[] payload)
    {
        var frame = new byte[9 + payload.Length];
        frame[0] = (byte)(payload.Length >> 16);
        frame[1] = (byte)(payload.Length >> 8);
        frame[2] = (byte)payload.Length;
        frame[3] = type;
        frame[4] = flags;
        BinaryPrimitives.WriteInt32BigEndian(frame.AsSpan(5), streamId);
        payload.CopyTo(frame, 9);
        return frame;
    }

    /// <summary>An RST_STREAM frame with CANCEL (0x8).</summary>
    public static byte[] Cancel(int streamId)
    {
        var code = new byte[4];
        BinaryPrimitives.WriteUInt32BigEndian(code, 0x8);
        return FrameOf(RstStream, 0, streamId, code);
    }

    /// <summary>The next frame the server sends, or <see langword="null"/> once it has closed the connection.</summary>
    public async Task<(byte Type, byte Flags, int StreamId, byte[] Payload)?> ReadFrameAsync(CancellationToken cancellationToken = default)
    {
        var header = new byte[9];
        try
        {
            if (!await ReadExactlyAsync(header, cancellationToken))
            {
                return null;
            }

            var payload = new byte[(header[0] << 16) | (header[1] << 8) | header[2]];
            if (!await ReadExactlyAsync(payload, cancellationToken))
            {
                return null;
            }

            return (header[3], header[4], BinaryPrimitives.ReadInt32BigEndian(header.AsSpan(5)) & int.MaxValue, payload);
        }
        catch (IOException)
        {
            return null;
        }
    }

    /// <summary>Reads frames until the server closes the connection, and returns its GOAWAY error code (or <see langword="null"/> if it sent none).</summary>
    public async Task<uint?> ReadUntilClosedAsync(CancellationToken cancellationToken = default)
    {
        uint? goAway = null;
        while (await ReadFrameAsync(cancellationToken) is { } frame)
        {
            if (frame.Type == GoAway)
            {
                goAway = BinaryPrimitives.ReadUInt32BigEndian(frame.Payload.AsSpan(4));
            }
        }

        return goAway;
    }

    public void Dispose() => _stream.Dispose();

    private async Task<bool> ReadExactlyAsync(byte[] buffer, CancellationToken cancellationToken)
    {
        var read = await _stream.ReadAtLeastAsync(buffer, buffer.Length, throwOnEndOfStream: false, cancellationToken);
        return read == buffer.Length;
    }

    private static void Literal(List<byte> block, string text)
    {
        var bytes = Encoding.ASCII.GetBytes(text);
        Integer(block, bytes.Length);
        block.AddRange(bytes);
    }

    /// <summary>An HPACK integer with a 7-bit prefix and the Huffman bit clear (RFC 7541 §5.1).</summary>
    private static void Integer(List<byte> block, int value)
    {
        if (value < 127)
        {
            block.Add((byte)value);
            return;
        }

        block.Add(127);
        for (value -= 127; value >= 128; value >>= 7)
        {
            block.Add((byte)((value & 0x7F) | 0x80));
        }

        block.Add((byte)value);
    }
}
