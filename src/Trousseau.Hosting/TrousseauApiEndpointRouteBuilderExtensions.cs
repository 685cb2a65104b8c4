using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.DependencyInjection;
using Trousseau;
using Trousseau.Hosting.Api;

namespace Microsoft.AspNetCore.Builder;

/// <summary>Maps Trousseau's HTTP API onto an ASP.NET Core application.</summary>
public static class TrousseauApiEndpointRouteBuilderExtensions
{
    // Every GET route answers HEAD too (RFC 9110, section 9.1), as the same endpoint: same action, policy and audit.
    private static readonly string[] GetAndHead = [HttpMethods.Get, HttpMethods.Head];

    /// <summary>
    /// Maps the secrets API: <c>/v1/secrets</c> (create, get, update, patch, delete, list, generate, regenerate),
    /// <c>/v1/keys</c> (status, rotate, rewrap), <c>/v1/encrypt</c>, <c>/v1/decrypt</c> and <c>/v1/auth/whoami</c>
    /// (each <c>GET</c> route answering <c>HEAD</c> as well, and refusing a query parameter it does not take),
    /// authenticated as <c>Trousseau:Api:Auth</c> says and allowed as <c>Trousseau:Api:Policies</c> says, errors as
    /// problem details (unexpected ones too, through the exception handler <c>AddHttpApi</c> registers), each call
    /// recorded in the audit trail when <c>AddAuditTrail</c> registered one. Register it first with
    /// <c>AddTrousseau(...).AddHttpApi()</c>.
    /// </summary>
    /// <param name="endpoints">The endpoint route builder.</param>
    /// <returns>The route group, for adding conventions.</returns>
    public static RouteGroupBuilder MapTrousseauApi(this IEndpointRouteBuilder endpoints)
    {
        ArgumentNullException.ThrowIfNull(endpoints);
        if (endpoints.ServiceProvider.GetService<ApiAuthenticationFilter>() is not { } authentication)
        {
            throw new InvalidOperationException("MapTrousseauApi needs its services: call services.AddTrousseau(...).AddHttpApi() first.");
        }

        // Made now, not at the first call, so that the policies follow every configuration change from the start.
        endpoints.ServiceProvider.GetRequiredService<ApiPolicies>();

        var api = endpoints.MapGroup("/v1").WithMetadata(TrousseauApiEndpointMetadata.Instance);
        api.AddEndpointFilter<NoSniffFilter>();
        if (endpoints.ServiceProvider.GetService<IAuditTrail>() is not null)
        {
            api.AddEndpointFilter<ApiAuditFilter>();
        }

        api.AddEndpointFilter<ApiCallFilter>();
        api.AddEndpointFilter<BrowserRequestFilter>();
        api.AddEndpointFilter(authentication);
        api.AddEndpointFilter<ApiRouteFilter>();

        // The name as sent is checked before the policies, so that a misspelt name is a 400 whoever calls, and a path
        // whose dot segments the server resolved to another name is refused rather than checked against that name.
        api.AddEndpointFilter<RequestTargetFilter>();
        api.AddEndpointFilter<SecretNameFilter>();
        api.AddEndpointFilter<ApiAuthorizationFilter>();
        api.AddEndpointFilter<JsonContentTypeFilter>();
        api.AddEndpointFilter<ApiExceptionFilter>();

        // Trousseau's own routes, in a group of their own inside the one returned: each refuses a query parameter it
        // does not take, while a route the application adds to the returned group reads its query as it likes.
        var routes = api.MapGroup("");
        routes.AddEndpointFilter<QueryParameterFilter>();

        routes.MapPost("/secrets", SecretEndpoints.CreateAsync).WithMetadata(new ApiActionMetadata(ApiAction.Create));
        routes.MapMethods("/secrets", GetAndHead, SecretEndpoints.ListAsync)
            .WithMetadata(new ApiActionMetadata(ApiAction.List), new ApiQueryParameters(["prefix", "limit", "continue"]));
        routes.MapMethods("/secrets/{**name}", GetAndHead, SecretEndpoints.GetAsync).WithMetadata(new ApiActionMetadata(ApiAction.Read));
        routes.MapPut("/secrets/{**name}", SecretEndpoints.UpdateAsync).WithMetadata(new ApiActionMetadata(ApiAction.Update));
        routes.MapPatch("/secrets/{**name}", SecretEndpoints.PatchAsync).WithMetadata(new ApiActionMetadata(ApiAction.Update));
        routes.MapDelete("/secrets/{**name}", SecretEndpoints.DeleteAsync).WithMetadata(new ApiActionMetadata(ApiAction.Delete));
        routes.MapPost("/secrets/{**path}", SecretEndpoints.PostToSecretAsync).WithMetadata(
            new ApiActionMetadata(ApiAction.Generate),
            new ApiRouteMatch(
                static request => request.RouteValues["path"] is string path && SecretEndpoints.PostedSecretName(path) is not null,
                SecretEndpoints.NoPostRoute));

        routes.MapMethods("/keys", GetAndHead, SecretEndpoints.KeyStatusAsync).WithMetadata(new ApiActionMetadata(ApiAction.Keys));
        routes.MapPost("/keys/rotate", SecretEndpoints.RotateAsync).WithMetadata(new ApiActionMetadata(ApiAction.Keys));
        routes.MapPost("/keys/rewrap", SecretEndpoints.RewrapAsync).WithMetadata(new ApiActionMetadata(ApiAction.Keys));

        routes.MapPost("/encrypt", SecretEndpoints.EncryptAsync).WithMetadata(new ApiActionMetadata(ApiAction.Encrypt));
        routes.MapPost("/decrypt", SecretEndpoints.DecryptAsync).WithMetadata(new ApiActionMetadata(ApiAction.Decrypt));

        routes.MapMethods("/auth/whoami", GetAndHead, AuthEndpoints.WhoAmI);
        return api;
    }
}
