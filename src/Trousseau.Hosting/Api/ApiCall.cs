using Microsoft.AspNetCore.Http;

namespace Trousseau.Hosting.Api;

/// <summary>
/// What is known about one API request as it goes through the pipeline: filled by the authentication filter
/// (<see cref="Identity"/>), the handlers (<see cref="SecretName"/>, <see cref="Revision"/>) and read by the policy
/// check and the audit trail. Never holds a value, token, plaintext or ciphertext.
/// </summary>
internal sealed class ApiCall
{
    /// <summary>The route's action, or <see langword="null"/> for a route any identity may call.</summary>
    public string? Action { get; init; }

    /// <summary>
    /// Who is calling, once authenticated: <c>admin</c>, <c>system:serviceaccount:NS:NAME</c>, a certificate subject,
    /// or <c>anonymous</c> (mode <c>none</c>).
    /// </summary>
    public string? Identity { get; set; }

    /// <summary>The secret the call is about, when it names one.</summary>
    public string? SecretName { get; set; }

    /// <summary>
    /// <see cref="SecretName"/> as the audit trail and error details show it: as the caller sent it, but a name longer
    /// than any valid one (a body can carry one up to <c>Api:MaxRequestBodyBytes</c>) cut to
    /// <see cref="TrousseauLimits.MaxNameLength"/> characters followed by <c>…</c>, so that a refused call cannot write
    /// megabytes into the trail or an answer.
    /// </summary>
    public string? ShownSecretName => SecretName is { } name ? Excerpt.Of(name, TrousseauLimits.MaxNameLength) : null;

    /// <summary>The secret's revision after the call, when it has one.</summary>
    public long? Revision { get; set; }

    /// <summary>
    /// What a change (of a secret, or a key rotation) is given to stop by, in place of
    /// <see cref="HttpContext.RequestAborted"/>: cancelled only when the host's stop cuts the call off, not when the
    /// caller goes away, since a change that has reached the store or the key provider may be made there all the same;
    /// carried through, it is audited as done, with the revision it made.
    /// </summary>
    public CancellationToken ChangeAborted { get; set; }

    /// <summary>The call record of <paramref name="context"/>, created on first use.</summary>
    public static ApiCall Of(HttpContext context)
    {
        if (context.Features.Get<ApiCall>() is { } call)
        {
            return call;
        }

        call = new ApiCall { Action = context.GetEndpoint()?.Metadata.GetMetadata<ApiActionMetadata>()?.Name };
        context.Features.Set(call);
        return call;
    }
}
