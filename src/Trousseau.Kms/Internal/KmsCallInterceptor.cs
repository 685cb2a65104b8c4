using System.Diagnostics;
using System.Runtime.ExceptionServices;
using Grpc.Core;
using Grpc.Core.Interceptors;
using Microsoft.Extensions.Logging;

namespace Trousseau.Kms.Internal;

/// <summary>
/// Around every KMS call: its span and metrics, its audit record, and the status the caller gets for each error. Bad
/// input and ciphertext not made here → INVALID_ARGUMENT; provider down, slow or rate-limited → UNAVAILABLE; provider
/// refusing Trousseau → PERMISSION_DENIED; the call's deadline passed → DEADLINE_EXCEEDED; anything else → INTERNAL,
/// logged with its exception. Messages come from Trousseau's own exceptions, which never carry key material. An
/// Encrypt or Decrypt is refused (UNAVAILABLE) before it runs while the audit trail cannot record it, and its answer
/// waits for its record: it is replaced by UNAVAILABLE when the record cannot be written.
/// </summary>
internal sealed class KmsCallInterceptor(KmsTelemetry telemetry, KmsCallAudit audit, ILogger<KmsCallInterceptor> logger, TimeProvider time) : Interceptor
{
    public override Task<TResponse> UnaryServerHandler<TRequest, TResponse>(
        TRequest request,
        ServerCallContext context,
        UnaryServerMethod<TRequest, TResponse> continuation)
    {
        var started = Stopwatch.GetTimestamp();
        var span = telemetry.Start(context.Method);
        var action = audit.ActionOf(context.Method);
        Task<TResponse> call;
        if (action is not null && !audit.CanRecord())
        {
            call = Task.FromException<TResponse>(new RpcException(KmsCallAudit.Unavailable));
        }
        else
        {
            try
            {
                call = continuation(request, context);
            }
            catch (Exception e) when (e is not OutOfMemoryException)
            {
                call = Task.FromException<TResponse>(e);
            }
        }

        // The local key ring and a warm cache answer at once, and a trail with no write under way records at once;
        // such a call needs no state machine of its own.
        if (call.IsCompletedSuccessfully)
        {
            var recorded = action is null ? ValueTask.FromResult(true) : audit.TryRecordAsync(context, action, StatusCode.OK, span);
            if (!recorded.IsCompletedSuccessfully)
            {
                return AnswerWhenRecordedAsync(call, recorded, context, span, started);
            }

            var status = recorded.Result ? StatusCode.OK : StatusCode.Unavailable;
            telemetry.Record(span, context.Method, status, started);
            span?.Dispose();
            return status == StatusCode.OK ? call : Task.FromException<TResponse>(new RpcException(KmsCallAudit.Unavailable));
        }

        return CompleteAsync(call, context, action, span, started);
    }

    private async Task<TResponse> AnswerWhenRecordedAsync<TResponse>(Task<TResponse> call, ValueTask<bool> recorded, ServerCallContext context, Activity? span, long started)
    {
        using (span)
        {
            var status = await recorded.ConfigureAwait(false) ? StatusCode.OK : StatusCode.Unavailable;
            telemetry.Record(span, context.Method, status, started);
            return status == StatusCode.OK ? await call.ConfigureAwait(false) : throw new RpcException(KmsCallAudit.Unavailable);
        }
    }

    private async Task<TResponse> CompleteAsync<TResponse>(Task<TResponse> call, ServerCallContext context, string? action, Activity? span, long started)
    {
        using (span)
        {
            Exception? failure = null;
            var status = StatusCode.OK;
            TResponse? response = default;
            try
            {
                response = await call.ConfigureAwait(false);
            }
            catch (RpcException e)
            {
                (failure, status) = (e, e.StatusCode);
            }
            catch (Exception e) when (e is not OutOfMemoryException)
            {
                var mapped = Map(e, context);
                if (mapped.StatusCode == StatusCode.Internal)
                {
                    Log.UnexpectedCallFailure(logger, context.Method, e);
                }

                (failure, status) = (new RpcException(mapped), mapped.StatusCode);
            }

            if (action is not null && !await audit.TryRecordAsync(context, action, status, span).ConfigureAwait(false))
            {
                (failure, status) = (new RpcException(KmsCallAudit.Unavailable), StatusCode.Unavailable);
            }

            telemetry.Record(span, context.Method, status, started);
            if (failure is not null)
            {
                ExceptionDispatchInfo.Throw(failure);
            }

            return response!;
        }
    }

    private Status Map(Exception exception, ServerCallContext context) => exception switch
    {
        InvalidCiphertextException or InvalidInputException => new Status(StatusCode.InvalidArgument, exception.Message),
        DependencyUnavailableException => new Status(StatusCode.Unavailable, exception.Message),
        AuditUnavailableException => KmsCallAudit.Unavailable,
        AccessForbiddenException => new Status(StatusCode.PermissionDenied, exception.Message),
        OperationCanceledException when context.CancellationToken.IsCancellationRequested => context.Deadline <= time.GetUtcNow().UtcDateTime
            ? new Status(StatusCode.DeadlineExceeded, "The call's deadline passed.")
            : new Status(StatusCode.Cancelled, "The caller cancelled the call."),
        _ => new Status(StatusCode.Internal, "The plugin failed unexpectedly; see its log."),
    };
}
