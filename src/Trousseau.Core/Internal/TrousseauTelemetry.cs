using System.Diagnostics;

namespace Trousseau.Internal;

/// <summary>
/// Tag names and helpers for Core's spans and measurements on <see cref="TrousseauInstrumentation"/>. Names follow
/// the OpenTelemetry semantic conventions where one applies (<c>db.*</c>, <c>error.type</c>), else <c>trousseau.*</c>;
/// spans and metrics share them. Tags never carry secrets.
/// </summary>
internal static class TrousseauTelemetry
{
    public const string Operation = "trousseau.operation";
    public const string KeyProvider = "trousseau.key_provider";
    public const string Store = "trousseau.store";
    public const string ErrorType = "error.type";
    public const string DbSystem = "db.system.name";
    public const string DbOperation = "db.operation.name";

    /// <summary>
    /// Starts the client span of one key-provider call, <c>trousseau.keyprovider.{operation}</c>;
    /// <see langword="null"/> when nobody listens.
    /// </summary>
    public static Activity? StartKeyProvider(this TrousseauInstrumentation instrumentation, string operation, string provider)
    {
        var activity = instrumentation.ActivitySource.StartActivity("trousseau.keyprovider." + operation, ActivityKind.Client);
        activity?.SetTag(KeyProvider, provider);
        return activity;
    }

    /// <summary>
    /// Starts the client span of one store call, <c>trousseau.store.{operation}</c>, tagged as a database call;
    /// <see langword="null"/> when nobody listens.
    /// </summary>
    public static Activity? StartStore(this TrousseauInstrumentation instrumentation, string operation, string store)
    {
        var activity = instrumentation.ActivitySource.StartActivity("trousseau.store." + operation, ActivityKind.Client);
        if (activity is not null)
        {
            activity.SetTag(DbSystem, store);
            activity.SetTag(DbOperation, operation);
        }

        return activity;
    }

    /// <summary>Marks a span failed with the error's type (see <see cref="TrousseauInstrumentation.ErrorType"/>), never its message.</summary>
    public static void Fail(Activity? activity, string errorType)
    {
        if (activity is not null)
        {
            activity.SetTag(ErrorType, errorType);
            activity.SetStatus(ActivityStatusCode.Error, errorType);
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
            Fail(span, TrousseauInstrumentation.ErrorType(e));
            throw;
        }
    }
}
