using Trousseau.Internal;

namespace Trousseau.Tests.Unit.Secrets;

/// <summary>The headers an instance remembers of the records it last saw: bounded, and never older than what it saw.</summary>
public sealed class RecordHeaderCacheTests
{
    private static readonly DateTimeOffset Created = new(2026, 1, 1, 0, 0, 0, TimeSpan.Zero);

    private static CachedHeader At(long storeRevision) => new(SecretType.Opaque, Created, storeRevision, storeRevision);

    [Fact]
    public void When_full_the_name_used_least_recently_makes_room()
    {
        var cache = new RecordHeaderCache(capacity: 2);
        cache.Remember("a", At(1));
        cache.Remember("b", At(2));
        cache.TryGet("a", out _);

        cache.Remember("c", At(3));

        Assert.True(cache.TryGet("a", out var a));
        Assert.False(cache.TryGet("b", out _));
        Assert.True(cache.TryGet("c", out var c));
        Assert.Equal((At(1), At(3)), (a, c));
    }

    [Fact]
    public void A_record_seen_at_an_earlier_store_revision_does_not_replace_a_later_one_but_a_forgotten_name_takes_it()
    {
        var cache = new RecordHeaderCache(capacity: 10);
        cache.Remember("a", At(7));

        cache.Remember("a", At(5));
        cache.TryGet("a", out var kept);
        cache.Forget("a");
        var forgotten = cache.TryGet("a", out _);
        cache.Remember("a", At(5));

        Assert.Equal(At(7), kept);
        Assert.False(forgotten);
        Assert.True(cache.TryGet("a", out var again));
        Assert.Equal(At(5), again);
    }
}
