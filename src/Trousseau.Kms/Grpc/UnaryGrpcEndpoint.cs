using System.Buffers;
using System.Buffers.Binary;
using System.IO.Pipelines;
using Google.Protobuf;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Logging;

namespace Trousseau.Kms.Grpc;

/// <summary>One unary method: parses its request message, and computes its response.</summary>
internal sealed record UnaryMethod(MessageParser Parser, Func<IMessage, CancellationToken, ValueTask<IMessage>> Handler);

/// <summary>
/// Serves unary gRPC calls over HTTP/2, as the gRPC over HTTP/2 protocol specifies: POST to
/// <c>/{package.Service}/{Method}</c> with <c>content-type: application/grpc</c>, one length-prefixed message in,
/// one out, and the status in the <c>grpc-status</c> / <c>grpc-message</c> trailers. Small on purpose: no streaming,
/// no compression (a compressed frame is refused), a bounded message size, and the caller's <c>grpc-timeout</c>.
/// </summary>
internal sealed partial class UnaryGrpcEndpoint(IReadOnlyDictionary<string, UnaryMethod> methods, int maxMessageBytes, ILogger logger)
{
    private const int FrameHeaderSize = 5;

    public async Task HandleAsync(HttpContext context)
    {
        var response = context.Response;
        if (!HttpMethods.IsPost(context.Request.Method) || !IsGrpc(context.Request.ContentType))
        {
            // Not a gRPC call at all: plain HTTP answers, as the protocol asks.
            response.StatusCode = StatusCodes.Status415UnsupportedMediaType;
            return;
        }

        var started = System.Diagnostics.Stopwatch.GetTimestamp();
        using var span = KmsTelemetry.Start(context.Request.Path.Value);
        response.ContentType = "application/grpc";
        response.Headers["grpc-accept-encoding"] = "identity";
        GrpcStatusCode status;
        string? message = null;
        try
        {
            if (!methods.TryGetValue(context.Request.Path.Value ?? "", out var method))
            {
                throw new GrpcException(GrpcStatusCode.Unimplemented, $"Method {context.Request.Path.Value} is not implemented.");
            }

            using var deadline = StartDeadline(context);
            var token = deadline?.Token ?? context.RequestAborted;
            try
            {
                var request = await ReadMessageAsync(context.Request.BodyReader, method.Parser, token).ConfigureAwait(false);
                var reply = await method.Handler(request, token).ConfigureAwait(false);
                await WriteMessageAsync(response.BodyWriter, reply, token).ConfigureAwait(false);
                status = GrpcStatusCode.Ok;
            }
            catch (OperationCanceledException) when (deadline?.IsCancellationRequested == true && !context.RequestAborted.IsCancellationRequested)
            {
                throw new GrpcException(GrpcStatusCode.DeadlineExceeded, "The call's deadline passed.");
            }
        }
        catch (GrpcException e)
        {
            (status, message) = (e.Status, e.Message);
        }
        catch (OperationCanceledException) when (context.RequestAborted.IsCancellationRequested)
        {
            return;
        }
        catch (Exception e) when (e is not OutOfMemoryException)
        {
            LogUnexpected(logger, context.Request.Path.Value, e.GetType().Name);
            (status, message) = (GrpcStatusCode.Internal, "The plugin failed unexpectedly; see its log.");
        }

        KmsTelemetry.Record(span, context.Request.Path.Value, status, started);
        response.AppendTrailer("grpc-status", ((int)status).ToString(System.Globalization.CultureInfo.InvariantCulture));
        if (message is not null)
        {
            response.AppendTrailer("grpc-message", Uri.EscapeDataString(message));
        }
    }

    private static bool IsGrpc(string? contentType) =>
        contentType is not null
        && contentType.StartsWith("application/grpc", StringComparison.OrdinalIgnoreCase)
        && (contentType.Length == 16 || contentType[16] is '+' or ';');

    private static CancellationTokenSource? StartDeadline(HttpContext context)
    {
        var header = context.Request.Headers["grpc-timeout"].ToString();
        if (header.Length == 0)
        {
            return null;
        }

        if (!GrpcTimeout.TryParse(header, out var timeout))
        {
            throw new GrpcException(GrpcStatusCode.InvalidArgument, "The grpc-timeout header is malformed.");
        }

        var source = CancellationTokenSource.CreateLinkedTokenSource(context.RequestAborted);
        source.CancelAfter(timeout);
        return source;
    }

    private async Task<IMessage> ReadMessageAsync(PipeReader reader, MessageParser parser, CancellationToken cancellationToken)
    {
        while (true)
        {
            var result = await reader.ReadAsync(cancellationToken).ConfigureAwait(false);
            var buffer = result.Buffer;
            if (TryReadFrame(buffer, out var payload, out var consumed))
            {
                if (!buffer.Slice(consumed).IsEmpty)
                {
                    reader.AdvanceTo(buffer.Start, buffer.End);
                    throw new GrpcException(GrpcStatusCode.Unimplemented, "A unary call carries exactly one request message.");
                }

                try
                {
                    return parser.ParseFrom(payload);
                }
                catch (InvalidProtocolBufferException)
                {
                    throw new GrpcException(GrpcStatusCode.Internal, "The request message is not valid protobuf.");
                }
                finally
                {
                    reader.AdvanceTo(buffer.End);
                }
            }

            if (result.IsCompleted)
            {
                reader.AdvanceTo(buffer.End);
                throw new GrpcException(GrpcStatusCode.Internal, buffer.IsEmpty ? "The request carries no message." : "The request message is truncated.");
            }

            reader.AdvanceTo(buffer.Start, buffer.End);
        }
    }

    private bool TryReadFrame(ReadOnlySequence<byte> buffer, out ReadOnlySequence<byte> payload, out SequencePosition end)
    {
        payload = default;
        end = buffer.Start;
        if (buffer.Length < FrameHeaderSize)
        {
            return false;
        }

        Span<byte> header = stackalloc byte[FrameHeaderSize];
        buffer.Slice(0, FrameHeaderSize).CopyTo(header);
        if (header[0] != 0)
        {
            throw header[0] == 1
                ? new GrpcException(GrpcStatusCode.Unimplemented, "Compressed messages are not supported; send them uncompressed (identity).")
                : new GrpcException(GrpcStatusCode.Internal, "The message frame's flag byte is invalid.");
        }

        var length = BinaryPrimitives.ReadUInt32BigEndian(header[1..]);
        if (length > (uint)maxMessageBytes)
        {
            throw new GrpcException(GrpcStatusCode.ResourceExhausted, $"The request message is {length} bytes; the limit is {maxMessageBytes}.");
        }

        if (buffer.Length - FrameHeaderSize < length)
        {
            return false;
        }

        payload = buffer.Slice(FrameHeaderSize, length);
        end = payload.End;
        return true;
    }

    private static async ValueTask WriteMessageAsync(PipeWriter writer, IMessage message, CancellationToken cancellationToken)
    {
        var size = message.CalculateSize();
        var span = writer.GetSpan(FrameHeaderSize + size);
        span[0] = 0;
        BinaryPrimitives.WriteUInt32BigEndian(span[1..], (uint)size);
        message.WriteTo(span.Slice(FrameHeaderSize, size));
        writer.Advance(FrameHeaderSize + size);
        await writer.FlushAsync(cancellationToken).ConfigureAwait(false);
    }

    [LoggerMessage(EventId = 4001, Level = LogLevel.Error, Message = "KMS call {Path} failed unexpectedly with {ExceptionType}.")]
    private static partial void LogUnexpected(ILogger logger, string? path, string exceptionType);
}
