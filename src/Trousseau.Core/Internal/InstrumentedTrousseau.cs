using System.Diagnostics;
using System.Runtime.CompilerServices;

namespace Trousseau.Internal;

/// <summary>
/// Adds a span (<c>trousseau.{operation}</c>) and a duration measurement to every <see cref="ITrousseau"/> call,
/// tagged with the operation, key provider, store and, on failure, the error type. Secret names and values are
/// never tags.
/// </summary>
internal sealed class InstrumentedTrousseau(InProcessTrousseau inner, IKeyProvider provider, ISecretStore store, TrousseauInstrumentation instrumentation) : ITrousseau
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

    public ValueTask<SecretPatchResult> PatchSecretAsync(string name, IReadOnlyDictionary<string, string?> changes, long? expectedRevision = null, CancellationToken cancellationToken = default) =>
        TraceAsync("secret.patch", () => inner.PatchSecretAsync(name, changes, expectedRevision, cancellationToken));

    public ValueTask<SecretMetadata> RegenerateSecretAsync(string name, SecretRegenerationOptions? options = null, long? expectedRevision = null, CancellationToken cancellationToken = default) =>
        TraceAsync("secret.regenerate", () => inner.RegenerateSecretAsync(name, options, expectedRevision, cancellationToken));

    public async ValueTask DeleteSecretAsync(string name, long? expectedRevision = null, CancellationToken cancellationToken = default) =>
        await TraceAsync("secret.delete", async () =>
        {
            await inner.DeleteSecretAsync(name, expectedRevision, cancellationToken).ConfigureAwait(false);
            return true;
        }).ConfigureAwait(false);

    public async IAsyncEnumerable<SecretMetadata> ListSecretsAsync(string prefix = "", [EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        var activity = instrumentation.ActivitySource.StartActivity("trousseau.secret.list");
        var started = Stopwatch.GetTimestamp();
        string? errorType = null;
        try
        {
            var items = inner.ListSecretsAsync(prefix, cancellationToken).GetAsyncEnumerator(cancellationToken);
            await using (items.ConfigureAwait(false))
            {
                while (true)
                {
                    try
                    {
                        if (!await items.MoveNextAsync().ConfigureAwait(false))
                        {
                            break;
                        }
                    }
                    catch (Exception e)
                    {
                        errorType = TrousseauInstrumentation.ErrorType(e);
                        throw;
                    }

                    yield return items.Current;
                }
            }
        }
        finally
        {
            // A caller that stops early has not failed.
            Record("secret.list", started, errorType, activity);
        }
    }

    public ValueTask<SecretPage> ListSecretsPageAsync(string prefix = "", string? continuationToken = null, int limit = TrousseauLimits.DefaultListPageSize, CancellationToken cancellationToken = default) =>
        TraceAsync("secret.list", () => inner.ListSecretsPageAsync(prefix, continuationToken, limit, cancellationToken));

    public ValueTask<SecretMetadata> GenerateSecretAsync(string name, SecretGenerationOptions? options = null, CancellationToken cancellationToken = default) =>
        TraceAsync("secret.generate", () => inner.GenerateSecretAsync(name, options, cancellationToken));

    private ValueTask<T> TraceAsync<T>(string operation, Func<ValueTask<T>> call)
    {
        var activity = instrumentation.ActivitySource.StartActivity("trousseau." + operation);
        var started = Stopwatch.GetTimestamp();
        ValueTask<T> pending;
        try
        {
            pending = call();
        }
        catch (Exception e)
        {
            Record(operation, started, TrousseauInstrumentation.ErrorType(e), activity);
            throw;
        }

        if (pending.IsCompletedSuccessfully)
        {
            Record(operation, started, errorType: null, activity);
            return pending;
        }

        return AwaitAsync(operation, pending, started, activity);
    }

    private async ValueTask<T> AwaitAsync<T>(string operation, ValueTask<T> pending, long started, Activity? activity)
    {
        try
        {
            var result = await pending.ConfigureAwait(false);
            Record(operation, started, errorType: null, activity);
            return result;
        }
        catch (Exception e)
        {
            Record(operation, started, TrousseauInstrumentation.ErrorType(e), activity);
            throw;
        }
    }

    private void Record(string operation, long started, string? errorType, Activity? activity)
    {
        if (instrumentation.OperationDuration.Enabled)
        {
            var tags = new TagList
            {
                { TrousseauTelemetry.Operation, operation },
                { TrousseauTelemetry.KeyProvider, provider.Name },
                { TrousseauTelemetry.Store, store.Name },
            };
            if (errorType is not null)
            {
                tags.Add(TrousseauTelemetry.ErrorType, errorType);
            }

            instrumentation.OperationDuration.Record(Stopwatch.GetElapsedTime(started).TotalSeconds, tags);
        }

        if (activity is not null)
        {
            activity.SetTag(TrousseauTelemetry.Operation, operation);
            activity.SetTag(TrousseauTelemetry.KeyProvider, provider.Name);
            activity.SetTag(TrousseauTelemetry.Store, store.Name);
            if (errorType is not null)
            {
                TrousseauTelemetry.Fail(activity, errorType);
            }

            activity.Dispose();
        }
    }
}
