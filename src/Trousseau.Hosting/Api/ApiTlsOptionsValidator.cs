using Microsoft.Extensions.Options;

namespace Trousseau.Hosting.Api;

/// <summary>
/// Checks <see cref="TrousseauApiOptions.Tls"/> at start: a certificate needs its key and the reverse, a client CA
/// needs a certificate, and the files must exist and hold what they should. Each failure names the key and the file's
/// full path.
/// </summary>
/// <param name="sectionPath">The TLS section, for example <c>Trousseau:Api:Tls</c>.</param>
internal sealed class ApiTlsOptionsValidator(string sectionPath) : IValidateOptions<TrousseauApiOptions>
{
    public ValidateOptionsResult Validate(string? name, TrousseauApiOptions options)
    {
        var tls = options.Tls;
        var hasCertificate = !string.IsNullOrWhiteSpace(tls.CertFile);
        var hasKey = !string.IsNullOrWhiteSpace(tls.KeyFile);
        var cert = Key(nameof(TrousseauApiTlsOptions.CertFile));
        var key = Key(nameof(TrousseauApiTlsOptions.KeyFile));
        if (hasCertificate && !hasKey)
        {
            return ValidateOptionsResult.Fail($"{key} is not set; with {cert} set it must name the PEM private key of that certificate.");
        }

        if (hasKey && !hasCertificate)
        {
            return ValidateOptionsResult.Fail($"{cert} is not set; with {key} set it must name the PEM certificate of that key.");
        }

        if (!hasCertificate)
        {
            return string.IsNullOrWhiteSpace(tls.ClientCaFile)
                ? ValidateOptionsResult.Success
                : ValidateOptionsResult.Fail($"{Key(nameof(TrousseauApiTlsOptions.ClientCaFile))} is set, but client certificates are asked for only over TLS: set {cert} and {key} too.");
        }

        try
        {
            ApiTlsMaterial.Load(tls, sectionPath).Dispose();
            return ValidateOptionsResult.Success;
        }
        catch (ApiTlsFileException e)
        {
            return ValidateOptionsResult.Fail(e.Message);
        }
    }

    private string Key(string name) => $"{sectionPath}:{name}";
}
