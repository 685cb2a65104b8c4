using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Diagnostics.HealthChecks;
using Microsoft.Extensions.Time.Testing;
using Trousseau.Hosting.Internal;
using Trousseau.Tests.Integration.Infrastructure;
using Trousseau.Tests.Integration.Vault;

namespace Trousseau.Tests.Integration.Hosting;

/// <summary>
/// Trousseau's health checks on the application's clock: an application (or its tests) that registers a
/// <see cref="TimeProvider"/> such as <see cref="FakeTimeProvider"/> sees every wait of the background checks follow it,
/// the 4 s limit of a check and the first readiness answer's wait included, not the wall clock.
/// </summary>
public sealed class DependencyMonitorClockTests(VaultFixture fixture) : IClassFixture<VaultFixture>, IAsyncLifetime
{
    private readonly VaultTarget _vault = fixture.ForNextTest();
    private readonly FakeTimeProvider _clock = new(DateTimeOffset.UtcNow);
    private readonly TaskCompletionSource _release = new();
    private ServiceProvider? _services;

    public Task InitializeAsync() => Task.CompletedTask;

    public async Task DisposeAsync()
    {
        _vault.RequireTestServer().Hold = null;
        _release.TrySetResult();
        if (_services is not null)
        {
            await _services.DisposeAsync();
        }
    }

    [VaultTestServerFact]
    public async Task Checks_of_a_vault_that_never_answers_give_up_after_4_s_of_the_registered_clock()
    {
        var vault = _vault.RequireTestServer();
        var keyName = VaultTarget.UniqueKeyName();
        await _vault.CreateKeyAsync(keyName);
        var services = new ServiceCollection();
        services.AddSingleton<TimeProvider>(_clock);
        services.AddLogging();
        _vault.AddTrousseauOnKey(services, keyName);
        services.AddHealthChecks().AddTrousseau();
        _services = services.BuildServiceProvider();
        var monitor = _services.GetRequiredService<DependencyMonitor>();

        // Vault takes each health request and never answers it.
        var held = vault.Held;
        vault.Hold = new VaultTestServer.VaultHold("sys/health", _release.Task);
        await monitor.StartAsync(CancellationToken.None);

        // Twenty rounds of checks, each ended by the 4 s limit and followed by the next 5 s after the one before, as the
        // clock moves on: neither the limit nor the wait of the first readiness answer may count wall-clock seconds.
        await Eventually.HoldsAsync(
            () =>
            {
                _clock.Advance(TimeSpan.FromSeconds(1));
                return vault.Held - held >= 20;
            },
            () => $"{vault.Held - held} health requests reached Vault");
        var report = await _services.GetRequiredService<HealthCheckService>().CheckHealthAsync();
        await monitor.StopAsync(CancellationToken.None);

        var entry = report.Entries[TrousseauHealthChecksBuilderExtensions.KeyProviderCheckName];
        Assert.Equal(HealthStatus.Unhealthy, entry.Status);
        Assert.Equal("no answer within 4 s", entry.Description);
    }

    [VaultTestServerFact]
    public async Task Before_any_check_has_run_both_checks_answer_unhealthy_not_checked_yet_once_their_wait_for_the_first_ends()
    {
        var keyName = VaultTarget.UniqueKeyName();
        await _vault.CreateKeyAsync(keyName);
        var services = new ServiceCollection();
        services.AddSingleton<TimeProvider>(_clock);
        services.AddLogging();
        _vault.AddTrousseauOnKey(services, keyName);
        services.AddHealthChecks().AddTrousseau();
        _services = services.BuildServiceProvider();

        // The monitor is never started (a host whose hosted services do not run): readiness may not claim anything.
        var report = _services.GetRequiredService<HealthCheckService>().CheckHealthAsync();
        await Eventually.HoldsAsync(
            () =>
            {
                _clock.Advance(TimeSpan.FromSeconds(1));
                return report.IsCompleted;
            },
            () => "the health report did not end as the clock moved on");

        var entries = (await report).Entries;
        Assert.All(
            [TrousseauHealthChecksBuilderExtensions.KeyProviderCheckName, TrousseauHealthChecksBuilderExtensions.StoreCheckName],
            name => Assert.Equal((HealthStatus.Unhealthy, "not checked yet"), (entries[name].Status, entries[name].Description)));
    }
}
