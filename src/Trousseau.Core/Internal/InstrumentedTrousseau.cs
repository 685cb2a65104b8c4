using System.Diagnostics;
using System.Runtime.CompilerServices;

namespace Trousseau.Internal;

/// <summary>
/// Adds a span (<c>trousseau.{operation}</c>) and a duration measurement to every <see cref="ITrousseau"/> call,
/// tagged with the operation, key provider, store and outcome. Secret names and values are never tags.
/// </summary>
internal sealed class InstrumentedTrousseau(InProcessTrousseau inner, IKeyProvider provider, ISecretStore store) : ITrousseau
{
    public ValueTask<EncryptResult> EncryptAsync(ReadOnlyMemory<byte> plaintext, ReadOnlyMemory<byte> context = default, CancellationToken cancellationToken = default) =>
        TraceAsync("encrypt", () => inner.EncryptAsync(plaintext, context, cancellationToken));

    public ValueTask<byte[]> DecryptAsync(ReadOnlyMemory<byte> ciphertext, ReadOnlyMemory<byte> context = default, CancellationToken cancellationToken = default) =>
        TraceAsync("decrypt", () => inner.DecryptAsync(ciphertext, context, cancellationToken));

    public ValueTask<SecretMetadata> CreateSecretAsync(string name, SecretType type, IReadOnlyDictionary<string, string> data, CancellationToken cancellationToken = default) =>
        TraceAsync("secret.create", () => inner.CreateSecretAsync(name, type, data, cancellationToken));

    public ValueTask<Secret> GetSecretAsync(string name, CancellationToken cancellationToken = default) =>
        TraceAsync("secret.get", () => inner.GetSecretAsync(name, cancellationToken));

    public ValueTask<SecretMetadata> UpdateSecretAsync(string name, IReadOnlyDictionary<string, string> data, SecretType? type = null, long? expectedRevision = null, CancellationToken cancellationToken = default) =>
        TraceAsync("secret.update", () => inner.UpdateSecretAsync(name, data, type, expectedRevision, cancellationToken));

    public async ValueTask DeleteSecretAsync(string name, long? expectedRevision = null, CancellationToken cancellationToken = default) =>
        await TraceAsync("secret.delete", async () =>
        {
            await inner.DeleteSecretAsync(name, expectedRevision, cancellationToken).ConfigureAwait(false);
            return true;
        }).ConfigureAwait(false);

    public async IAsyncEnumerable<SecretMetadata> ListSecretsAsync(string prefix = "", [EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        using var activity = TrousseauTelemetry.Source.StartActivity("trousseau.secret.list");
        var started = Stopwatch.GetTimestamp();
        var completed = false;
        try
        {
            await foreach (var item in inner.ListSecretsAsync(prefix, cancellationToken).ConfigureAwait(false))
            {
                yield return item;
            }

            completed = true;
        }
        finally
        {
            Record("secret.list", started, completed ? "ok" : "error", activity);
        }
    }

    public ValueTask<SecretPage> ListSecretsPageAsync(string prefix = "", string? continuationToken = null, int limit = TrousseauLimits.DefaultListPageSize, CancellationToken cancellationToken = default) =>
        TraceAsync("secret.list", () => inner.ListSecretsPageAsync(prefix, continuationToken, limit, cancellationToken));

    public ValueTask<SecretMetadata> GenerateSecretAsync(string name, SecretGenerationOptions? options = null, CancellationToken cancellationToken = default) =>
        TraceAsync("secret.generate", () => inner.GenerateSecretAsync(name, options, cancellationToken));

    private ValueTask<T> TraceAsync<T>(string operation, Func<ValueTask<T>> call)
    {
        var activity = TrousseauTelemetry.Source.StartActivity("trousseau." + operation);
        var started = Stopwatch.GetTimestamp();
        ValueTask<T> pending;
        try
        {
            pending = call();
        }
        catch (Exception e)
        {
            Record(operation, started, TrousseauTelemetry.Outcome(e), activity);
            throw;
        }

        if (pending.IsCompletedSuccessfully)
        {
            Record(operation, started, "ok", activity);
            return pending;
        }

        return AwaitAsync(operation, pending, started, activity);
    }

    private async ValueTask<T> AwaitAsync<T>(string operation, ValueTask<T> pending, long started, Activity? activity)
    {
        try
        {
            var result = await pending.ConfigureAwait(false);
            Record(operation, started, "ok", activity);
            return result;
        }
        catch (Exception e)
        {
            Record(operation, started, TrousseauTelemetry.Outcome(e), activity);
            throw;
        }
    }

    private void Record(string operation, long started, string outcome, Activity? activity)
    {
        if (TrousseauTelemetry.OperationDuration.Enabled)
        {
            TrousseauTelemetry.OperationDuration.Record(
                Stopwatch.GetElapsedTime(started).TotalSeconds,
                new KeyValuePair<string, object?>("operation", operation),
                new KeyValuePair<string, object?>("provider", provider.Name),
                new KeyValuePair<string, object?>("store", store.Name),
                new KeyValuePair<string, object?>("outcome", outcome));
        }

        if (activity is not null)
        {
            activity.SetTag("trousseau.operation", operation);
            activity.SetTag("trousseau.provider", provider.Name);
            activity.SetTag("trousseau.store", store.Name);
            activity.SetTag("trousseau.outcome", outcome);
            if (outcome != "ok")
            {
                activity.SetStatus(ActivityStatusCode.Error, outcome);
            }

            activity.Dispose();
        }
    }
}
