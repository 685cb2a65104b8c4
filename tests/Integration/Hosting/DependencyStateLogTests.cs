using Microsoft.Extensions.Logging.Testing;
using Trousseau.Hosting.Internal;

namespace Trousseau.Tests.Integration.Hosting;

/// <summary>What an operator reads when the key provider or the store goes down and comes back.</summary>
public sealed class DependencyStateLogTests
{
    [Fact]
    public void A_dependency_going_down_is_one_warning_whose_reason_reads_as_one_sentence_and_its_return_one_line()
    {
        var logger = new FakeLogger<DependencyStateLog>();
        var log = new DependencyStateLog(logger);
        var down = DependencyHealth.Unhealthy("The SQLite store '/data/store.db' is unavailable: SQLite Error 26: 'file is not a database'.");

        log.Observe("Store sqlite", down);
        log.Observe("Store sqlite", down);
        log.Observe("Store sqlite", DependencyHealth.Healthy("ok"));

        Assert.Collection(
            logger.Collector.GetSnapshot(),
            record => Assert.Equal(
                "Store sqlite is unavailable: The SQLite store '/data/store.db' is unavailable: SQLite Error 26: 'file is not a database'. "
                + "Requests that need it answer 503 (KMS: UNAVAILABLE) until it recovers.",
                record.Message),
            record => Assert.Equal("Store sqlite is available again.", record.Message));
    }

    [Fact]
    public void A_dependency_becoming_degraded_is_one_warning_and_its_recovery_one_line()
    {
        var logger = new FakeLogger<DependencyStateLog>();
        var log = new DependencyStateLog(logger);
        var degraded = DependencyHealth.Degraded("SQLite store /data/store.db: the file system holding it has 0 bytes free.");

        log.Observe("Store sqlite", DependencyHealth.Healthy("ok"));
        log.Observe("Store sqlite", degraded);
        log.Observe("Store sqlite", degraded);
        log.Observe("Store sqlite", DependencyHealth.Healthy("ok"));

        Assert.Collection(
            logger.Collector.GetSnapshot(),
            record => Assert.Equal(
                "Store sqlite is degraded: SQLite store /data/store.db: the file system holding it has 0 bytes free. "
                + "Readiness stays up.",
                record.Message),
            record => Assert.Equal("Store sqlite is available again.", record.Message));
    }
}
