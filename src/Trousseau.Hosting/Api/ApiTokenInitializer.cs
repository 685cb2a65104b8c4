using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace Trousseau.Hosting.Api;

/// <summary>
/// Reads or creates the API token file when the host starts, so that a bad path stops the start, and logs where the
/// file is (never the token) so that a user knows what to give clectl.
/// </summary>
/// <remarks>
/// It does so in <see cref="StartingAsync"/>, which the host calls before it starts any hosted service: a refused
/// token file stops the start before the KMS socket listens, the worker rewraps or the audit trail opens.
/// </remarks>
internal sealed partial class ApiTokenInitializer(ApiToken token, IOptions<TrousseauApiOptions> options, ILogger<ApiTokenInitializer> logger) : IHostedLifecycleService
{
    public Task StartingAsync(CancellationToken cancellationToken)
    {
        if (options.Value.Auth.Mode == TrousseauApiAuthMode.Token)
        {
            token.Load();
            var tokenFile = Path.GetFullPath(options.Value.Auth.TokenFile!);
            LogTokenFile(logger, tokenFile);
        }

        return Task.CompletedTask;
    }

    public Task StartAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    public Task StartedAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    public Task StoppingAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    public Task StoppedAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    [LoggerMessage(EventId = 5100, Level = LogLevel.Information, Message = "API bearer token file: {TokenFile} (clectl reads it with --token-file, or from $TROUSSEAU_HOME/api.token)")]
    private static partial void LogTokenFile(ILogger logger, string tokenFile);
}
