using System.Security.Cryptography;
using System.Text;
using Microsoft.Extensions.Options;

namespace Trousseau.Samples.Worker;

/// <summary>Writes a report every interval, encrypted by Trousseau and signed with a key Trousseau keeps.</summary>
internal sealed partial class ReportWorker(
    ITrousseau trousseau,
    IOptions<ReportOptions> options,
    IHostApplicationLifetime lifetime,
    ILogger<ReportWorker> logger) : BackgroundService
{
    /// <summary>The secret holding the signing key, generated on the first run.</summary>
    public const string SigningKeySecret = "reports/signing-key";

    private const string SigningKeyField = "key";

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        var settings = options.Value;
        Directory.CreateDirectory(settings.Outbox);
        var signingKey = await SigningKeyAsync(stoppingToken);

        using var timer = new PeriodicTimer(settings.Interval);
        for (var written = 1; ; written++)
        {
            var report = Encoding.UTF8.GetBytes($"orders processed by {Environment.MachineName} at {DateTimeOffset.UtcNow:O}");
            var sealedReport = await trousseau.EncryptAsync(report, cancellationToken: stoppingToken);
            var signature = HMACSHA256.HashData(signingKey, sealedReport.Ciphertext);

            var path = Path.Combine(settings.Outbox, $"report-{DateTimeOffset.UtcNow:yyyyMMddTHHmmssfff}.sealed");
            await File.WriteAllBytesAsync(path, sealedReport.Ciphertext, stoppingToken);
            await File.WriteAllTextAsync(path + ".sig", Convert.ToHexStringLower(signature), stoppingToken);
            LogReportWritten(path, sealedReport.KeyId, sealedReport.KeyVersion);

            if (settings.Count > 0 && written >= settings.Count)
            {
                lifetime.StopApplication();
                return;
            }

            if (!await timer.WaitForNextTickAsync(stoppingToken))
            {
                return;
            }
        }
    }

    private async Task<byte[]> SigningKeyAsync(CancellationToken cancellationToken)
    {
        try
        {
            await trousseau.GenerateSecretAsync(SigningKeySecret, new SecretGenerationOptions { Key = SigningKeyField, Length = 64 }, cancellationToken);
            LogSigningKeyGenerated(SigningKeySecret);
        }
        catch (SecretConflictException)
        {
            // Made by an earlier run: read it below like any other.
        }

        var secret = await trousseau.GetSecretAsync(SigningKeySecret, cancellationToken);
        LogSigningKeyRead(SigningKeySecret, secret.Revision);
        return Encoding.UTF8.GetBytes(secret.Data[SigningKeyField]);
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "Generated signing key {Secret}")]
    private partial void LogSigningKeyGenerated(string secret);

    [LoggerMessage(Level = LogLevel.Information, Message = "Using signing key {Secret} at revision {Revision}")]
    private partial void LogSigningKeyRead(string secret, long revision);

    [LoggerMessage(Level = LogLevel.Information, Message = "Wrote sealed report {Path} under key {KeyId} v{KeyVersion}")]
    private partial void LogReportWritten(string path, string keyId, uint keyVersion);
}
