using Microsoft.Extensions.Options;

namespace Trousseau.Remote.Internal;

/// <summary>
/// Checks <see cref="TrousseauClientConnectionOptions"/> when the host starts, each failure naming its key under the
/// configuration section the options were bound from (<c>Trousseau:Client:BaseAddress</c>), or the key alone when they
/// were set in code.
/// </summary>
internal sealed class ConnectionOptionsValidator(string? sectionPath) : IValidateOptions<TrousseauClientConnectionOptions>
{
    public ValidateOptionsResult Validate(string? name, TrousseauClientConnectionOptions options)
    {
        var failures = new List<string>();
        var server = options.BaseAddress;
        if (server is null)
        {
            failures.Add($"{Key("BaseAddress")} is required: the trousseaud URL, for example https://trousseau.example.com:8787.");
        }
        else if (!server.IsAbsoluteUri || (server.Scheme != Uri.UriSchemeHttp && server.Scheme != Uri.UriSchemeHttps))
        {
            failures.Add($"{Key("BaseAddress")} is '{server.OriginalString}'; it must be an absolute http:// or https:// URL, for example https://trousseau.example.com:8787.");
        }
        else if (server.Query.Length > 0 || server.Fragment.Length > 0)
        {
            failures.Add($"{Key("BaseAddress")} {server.GetLeftPart(UriPartial.Path)} is followed by a query or fragment, which the API's paths would drop; give the trousseaud URL alone.");
        }

        if (!string.IsNullOrEmpty(options.Token) && !string.IsNullOrEmpty(options.TokenFile))
        {
            failures.Add($"{Key("Token")} and {Key("TokenFile")} are both set; set one of them.");
        }
        else if (!string.IsNullOrEmpty(options.TokenFile))
        {
            try
            {
                ConnectionToken.Read(options.TokenFile);
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                failures.Add($"{Key("TokenFile")}: {e.Message}");
            }
        }

        var hasToken = !string.IsNullOrEmpty(options.Token) || !string.IsNullOrEmpty(options.TokenFile);
        if (hasToken && !options.AllowInsecureHttp && server is { IsAbsoluteUri: true } && server.Scheme == Uri.UriSchemeHttp && !server.IsLoopback)
        {
            failures.Add(
                $"{Key("BaseAddress")} {server.AbsoluteUri} is plain HTTP to a server that is not on this machine: the API token would cross the network in clear text. "
                + $"Use an https:// address, or, on a network where clear text is acceptable, set {Key("AllowInsecureHttp")} to true.");
        }

        if (string.IsNullOrEmpty(options.Tls.CertFile) != string.IsNullOrEmpty(options.Tls.KeyFile))
        {
            failures.Add($"{Key("Tls:CertFile")} and {Key("Tls:KeyFile")} go together: a client certificate needs its key; set both, or neither.");
        }

        return failures.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(failures);
    }

    private string Key(string key) => string.IsNullOrEmpty(sectionPath) ? key : $"{sectionPath}:{key}";
}
