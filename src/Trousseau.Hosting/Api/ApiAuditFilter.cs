using System.Diagnostics;
using System.Net;
using Microsoft.AspNetCore.Http;

namespace Trousseau.Hosting.Api;

/// <summary>
/// The outermost filter of the API: writes each call's <see cref="AuditRecord"/> before its answer goes out, from the
/// request's <see cref="ApiCall"/> and the status of the final result (401 and 403 from authentication, problems that
/// <see cref="ApiExceptionFilter"/> mapped, 500 for an exception it did not). A call is refused with 503
/// <c>audit-unavailable</c> before it acts while the trail cannot record it, and its answer is replaced by that 503
/// when its record cannot be written.
/// </summary>
internal sealed class ApiAuditFilter(IAuditTrail trail) : IEndpointFilter
{
    public async ValueTask<object?> InvokeAsync(EndpointFilterInvocationContext context, EndpointFilterDelegate next)
    {
        var http = context.HttpContext;
        if (!trail.CanRecord())
        {
            var refused = ApiProblems.AuditUnavailable();
            await TryAppendAsync(http, StatusCodes.Status503ServiceUnavailable);
            return refused;
        }

        object? result;
        try
        {
            result = await next(context);
        }
        catch (Exception e)
        {
            // An exception no filter mapped: the exception handler answers 500, or nobody when the caller went away.
            await TryAppendAsync(http, ApiProblems.IsClientGone(e, http) ? null : StatusCodes.Status500InternalServerError);
            throw;
        }

        try
        {
            await trail.AppendAsync(Record(http, StatusOf(result, http.Response)));
        }
        catch (AuditUnavailableException)
        {
            return ApiProblems.AuditUnavailable();
        }

        return result;
    }

    /// <summary>The status <paramref name="result"/> answers with: its own, else the one set on the response (200 unless changed).</summary>
    private static int StatusOf(object? result, HttpResponse response) => result switch
    {
        IStatusCodeHttpResult { StatusCode: { } status } => status,
        _ => response.StatusCode,
    };

    /// <summary>Records a call whose answer is an error whatever happens, so that a record that cannot be written changes nothing.</summary>
    private async ValueTask TryAppendAsync(HttpContext http, int? status)
    {
        try
        {
            await trail.AppendAsync(Record(http, status));
        }
        catch (AuditUnavailableException)
        {
            // The caller gets an error either way; the trail's log says why it could not be written.
        }
    }

    private static AuditRecord Record(HttpContext http, int? status)
    {
        var call = ApiCall.Of(http);
        var connection = http.Connection;
        return new AuditRecord
        {
            Source = AuditRecord.ApiSource,
            RequestId = http.TraceIdentifier,
            TraceId = Activity.Current is { IdFormat: ActivityIdFormat.W3C } activity ? activity.TraceId.ToHexString() : null,
            Identity = call.Identity,
            Action = call.Action,
            SecretName = call.ShownSecretName,
            Revision = call.Revision,
            Outcome = status is { } code ? AuditOutcome.ForHttpStatus(code) : AuditOutcome.Cancelled,
            HttpStatus = status,
            RemoteAddress = connection.RemoteIpAddress is { } address
                ? new IPEndPoint(address, connection.RemotePort).ToString()
                : null,
        };
    }
}
