using System.Diagnostics;

namespace Trousseau.Internal;

/// <summary>
/// Gives each call to the store a client span, <c>trousseau.store.{operation}</c>, under the operation that made it,
/// tagged <c>db.system.name</c> (the store's name) and <c>db.operation.name</c>. Keys (secret names) and values are
/// never tags.
/// </summary>
internal sealed class TracedSecretStore(ISecretStore inner, TrousseauInstrumentation instrumentation) : ISecretStore
{
    public string Name => inner.Name;

    public async ValueTask<StoreEntry?> GetAsync(string key, CancellationToken cancellationToken = default)
    {
        using var span = Start("get");
        return await TrousseauTelemetry.ObserveAsync(span, inner.GetAsync(key, cancellationToken)).ConfigureAwait(false);
    }

    public async ValueTask<long> CreateAsync(string key, ReadOnlyMemory<byte> value, CancellationToken cancellationToken = default)
    {
        using var span = Start("create");
        return await TrousseauTelemetry.ObserveAsync(span, inner.CreateAsync(key, value, cancellationToken)).ConfigureAwait(false);
    }

    public async ValueTask<long> UpdateAsync(string key, ReadOnlyMemory<byte> value, long expectedRevision, CancellationToken cancellationToken = default)
    {
        using var span = Start("update");
        return await TrousseauTelemetry.ObserveAsync(span, inner.UpdateAsync(key, value, expectedRevision, cancellationToken)).ConfigureAwait(false);
    }

    public async ValueTask DeleteAsync(string key, long? expectedRevision = null, CancellationToken cancellationToken = default)
    {
        using var span = Start("delete");
        await TrousseauTelemetry.ObserveAsync(span, inner.DeleteAsync(key, expectedRevision, cancellationToken)).ConfigureAwait(false);
    }

    public async ValueTask<StorePage> ListAsync(string prefix, string? startAfter, int limit, CancellationToken cancellationToken = default)
    {
        using var span = Start("list");
        return await TrousseauTelemetry.ObserveAsync(span, inner.ListAsync(prefix, startAfter, limit, cancellationToken)).ConfigureAwait(false);
    }

    public ValueTask<DependencyHealth> CheckHealthAsync(CancellationToken cancellationToken = default) => inner.CheckHealthAsync(cancellationToken);

    private Activity? Start(string operation) => instrumentation.StartStore(operation, inner.Name);
}
