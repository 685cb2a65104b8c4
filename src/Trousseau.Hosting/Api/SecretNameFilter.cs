using Microsoft.AspNetCore.Http;

namespace Trousseau.Hosting.Api;

/// <summary>
/// Refuses with 400, naming the name rule, a request whose path names a secret the rule refuses (<c>payments/db/</c>,
/// <c>payments//db</c>, <c>Payments/db</c>), before the policies are consulted: the answer to a misspelt name then says
/// what is wrong with it, whoever calls, rather than 403 for a spelling no policy glob matches.
/// </summary>
internal sealed class SecretNameFilter : IEndpointFilter
{
    public ValueTask<object?> InvokeAsync(EndpointFilterInvocationContext context, EndpointFilterDelegate next)
    {
        if (ApiCall.Of(context.HttpContext).SecretName is { } name && !SecretNames.IsValid(name))
        {
            try
            {
                SecretNames.Validate(name);
            }
            catch (InvalidInputException e)
            {
                return new(ApiProblems.ForException(e, context.HttpContext.Response));
            }
        }

        return next(context);
    }
}
