using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace Trousseau.Hosting.Api;

/// <summary>
/// <c>Api:Policies</c>, ready to decide: whether an identity may do an action, on a secret when the action acts on
/// one. Without any policy every identity may do everything. With policies, a call is allowed when one policy's
/// <c>Subjects</c> match the identity, its <c>Actions</c> hold the action and, for an action on secrets, its
/// <c>Secrets</c> match the secret's name; <c>keys</c>, <c>encrypt</c> and <c>decrypt</c> ignore <c>Secrets</c>.
/// </summary>
/// <remarks>
/// The policies follow a reloaded configuration: from the first call after a change validates, the new ones decide
/// (so that taking a right away needs no restart). A change that does not validate never reaches them (the options
/// monitor gives no value), so the policies in force stay. Nor does one that leaves no policy while some are in force:
/// no policy lets every identity do everything, which a file read half-way or an entry removed by mistake must not do,
/// so lifting every policy takes a restart.
/// </remarks>
internal sealed partial class ApiPolicies : IDisposable
{
    private static readonly IReadOnlyList<ApiPolicy> Unrestricted = [new([], [ApiGlob.Secret("**")], ApiAction.All)];

    private readonly string _policiesKey;
    private readonly ILogger _logger;
    private readonly Lazy<IReadOnlyList<ApiPolicy>> _atStart;
    private readonly IDisposable? _changes;
    private volatile IReadOnlyList<ApiPolicy>? _followed;

    /// <param name="options">The API options as validated at start by <see cref="TrousseauApiOptionsValidator"/>.</param>
    /// <param name="changes">The same options as a reloaded configuration changes them.</param>
    /// <param name="policiesKey">The configuration key of the policies, for example <c>Trousseau:Api:Policies</c>, for messages.</param>
    /// <param name="logger">Where a change taken or refused is told.</param>
    public ApiPolicies(IOptions<TrousseauApiOptions> options, IOptionsMonitor<TrousseauApiOptions> changes, string policiesKey, ILogger<ApiPolicies> logger)
    {
        _policiesKey = policiesKey;
        _logger = logger;
        _atStart = new(() => [.. options.Value.Policies.Select(ApiPolicy.From)]);
        _changes = changes.OnChange(Follow);
    }

    private IReadOnlyList<ApiPolicy> Policies => _followed ?? _atStart.Value;

    /// <summary>Whether <paramref name="identity"/> may do <paramref name="action"/>: on <paramref name="secretName"/>, or, without one, on some secret.</summary>
    public bool Allows(string identity, string action, string? secretName) =>
        Policies is var policies && (policies.Count == 0 || policies.Any(p => p.Allows(identity, action, secretName)));

    /// <summary>
    /// The policies that name <paramref name="identity"/>, each with its secret globs and actions (in the order of
    /// <see cref="ApiAction.All"/>); without any policy, one that allows every action on every secret (<c>**</c>).
    /// </summary>
    public IReadOnlyList<ApiPolicy> For(string identity) =>
        Policies is { Count: > 0 } policies ? [.. policies.Where(p => p.Names(identity))] : Unrestricted;

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
        return ApiProblems.Forbidden($"The identity '{identity}' may not do '{action}'{target}: no entry of {_policiesKey} allows it.");
    }

    public void Dispose() => _changes?.Dispose();

    private void Follow(TrousseauApiOptions options, string? name)
    {
        if (name != Options.DefaultName)
        {
            return;
        }

        var current = Policies;
        IReadOnlyList<ApiPolicy> changed = [.. options.Policies.Select(ApiPolicy.From)];
        if (changed.Count == 0 && current.Count > 0)
        {
            LogEmptiedNotTaken(_logger, _policiesKey, current.Count);
            return;
        }

        if (!changed.Select(p => p.Description).SequenceEqual(current.Select(p => p.Description), StringComparer.Ordinal))
        {
            _followed = changed;
            LogTaken(_logger, _policiesKey, changed.Count);
        }
    }

    [LoggerMessage(EventId = 5300, Level = LogLevel.Information, Message = "{PoliciesKey} changed; from the next call on, calls are checked against the entries it holds now ({Count}).")]
    private static partial void LogTaken(ILogger logger, string policiesKey, int count);

    [LoggerMessage(EventId = 5301, Level = LogLevel.Warning, Message = "The changed {PoliciesKey} is not taken: it holds no policy, which would let every identity do everything. The {Count} policies in force stay until a change holds at least one; only a restart lifts them all.")]
    private static partial void LogEmptiedNotTaken(ILogger logger, string policiesKey, int count);
}

/// <summary>One policy, its globs compiled and its actions in lower case, in the order of <see cref="ApiAction.All"/>.</summary>
internal sealed record ApiPolicy(IReadOnlyList<ApiGlob> Subjects, IReadOnlyList<ApiGlob> Secrets, IReadOnlyList<string> Actions)
{
    public static ApiPolicy From(TrousseauApiPolicy policy) => new(
        [.. policy.Subjects.Select(ApiGlob.Subject)],
        [.. policy.Secrets.Select(ApiGlob.Secret)],
        [.. ApiAction.All.Where(a => policy.Actions.Contains(a, StringComparer.OrdinalIgnoreCase))]);

    /// <summary>The policy as configured, in one string, to tell whether a reloaded configuration changed it.</summary>
    public string Description =>
        $"{string.Join('\n', Subjects.Select(s => s.Pattern))}\0{string.Join('\n', Secrets.Select(s => s.Pattern))}\0{string.Join('\n', Actions)}";

    public bool Names(string identity) => Subjects.Any(s => s.IsMatch(identity));

    public bool Allows(string identity, string action, string? secretName) =>
        Actions.Contains(action, StringComparer.Ordinal) && Names(identity) && Covers(action, secretName);

    // keys, encrypt and decrypt ignore Secrets; an action on secrets whose name is not known yet (a listing, whose
    // items are checked one by one, or a create before its body is read) is allowed here and checked again by name.
    private bool Covers(string action, string? secretName) =>
        !ApiAction.ActsOnSecrets(action) || secretName is null || Secrets.Any(s => s.IsMatch(secretName));
}
