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
    /// (each <c>GET</c> route answering <c>HEAD</c> as well),
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

        var api = endpoints.MapGroup("/v1").WithMetadata(TrousseauApiEndpointMetadata.Instance);
        if (endpoints.ServiceProvider.GetService<IAuditTrail>() is not null)
        {
            api.AddEndpointFilter<ApiAuditFilter>();
        }

        api.AddEndpointFilter<ApiCallFilter>();
        api.AddEndpointFilter<BrowserRequestFilter>();
        api.AddEndpointFilter(authentication);
        api.AddEndpointFilter<ApiAuthorizationFilter>();
        api.AddEndpointFilter<JsonContentTypeFilter>();
        api.AddEndpointFilter<ApiExceptionFilter>();
        api.AddEndpointFilter<RequestTargetFilter>();
        api.AddEndpointFilter<QueryParameterFilter>();

        api.MapPost("/secrets", SecretEndpoints.CreateAsync).WithMetadata(new ApiActionMetadata(ApiAction.Create));
        api.MapMethods("/secrets", GetAndHead, SecretEndpoints.ListAsync)
            .WithMetadata(new ApiActionMetadata(ApiAction.List), new ApiQueryParameters(["prefix", "limit", "continue"]));
        api.MapMethods("/secrets/{**name}", GetAndHead, SecretEndpoints.GetAsync).WithMetadata(new ApiActionMetadata(ApiAction.Read));
        api.MapPut("/secrets/{**name}", SecretEndpoints.UpdateAsync).WithMetadata(new ApiActionMetadata(ApiAction.Update));
        api.MapPatch("/secrets/{**name}", SecretEndpoints.PatchAsync).WithMetadata(new ApiActionMetadata(ApiAction.Update));
        api.MapDelete("/secrets/{**name}", SecretEndpoints.DeleteAsync).WithMetadata(new ApiActionMetadata(ApiAction.Delete));
        api.MapPost("/secrets/{**path}", SecretEndpoints.PostToSecretAsync).WithMetadata(new ApiActionMetadata(ApiAction.Generate));

        api.MapMethods("/keys", GetAndHead, SecretEndpoints.KeyStatusAsync).WithMetadata(new ApiActionMetadata(ApiAction.Keys));
        api.MapPost("/keys/rotate", SecretEndpoints.RotateAsync).WithMetadata(new ApiActionMetadata(ApiAction.Keys));
        api.MapPost("/keys/rewrap", SecretEndpoints.RewrapAsync).WithMetadata(new ApiActionMetadata(ApiAction.Keys));

        api.MapPost("/encrypt", SecretEndpoints.EncryptAsync).WithMetadata(new ApiActionMetadata(ApiAction.Encrypt));
        api.MapPost("/decrypt", SecretEndpoints.DecryptAsync).WithMetadata(new ApiActionMetadata(ApiAction.Decrypt));

        api.MapMethods("/auth/whoami", GetAndHead, AuthEndpoints.WhoAmI);
        return api;
    }
}
