using Microsoft.Extensions.Options;

namespace Trousseau.Etcd.Internal;

/// <summary>
/// Checks the settings of <see cref="EtcdStoreOptions"/> that DataAnnotations cannot at start: endpoint schemes, the
/// prefix, settings that go together, files. Each failure names the configuration key, the value given (never the
/// password) and what would be valid. <see cref="EtcdOptionsAnnotationsValidator"/> checks the rest.
/// </summary>
internal sealed class EtcdOptionsValidator(string sectionPath) : IValidateOptions<EtcdStoreOptions>
{
    public ValidateOptionsResult Validate(string? name, EtcdStoreOptions options)
    {
        var failures = new List<string>();
        foreach (var endpoint in options.Endpoints.Where(e => !e.IsAbsoluteUri || (e.Scheme != Uri.UriSchemeHttp && e.Scheme != Uri.UriSchemeHttps)))
        {
            failures.Add($"{Key("Endpoints")} holds '{endpoint.OriginalString}', which is not an http(s) URL such as http://127.0.0.1:2379.");
        }

        if (options.Endpoints.Any(e => e.IsAbsoluteUri && e.Scheme == Uri.UriSchemeHttps) && options.Endpoints.Any(e => e.IsAbsoluteUri && e.Scheme == Uri.UriSchemeHttp))
        {
            failures.Add($"{Key("Endpoints")} mixes http and https URLs: etcd is reached with TLS on every endpoint or on none.");
        }

        if (options.Prefix.Length == 0 || !options.Prefix.EndsWith('/'))
        {
            failures.Add($"{Key("Prefix")} is '{options.Prefix}', which does not end with '/' (for example /trousseau/).");
        }

        if (string.IsNullOrWhiteSpace(options.Password) != string.IsNullOrWhiteSpace(options.Username))
        {
            failures.Add($"{Key("Username")} and {Key("Password")} go together: set both for etcd auth, or neither.");
        }

        if ((options.CertFile is null) != (options.KeyFile is null))
        {
            failures.Add($"{Key("CertFile")} and {Key("KeyFile")} go together: set both for mutual TLS, or neither.");
        }

        if (options.CaFile is { } caFile && PemFiles.Check(caFile, Key("CaFile")) is { } caProblem)
        {
            failures.Add(caProblem);
        }

        if (options is { CertFile: { } certFile, KeyFile: { } keyFile } && PemFiles.Check(certFile, keyFile, Key("CertFile"), Key("KeyFile")) is { } certificateProblem)
        {
            failures.Add(certificateProblem);
        }

        return failures.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(failures);
    }

    private string Key(string relative) => $"{sectionPath}:{relative}";
}
