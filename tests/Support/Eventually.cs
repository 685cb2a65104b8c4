using System.Runtime.CompilerServices;

namespace Trousseau.Tests.Integration.Infrastructure;

/// <summary>
/// Waits for a condition that something else (a worker, a reload, another process) makes true, polling until a
/// deadline. On timeout the test fails with what was awaited and the last thing seen, never with a bare cancellation.
/// </summary>
public static class Eventually
{
    public static readonly TimeSpan DefaultTimeout = TimeSpan.FromSeconds(30);
    private static readonly TimeSpan PollInterval = TimeSpan.FromMilliseconds(20);

    /// <summary>
    /// Returns once <paramref name="condition"/> holds. After <paramref name="timeout"/> (30 s unless given) the test
    /// fails naming <paramref name="awaited"/> (the condition's source text unless given) and what
    /// <paramref name="describe"/> says of the last state.
    /// </summary>
    public static Task HoldsAsync(
        Func<bool> condition,
        Func<string>? describe = null,
        TimeSpan? timeout = null,
        [CallerArgumentExpression(nameof(condition))] string? awaited = null) =>
        HoldsAsync(() => Task.FromResult(condition()), describe, timeout, awaited);

    /// <inheritdoc cref="HoldsAsync(Func{bool}, Func{string}?, TimeSpan?, string?)"/>
    public static async Task HoldsAsync(
        Func<Task<bool>> condition,
        Func<string>? describe = null,
        TimeSpan? timeout = null,
        [CallerArgumentExpression(nameof(condition))] string? awaited = null) =>
        await ReturnsAsync(condition, held => held, timeout, awaited, _ => describe?.Invoke() ?? "it did not hold");

    /// <summary>
    /// Awaits <paramref name="call"/>, a call that ends by itself (with an answer or an exception, which is thrown
    /// here), and returns its answer. After <paramref name="timeout"/> (30 s unless given) the test fails naming
    /// <paramref name="awaited"/> (the call's source text unless given), instead of waiting for ever on a call that never
    /// ends (a retry with no end, or a wait on a clock that stands still).
    /// </summary>
    public static async Task<T> EndsAsync<T>(
        Task<T> call,
        TimeSpan? timeout = null,
        [CallerArgumentExpression(nameof(call))] string? awaited = null)
    {
        await EndsAsync((Task)call, timeout, awaited);
        return await call;
    }

    /// <inheritdoc cref="EndsAsync{T}(Task{T}, TimeSpan?, string?)"/>
    public static async Task EndsAsync(
        Task call,
        TimeSpan? timeout = null,
        [CallerArgumentExpression(nameof(call))] string? awaited = null)
    {
        var limit = timeout ?? DefaultTimeout;
        try
        {
            await call.WaitAsync(limit);
        }
        catch (TimeoutException) when (!call.IsCompleted)
        {
            Assert.Fail($"Waited {limit.TotalSeconds} s for {awaited} to end; it neither answered nor failed");
        }
    }

    /// <summary>
    /// Calls <paramref name="probe"/> until what it returns satisfies <paramref name="accept"/>, and returns that.
    /// An exception from the probe counts as "not yet" (only one that <paramref name="transient"/> accepts, when
    /// given; any other ends the wait and is thrown). After <paramref name="timeout"/> (30 s unless given) the test
    /// fails naming <paramref name="awaited"/> and the last value (through <paramref name="show"/>) or exception seen.
    /// </summary>
    public static async Task<T> ReturnsAsync<T>(
        Func<Task<T>> probe,
        Func<T, bool> accept,
        TimeSpan? timeout = null,
        [CallerArgumentExpression(nameof(accept))] string? awaited = null,
        Func<T, string>? show = null,
        Func<Exception, bool>? transient = null)
    {
        var limit = timeout ?? DefaultTimeout;
        var deadline = DateTime.UtcNow + limit;
        string last;
        while (true)
        {
            try
            {
                var value = await probe();
                if (accept(value))
                {
                    return value;
                }

                last = show is null ? $"{value}" : show(value);
            }
            catch (Exception e) when (e is not Xunit.Sdk.XunitException && (transient is null || transient(e)))
            {
                last = $"{e.GetType().Name}: {e.Message}";
            }

            if (DateTime.UtcNow >= deadline)
            {
                Assert.Fail($"Waited {limit.TotalSeconds} s for {awaited}; last seen: {last}");
            }

            await Task.Delay(PollInterval);
        }
    }
}
