using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Options;

namespace Trousseau.Hosting.Api;

/// <summary>Reads or creates the API token file when the host starts, so that a bad path stops the start.</summary>
internal sealed class ApiTokenInitializer(ApiToken token, IOptions<TrousseauApiOptions> options) : IHostedService
{
    public Task StartAsync(CancellationToken cancellationToken)
    {
        if (options.Value.Auth.Mode == TrousseauApiAuthMode.Token)
        {
            token.Load();
        }

        return Task.CompletedTask;
    }

    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;
}
