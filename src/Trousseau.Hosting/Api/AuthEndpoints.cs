using Microsoft.AspNetCore.Http;
using Trousseau.Remote;

namespace Trousseau.Hosting.Api;

/// <summary>The handler of <c>GET /v1/auth/whoami</c>, which any authenticated identity may call.</summary>
internal static class AuthEndpoints
{
    /// <summary>The caller's identity, the actions it may do, and the policies that name it (each with its secret globs and actions).</summary>
    public static IResult WhoAmI(HttpContext context, ApiPolicies policies)
    {
        var identity = ApiCall.Of(context).Identity!;
        var named = policies.For(identity);
        var actions = ApiAction.All.Where(a => named.Any(p => p.Actions.Contains(a, StringComparer.Ordinal))).ToList();
        return Results.Json(
            new WhoAmIBody(identity, actions, [.. named.Select(p => new WhoAmIPolicyBody([.. p.Secrets.Select(s => s.Pattern)], p.Actions))]),
            ApiJson.Wire.WhoAmIBody);
    }
}
