using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;

namespace Trousseau.Tests.Integration.Hosting;

/// <summary>What an application sees when it adds a Trousseau hosting feature but never calls AddTrousseau.</summary>
public sealed class MissingRegistrationTests
{
    [Fact]
    public async Task Health_checks_without_AddTrousseau_stop_the_start_naming_the_missing_call()
    {
        var builder = Host.CreateEmptyApplicationBuilder(new HostApplicationBuilderSettings());
        builder.Services.AddHealthChecks().AddTrousseau();
        using var host = builder.Build();

        var error = await Assert.ThrowsAsync<InvalidOperationException>(() => host.StartAsync());

        Assert.Equal(
            "AddHealthChecks().AddTrousseau() needs Trousseau in this process: call services.AddTrousseau(...) with a key provider and a store.",
            error.Message);
    }

    [Fact]
    public async Task The_worker_without_AddTrousseau_stops_the_start_naming_the_missing_call()
    {
        var builder = Host.CreateEmptyApplicationBuilder(new HostApplicationBuilderSettings());
        builder.Services.AddTrousseauWorker();
        using var host = builder.Build();

        var error = await Assert.ThrowsAsync<InvalidOperationException>(() => host.StartAsync());

        Assert.Equal(
            "AddTrousseauWorker() needs Trousseau in this process: call services.AddTrousseau(...) with a key provider and a store.",
            error.Message);
    }
}
