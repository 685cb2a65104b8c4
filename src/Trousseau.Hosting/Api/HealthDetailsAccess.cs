using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;

namespace Trousseau.Hosting.Api;

/// <summary>
/// Whether a readiness caller may see each check's description, which can name Vault's address, file paths and key
/// ids: callers the API itself would admit without asking anyone else (the API token; loopback in mode
/// <c>none</c>). In mode <c>kubernetes</c> the check would need Vault, which a probe must never call, so no caller does.
/// </summary>
internal static class HealthDetailsAccess
{
    public static bool IsAllowed(HttpContext context)
    {
        if (context.RequestServices.GetService<ApiToken>() is not { } token)
        {
            return false;
        }

        var options = context.RequestServices.GetRequiredService<IOptions<TrousseauApiOptions>>().Value;
        return options.Auth.Mode switch
        {
            TrousseauApiAuthMode.None => ApiAuthenticationFilter.IsLoopback(context.Connection),
            TrousseauApiAuthMode.Token => ApiAuthenticationFilter.TryReadBearer(context.Request, out var presented) && presented is not null && token.Matches(presented),
            _ => false,
        };
    }
}
