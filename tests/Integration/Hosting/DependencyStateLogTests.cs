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

    [Fact]
    public void A_degraded_dependency_degraded_for_another_reason_logs_that_reason_once_and_a_reason_seen_before_never_again()
    {
        var logger = new FakeLogger<DependencyStateLog>();
        var log = new DependencyStateLog(logger);
        DependencyHealth Back(int revision) => DependencyHealth.Degraded(
            $"etcd store under '/trousseau/', revision {revision}, but etcd went back from revision 5120 to revision 3 since trousseaud connected.");
        DependencyHealth OtherCluster(int revision) => DependencyHealth.Degraded(
            $"etcd store under '/trousseau/', revision {revision}, but the etcd cluster changed since trousseaud connected.");

        log.Observe("Store etcd", Back(3));
        log.Observe("Store etcd", Back(4));
        log.Observe("Store etcd", OtherCluster(9));
        log.Observe("Store etcd", OtherCluster(10));
        log.Observe("Store etcd", Back(11));
        log.Observe("Store etcd", OtherCluster(12));

        Assert.Collection(
            logger.Collector.GetSnapshot(),
            record => Assert.Equal(
                "Store etcd is degraded: etcd store under '/trousseau/', revision 3, but etcd went back from revision 5120 to revision 3 since trousseaud connected. Readiness stays up.",
                record.Message),
            record => Assert.Equal(
                "Store etcd is degraded: etcd store under '/trousseau/', revision 9, but the etcd cluster changed since trousseaud connected. Readiness stays up.",
                record.Message));
    }

    [Fact]
    public void A_dependency_down_for_another_reason_logs_that_reason_once_and_again_after_it_came_back()
    {
        var logger = new FakeLogger<DependencyStateLog>();
        var log = new DependencyStateLog(logger);
        var refused = DependencyHealth.Unhealthy("Vault cannot be reached: Connection refused (127.0.0.1:8200).");
        var sealedVault = DependencyHealth.Unhealthy("Vault is sealed.");

        log.Observe("Key provider vault", refused);
        log.Observe("Key provider vault", sealedVault);
        log.Observe("Key provider vault", refused);
        log.Observe("Key provider vault", sealedVault);
        log.Observe("Key provider vault", DependencyHealth.Healthy("ok"));
        log.Observe("Key provider vault", sealedVault);

        Assert.Equal(
            [
                "Key provider vault is unavailable: Vault cannot be reached: Connection refused (127.0.0.1:8200). Requests that need it answer 503 (KMS: UNAVAILABLE) until it recovers.",
                "Key provider vault is unavailable: Vault is sealed. Requests that need it answer 503 (KMS: UNAVAILABLE) until it recovers.",
                "Key provider vault is available again.",
                "Key provider vault is unavailable: Vault is sealed. Requests that need it answer 503 (KMS: UNAVAILABLE) until it recovers.",
            ],
            logger.Collector.GetSnapshot().Select(record => record.Message));
    }
}
