using System.Diagnostics;
using System.Diagnostics.Metrics;

namespace Trousseau.Internal;

/// <summary>The library's traces and metrics, under <see cref="TrousseauDiagnostics"/>' names. Tags never carry secrets.</summary>
internal static class TrousseauTelemetry
{
    public static readonly ActivitySource Source = new(TrousseauDiagnostics.ActivitySourceName);

    public static readonly Meter Meter = new(TrousseauDiagnostics.MeterName);

    public static readonly Histogram<double> OperationDuration = Meter.CreateHistogram<double>(
        "trousseau.operation.duration", unit: "s", description: "Duration of Trousseau operations, by operation, provider, store and outcome.");

    public static readonly Counter<long> DataKeyCacheHits = Meter.CreateCounter<long>(
        "trousseau.datakey.cache.hits", unit: "{operation}", description: "Encryptions and decryptions served by a cached data key.");

    public static readonly Counter<long> DataKeyCacheMisses = Meter.CreateCounter<long>(
        "trousseau.datakey.cache.misses", unit: "{operation}", description: "Encryptions and decryptions that needed the key provider.");

    /// <summary>
    /// Starts a client span for one call to a dependency, <c>trousseau.{kind}.{operation}</c>, tagged with the
    /// backend's name (<c>trousseau.{kind}</c>); <see langword="null"/> when nobody listens.
    /// </summary>
    public static Activity? StartDependency(string kind, string operation, string backend)
    {
        if (!Source.HasListeners())
        {
            return null;
        }

        var activity = Source.StartActivity($"trousseau.{kind}.{operation}", ActivityKind.Client);
        activity?.SetTag("trousseau." + kind, backend);
        return activity;
    }

    /// <summary>Marks a span failed with the error's kind (see <see cref="Outcome"/>), never its message.</summary>
    public static void Fail(Activity? activity, Exception exception)
    {
        if (activity is not null)
        {
            var outcome = Outcome(exception);
            activity.SetTag("trousseau.outcome", outcome);
            activity.SetStatus(ActivityStatusCode.Error, outcome);
        }
    }

    /// <summary>Awaits a dependency call, marking <paramref name="span"/> failed if it throws.</summary>
    public static async ValueTask<T> ObserveAsync<T>(Activity? span, ValueTask<T> call)
    {
        try
        {
            return await call.ConfigureAwait(false);
        }
        catch (Exception e)
        {
            Fail(span, e);
            throw;
        }
    }

    /// <summary>Awaits a dependency call that returns nothing, marking <paramref name="span"/> failed if it throws.</summary>
    public static async ValueTask ObserveAsync(Activity? span, ValueTask call)
    {
        try
        {
            await call.ConfigureAwait(false);
        }
        catch (Exception e)
        {
            Fail(span, e);
            throw;
        }
    }

    /// <summary>The outcome tag of a failure: the error's kind, never its message.</summary>
    public static string Outcome(Exception exception) => exception switch
    {
        SecretNotFoundException => "not_found",
        SecretConflictException => "conflict",
        DependencyUnavailableException => "unavailable",
        InvalidCiphertextException => "invalid_ciphertext",
        InvalidInputException => "invalid_input",
        AccessForbiddenException => "forbidden",
        OperationCanceledException => "cancelled",
        _ => "error",
    };
}
