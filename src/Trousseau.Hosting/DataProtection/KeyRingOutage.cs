namespace Trousseau.Hosting.DataProtection;

/// <summary>
/// Remembers for <see cref="RetryAfter"/> that the key provider was unavailable to a Data Protection key, and fails
/// every key call meanwhile at once with the same reason. Data Protection decrypts each key again for every retry it
/// makes (about a dozen per operation), so without this each request that protects or unprotects would wait for Vault
/// a dozen times: seconds while Vault is sealed, Vault:Timeout each while it does not answer.
/// </summary>
internal sealed class KeyRingOutage(TimeProvider time)
{
    /// <summary>How long after a failure the next key call goes to the key provider again.</summary>
    public static readonly TimeSpan RetryAfter = TimeSpan.FromSeconds(5);

    private Failure? _last;

    public T Run<T>(Func<T> call)
    {
        if (Volatile.Read(ref _last) is { } last && time.GetElapsedTime(last.At) < RetryAfter)
        {
            throw new DependencyUnavailableException(
                last.Error.Dependency,
                $"{last.Error.Message.TrimEnd('.')}. (Data Protection keys go to the key provider again {RetryAfter.TotalSeconds:0} s after it failed.)",
                last.Error);
        }

        try
        {
            var result = call();
            Volatile.Write(ref _last, null);
            return result;
        }
        catch (DependencyUnavailableException e)
        {
            Volatile.Write(ref _last, new Failure(e, time.GetTimestamp()));
            throw;
        }
    }

    private sealed record Failure(DependencyUnavailableException Error, long At);
}
