using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Time.Testing;
using Trousseau.Tests.Integration.Infrastructure;
using Trousseau.Tests.Integration.Vault;

namespace Trousseau.Tests.Integration.Kms;

/// <summary>
/// KMS Status over Vault Transit: calls that overlap (kube-apiserver's poll, the gRPC health service's probe), and a
/// plugin whose Vault was sealed from its start. The plugin is hosted in process on a real Unix socket, over the
/// in-repo Vault server, which can hold an answer back or seal.
/// </summary>
public sealed class KmsStatusRaceTests(VaultFixture fixture) : IClassFixture<VaultFixture>, IDisposable
{
    private readonly VaultTarget _vault = fixture.ForNextTest();
    private readonly TempDirectory _temp = new();

    public void Dispose() => _temp.Dispose();

    [VaultTestServerFact]
    public async Task A_healthy_status_answered_before_vault_sealed_but_arriving_after_an_unhealthy_one_leaves_the_next_status_unhealthy()
    {
        // The clock stands still, so a healthy answer, once remembered, would be reused by every later Status.
        var server = _vault.RequireTestServer();
        var socket = _temp.Combine("run", "kms.sock");
        using var host = await StartPluginAsync(socket, new FakeTimeProvider(DateTimeOffset.UtcNow));
        try
        {
            using var channel = KmsSocketTests.ChannelFor(socket);
            var kms = new KmsV2Client(channel.CreateCallInvoker());
            var provider = host.Services.GetRequiredService<IKeyProvider>();
            await Eventually.HoldsAsync(() => server.Count("sys/health") >= 1, () => "the provider's health monitor has not asked Vault yet");
            await provider.GetCurrentKeyAsync();

            // A Vault call fails, so that the provider's next health check asks Vault again.
            server.Fault = new VaultTestServer.VaultFault(503, "Vault is sealed", PathContains: "/rotate");
            await Assert.ThrowsAsync<DependencyUnavailableException>(async () => await provider.RotateAsync());
            server.Fault = null;

            // One Status gets Vault's healthy answer late; meanwhile Vault seals, and another Status finds it sealed.
            var release = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            var heldBefore = server.Held;
            server.Hold = new VaultTestServer.VaultHold("sys/health", release.Task, Answered: true);
            var slow = kms.StatusAsync();
            await Eventually.HoldsAsync(() => server.Held > heldBefore, () => $"held {server.Held - heldBefore}");
            server.Hold = null;
            server.Sealed = true;
            var sealedStatus = await kms.StatusAsync();
            release.SetResult();
            var late = await slow;

            var next = await kms.StatusAsync();

            Assert.NotEqual("ok", sealedStatus.Healthz);
            Assert.Equal("ok", late.Healthz);
            Assert.Contains("sealed", next.Healthz, StringComparison.Ordinal);
        }
        finally
        {
            await host.StopAsync();
        }
    }

    [VaultTestServerFact]
    public async Task A_plugin_whose_vault_was_sealed_since_it_started_answers_status_unhealthy_with_the_key_id_unavailable()
    {
        var socket = _temp.Combine("run", "kms.sock");
        using var host = await StartPluginAsync(socket, TimeProvider.System, sealedAtStart: true);
        try
        {
            using var channel = KmsSocketTests.ChannelFor(socket);
            var status = await new KmsV2Client(channel.CreateCallInvoker()).StatusAsync();

            Assert.Equal("v2", status.Version);
            Assert.NotEqual("ok", status.Healthz);
            Assert.Equal("unavailable", status.KeyId);
        }
        finally
        {
            await host.StopAsync();
        }
    }

    /// <summary>
    /// Starts a host serving the KMS plugin on <paramref name="socket"/> over a new Transit key of the in-repo Vault,
    /// on <paramref name="clock"/>, with Vault sealed before the start when <paramref name="sealedAtStart"/>.
    /// </summary>
    private async Task<IHost> StartPluginAsync(string socket, TimeProvider clock, bool sealedAtStart = false)
    {
        var keyName = VaultTarget.UniqueKeyName();
        await _vault.CreateKeyAsync(keyName);
        _vault.RequireTestServer().Sealed = sealedAtStart;
        var builder = Host.CreateApplicationBuilder();
        builder.Services.AddSingleton(clock);
        builder.Services.AddTrousseau()
            .UseVaultTransit(o => (o.Address, o.KeyName, o.Auth.Token) = (_vault.Address, keyName, _vault.Token))
            .UseInMemoryStore()
            .AddKmsPlugin(kms => (kms.Socket, kms.ProviderTimeout) = (socket, TimeSpan.FromSeconds(30)));
        var host = builder.Build();
        await host.StartAsync();
        return host;
    }
}
