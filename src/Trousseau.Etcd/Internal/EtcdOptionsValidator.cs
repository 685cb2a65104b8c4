using Microsoft.Extensions.Options;

namespace Trousseau.Etcd.Internal;

/// <summary>
/// Checks the settings of <see cref="EtcdStoreOptions"/> that DataAnnotations cannot at start: endpoint schemes and paths, the
/// prefix, settings that go together, files. Each failure names the configuration key, the value given (never the
/// password) and what would be valid. <see cref="EtcdOptionsAnnotationsValidator"/> checks the rest.
/// </summary>
internal sealed class EtcdOptionsValidator(string sectionPath) : IValidateOptions<EtcdStoreOptions>
{
    public ValidateOptionsResult Validate(string? name, EtcdStoreOptions options)
    {
        var failures = new List<string>();
        foreach (var (endpoint, index) in options.Endpoints.Select((e, i) => (e, i)))
        {
            if (endpoint.OriginalString.Contains('@', StringComparison.Ordinal))
            {
                // Never shown: the etcd client signs in with Username and Password only, and each message naming the member would show it.
                failures.Add($"{Key($"Endpoints:{index}")} holds a user name or password before '@', not shown here, which Trousseau never sends to etcd: "
                    + $"write the endpoint as http(s)://HOST:PORT, and set {Key("Username")} and {Key("Password")} for etcd auth.");
            }
            else if (!endpoint.IsAbsoluteUri || (endpoint.Scheme != Uri.UriSchemeHttp && endpoint.Scheme != Uri.UriSchemeHttps))
            {
                failures.Add($"{Key("Endpoints")} holds '{endpoint.OriginalString}', which is not an http(s) URL such as http://127.0.0.1:2379.");
            }
            else if (endpoint.AbsolutePath != "/" || endpoint.Query.Length > 0 || endpoint.Fragment.Length > 0)
            {
                // Not shown: a query or fragment may hold a token, and the etcd client reads only the scheme, host and port.
                failures.Add($"{Key($"Endpoints:{index}")} is {endpoint.GetLeftPart(UriPartial.Authority)} followed by a path, query or fragment, not shown here, "
                    + $"which the etcd client would drop: write the endpoint as http(s)://HOST:PORT, and put the key prefix in {Key("Prefix")}.");
            }
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
