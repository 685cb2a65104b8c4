using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Options;

namespace Trousseau.Hosting.Api;

/// <summary>
/// <c>Api:Policies</c>, ready to decide: whether an identity may do an action, on a secret when the action acts on
/// one. Without any policy every identity may do everything. With policies, a call is allowed when one policy's
/// <c>Subjects</c> match the identity, its <c>Actions</c> hold the action and, for an action on secrets, its
/// <c>Secrets</c> match the secret's name; <c>keys</c>, <c>encrypt</c> and <c>decrypt</c> ignore <c>Secrets</c>.
/// </summary>
/// <param name="options">The API options, validated at start by <see cref="TrousseauApiOptionsValidator"/>.</param>
/// <param name="policiesKey">The configuration key of the policies, for example <c>Trousseau:Api:Policies</c>, for messages.</param>
internal sealed class ApiPolicies(IOptions<TrousseauApiOptions> options, string policiesKey)
{
    private static readonly IReadOnlyList<ApiPolicy> Unrestricted = [new([], [ApiGlob.Secret("**")], ApiAction.All)];

    private readonly Lazy<IReadOnlyList<ApiPolicy>> _policies = new(() => [.. options.Value.Policies.Select(ApiPolicy.From)]);

    /// <summary>Whether <paramref name="identity"/> may do <paramref name="action"/>: on <paramref name="secretName"/>, or, without one, on some secret.</summary>
    public bool Allows(string identity, string action, string? secretName) =>
        _policies.Value.Count == 0 || _policies.Value.Any(p => p.Allows(identity, action, secretName));

    /// <summary>
    /// The policies that name <paramref name="identity"/>, each with its secret globs and actions (in the order of
    /// <see cref="ApiAction.All"/>); without any policy, one that allows every action on every secret (<c>**</c>).
    /// </summary>
    public IReadOnlyList<ApiPolicy> For(string identity) =>
        _policies.Value.Count == 0 ? Unrestricted : [.. _policies.Value.Where(p => p.Names(identity))];

    /// <summary>
    /// The 403 answer when the call's identity may not do the call's action (on its secret, when known), naming
    /// the identity, the action and the secret; <see langword="null"/> when it may, or when the route has no action.
    /// </summary>
    public IResult? Deny(HttpContext context)
    {
        var call = ApiCall.Of(context);
        if (call.Action is not { } action)
        {
            return null;
        }

        var identity = call.Identity ?? throw new InvalidOperationException("The API checks policies only after authentication.");
        if (Allows(identity, action, call.SecretName))
        {
            return null;
        }

        var target = (ApiAction.ActsOnSecrets(action), call.ShownSecretName) switch
        {
            (false, _) => "",
            (true, null) => " on any secret",
            (true, { } name) => $" on the secret '{name}'",
        };
        return ApiProblems.Forbidden($"The identity '{identity}' may not do '{action}'{target}: no entry of {policiesKey} allows it.");
    }
}

/// <summary>One policy, its globs compiled and its actions in lower case, in the order of <see cref="ApiAction.All"/>.</summary>
internal sealed record ApiPolicy(IReadOnlyList<ApiGlob> Subjects, IReadOnlyList<ApiGlob> Secrets, IReadOnlyList<string> Actions)
{
    public static ApiPolicy From(TrousseauApiPolicy policy) => new(
        [.. policy.Subjects.Select(ApiGlob.Subject)],
        [.. policy.Secrets.Select(ApiGlob.Secret)],
        [.. ApiAction.All.Where(a => policy.Actions.Contains(a, StringComparer.OrdinalIgnoreCase))]);

    public bool Names(string identity) => Subjects.Any(s => s.IsMatch(identity));

    public bool Allows(string identity, string action, string? secretName) =>
        Actions.Contains(action, StringComparer.Ordinal) && Names(identity) && Covers(action, secretName);

    // keys, encrypt and decrypt ignore Secrets; an action on secrets whose name is not known yet (a listing, whose
    // items are checked one by one, or a create before its body is read) is allowed here and checked again by name.
    private bool Covers(string action, string? secretName) =>
        !ApiAction.ActsOnSecrets(action) || secretName is null || Secrets.Any(s => s.IsMatch(secretName));
}
