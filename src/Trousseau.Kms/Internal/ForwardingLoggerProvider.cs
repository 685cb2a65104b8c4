using Microsoft.Extensions.Logging;

namespace Trousseau.Kms.Internal;

/// <summary>
/// Hands the KMS socket's own logging pipeline (and its filters) on to the application's logger factory, which stays
/// the application's to configure and dispose.
/// </summary>
internal sealed class ForwardingLoggerProvider(ILoggerFactory application) : ILoggerProvider
{
    public ILogger CreateLogger(string categoryName) => application.CreateLogger(categoryName);

    public void Dispose()
    {
    }
}
