namespace Trousseau.Tests.Integration.Infrastructure;

/// <summary>Waits for a condition that something else (a worker, a reload, another process) makes true.</summary>
internal static class Eventually
{
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(30);
    private static readonly TimeSpan PollInterval = TimeSpan.FromMilliseconds(20);

    /// <summary>Returns once <paramref name="condition"/> holds; fails the test, with <paramref name="describe"/>, after 30 s.</summary>
    public static Task HoldsAsync(Func<bool> condition, Func<string>? describe = null) =>
        HoldsAsync(() => Task.FromResult(condition()), describe);

    /// <inheritdoc cref="HoldsAsync(Func{bool}, Func{string}?)"/>
    public static async Task HoldsAsync(Func<Task<bool>> condition, Func<string>? describe = null)
    {
        var deadline = DateTime.UtcNow + Timeout;
        while (!await condition())
        {
            Assert.True(DateTime.UtcNow < deadline, describe?.Invoke() ?? $"the condition did not hold within {Timeout.TotalSeconds} s");
            await Task.Delay(PollInterval);
        }
    }
}
