using Microsoft.Extensions.Hosting;

namespace Trousseau.Vault.Internal;

/// <summary>
/// Revokes the Vault token a login brought once the host has stopped (<see cref="IHostedLifecycleService.StoppedAsync"/>,
/// after every hosted service, the HTTP API and the KMS socket among them, has stopped): no call is left to use it then.
/// </summary>
internal sealed class VaultTokenRevocationAtStop(VaultTokenSource tokens) : IHostedLifecycleService
{
    public Task StartingAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    public Task StartAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    public Task StartedAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    public Task StoppingAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    public Task StoppedAsync(CancellationToken cancellationToken) => tokens.StopAsync(cancellationToken);
}
