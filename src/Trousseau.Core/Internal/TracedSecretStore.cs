using System.Diagnostics;

namespace Trousseau.Internal;

/// <summary>
/// Gives each call to the store a client span, <c>trousseau.store.{operation}</c>, under the operation that made it,
/// and a <c>db.client.operation.duration</c> measurement, both tagged <c>db.system.name</c> (the store's name),
/// <c>db.operation.name</c> and, on failure, <c>error.type</c>. Keys (secret names) and values are never tags.
/// </summary>
internal sealed class TracedSecretStore(ISecretStore inner, TrousseauInstrumentation instrumentation) : ISecretStore
{
    public string Name => inner.Name;

    public ValueTask<StoreEntry?> GetAsync(string key, CancellationToken cancellationToken = default) =>
        ObserveAsync("get", (key, cancellationToken), static (store, call) => store.GetAsync(call.key, call.cancellationToken));

    public ValueTask<long> CreateAsync(string key, ReadOnlyMemory<byte> value, CancellationToken cancellationToken = default) =>
        ObserveAsync("create", (key, value, cancellationToken), static (store, call) => store.CreateAsync(call.key, call.value, call.cancellationToken));

    public ValueTask<long> UpdateAsync(string key, ReadOnlyMemory<byte> value, long expectedRevision, CancellationToken cancellationToken = default) =>
        ObserveAsync(
            "update",
            (key, value, expectedRevision, cancellationToken),
            static (store, call) => store.UpdateAsync(call.key, call.value, call.expectedRevision, call.cancellationToken));

    public async ValueTask DeleteAsync(string key, long? expectedRevision = null, CancellationToken cancellationToken = default) =>
        await ObserveAsync("delete", (key, expectedRevision, cancellationToken), static async (store, call) =>
        {
            await store.DeleteAsync(call.key, call.expectedRevision, call.cancellationToken).ConfigureAwait(false);
            return true;
        }).ConfigureAwait(false);

    public ValueTask<StorePage> ListAsync(string prefix, string? startAfter, int limit, CancellationToken cancellationToken = default) =>
        ObserveAsync(
            "list",
            (prefix, startAfter, limit, cancellationToken),
            static (store, call) => store.ListAsync(call.prefix, call.startAfter, call.limit, call.cancellationToken));

    public ValueTask<DependencyHealth> CheckHealthAsync(CancellationToken cancellationToken = default) => inner.CheckHealthAsync(cancellationToken);

    /// <summary>Makes one store call inside its span, and records its duration and outcome.</summary>
    private async ValueTask<T> ObserveAsync<TArguments, T>(string operation, TArguments arguments, Func<ISecretStore, TArguments, ValueTask<T>> call)
    {
        using var span = instrumentation.StartStore(operation, inner.Name);
        var started = Stopwatch.GetTimestamp();
        try
        {
            var result = await call(inner, arguments).ConfigureAwait(false);
            Record(operation, started, errorType: null);
            return result;
        }
        catch (Exception e)
        {
            var errorType = TrousseauInstrumentation.ErrorType(e);
            Record(operation, started, errorType);
            TrousseauTelemetry.Fail(span, errorType);
            throw;
        }
    }

    private void Record(string operation, long started, string? errorType)
    {
        var duration = instrumentation.StoreCallDuration;
        if (!duration.Enabled)
        {
            return;
        }

        var tags = new TagList { { TrousseauTelemetry.DbSystem, inner.Name }, { TrousseauTelemetry.DbOperation, operation } };
        if (errorType is not null)
        {
            tags.Add(TrousseauTelemetry.ErrorType, errorType);
        }

        duration.Record(Stopwatch.GetElapsedTime(started).TotalSeconds, tags);
    }
}
