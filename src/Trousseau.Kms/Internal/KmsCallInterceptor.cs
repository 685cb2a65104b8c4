using System.Diagnostics;
using Grpc.Core;
using Grpc.Core.Interceptors;
using Microsoft.Extensions.Logging;

namespace Trousseau.Kms.Internal;

/// <summary>
/// Around every KMS call: its span and metrics, and the status the caller gets for each error. Bad input and
/// ciphertext not made here → INVALID_ARGUMENT; provider down, slow or rate-limited → UNAVAILABLE; provider refusing
/// Trousseau → PERMISSION_DENIED; the call's deadline passed → DEADLINE_EXCEEDED; anything else → INTERNAL, logged
/// with its exception. Messages come from Trousseau's own exceptions, which never carry key material.
/// </summary>
internal sealed class KmsCallInterceptor(KmsTelemetry telemetry, ILogger<KmsCallInterceptor> logger, TimeProvider time) : Interceptor
{
    public override Task<TResponse> UnaryServerHandler<TRequest, TResponse>(
        TRequest request,
        ServerCallContext context,
        UnaryServerMethod<TRequest, TResponse> continuation)
    {
        var started = Stopwatch.GetTimestamp();
        var span = telemetry.Start(context.Method);
        Task<TResponse> call;
        try
        {
            call = continuation(request, context);
        }
        catch (Exception e) when (e is not OutOfMemoryException)
        {
            call = Task.FromException<TResponse>(e);
        }

        // The local key ring and a warm cache answer at once; such a call needs no state machine of its own.
        if (call.IsCompletedSuccessfully)
        {
            telemetry.Record(span, context.Method, StatusCode.OK, started);
            span?.Dispose();
            return call;
        }

        return CompleteAsync(call, context, span, started);
    }

    private async Task<TResponse> CompleteAsync<TResponse>(Task<TResponse> call, ServerCallContext context, Activity? span, long started)
    {
        using (span)
        {
            var status = StatusCode.OK;
            try
            {
                return await call.ConfigureAwait(false);
            }
            catch (RpcException e)
            {
                status = e.StatusCode;
                throw;
            }
            catch (Exception e) when (e is not OutOfMemoryException)
            {
                var mapped = Map(e, context);
                if (mapped.StatusCode == StatusCode.Internal)
                {
                    Log.UnexpectedCallFailure(logger, context.Method, e);
                }

                status = mapped.StatusCode;
                throw new RpcException(mapped);
            }
            finally
            {
                telemetry.Record(span, context.Method, status, started);
            }
        }
    }

    private Status Map(Exception exception, ServerCallContext context) => exception switch
    {
        InvalidCiphertextException or InvalidInputException => new Status(StatusCode.InvalidArgument, exception.Message),
        DependencyUnavailableException => new Status(StatusCode.Unavailable, exception.Message),
        AccessForbiddenException => new Status(StatusCode.PermissionDenied, exception.Message),
        OperationCanceledException when context.CancellationToken.IsCancellationRequested => context.Deadline <= time.GetUtcNow().UtcDateTime
            ? new Status(StatusCode.DeadlineExceeded, "The call's deadline passed.")
            : new Status(StatusCode.Cancelled, "The caller cancelled the call."),
        _ => new Status(StatusCode.Internal, "The plugin failed unexpectedly; see its log."),
    };
}
