using System.Globalization;
using Microsoft.AspNetCore.Http;

namespace Trousseau.Hosting.Api;

/// <summary>
/// The conditional headers of a request on one secret, whose entity tag is its revision (RFC 9110, section 13):
/// <c>If-Match</c>, compared strongly (a weak tag is refused with 400, as it could never match), and
/// <c>If-None-Match</c>, compared weakly. Each is <c>*</c> or a list of revisions, <c>"41", "42"</c> (the quotes may be
/// left out). They are evaluated in the order of section 13.2.2, and only where the request would otherwise succeed
/// (section 13.2.1): a secret that does not exist stays 404 for a read or a change, and one that exists stays 409 for
/// a create.
/// </summary>
internal sealed class SecretPreconditions
{
    private readonly RevisionTags? _ifMatch;
    private readonly RevisionTags? _ifNoneMatch;

    private SecretPreconditions(RevisionTags? ifMatch, RevisionTags? ifNoneMatch)
    {
        _ifMatch = ifMatch;
        _ifNoneMatch = ifNoneMatch;
    }

    /// <summary>
    /// For a read of a secret at <paramref name="revision"/>: 400 when a header is malformed, 412 when <c>If-Match</c>
    /// does not name the revision, 304 when <c>If-None-Match</c> does; <see langword="null"/> to answer the read.
    /// </summary>
    public static IResult? CheckRead(HttpRequest request, string name, long revision)
    {
        if (Read(request, out var preconditions) is { } malformed)
        {
            return malformed;
        }

        if (preconditions._ifMatch is { } ifMatch && !ifMatch.Names(revision))
        {
            return ApiProblems.PreconditionFailed($"The secret '{name}' is not at a revision If-Match names.");
        }

        return preconditions._ifNoneMatch is { } ifNoneMatch && ifNoneMatch.Names(revision)
            ? Results.StatusCode(StatusCodes.Status304NotModified)
            : null;
    }

    /// <summary>
    /// For a change of an existing secret (<c>PUT</c>, <c>PATCH</c>, <c>DELETE</c>, regenerate): the revision to write
    /// at by compare-and-swap (<see langword="null"/>: any), or the answer refusing the change: 400 when a header is
    /// malformed, 412 when a precondition does not hold. A secret that does not exist throws
    /// <see cref="SecretNotFoundException"/>, with preconditions or not.
    /// </summary>
    public static async ValueTask<(long? ExpectedRevision, IResult? Refusal)> CheckChangeAsync(HttpContext context, ITrousseau trousseau, string name)
    {
        if (Read(context.Request, out var preconditions) is { } malformed)
        {
            return (null, malformed);
        }

        var (ifMatch, ifNoneMatch) = (preconditions._ifMatch, preconditions._ifNoneMatch);
        if (ifMatch is null && ifNoneMatch is null)
        {
            return (null, null);
        }

        if (ifNoneMatch is null && ifMatch!.Single is { } single)
        {
            // The write compares it itself, atomically; no read needed.
            return (single, null);
        }

        var current = await CurrentRevisionAsync(trousseau, name, context.RequestAborted) ?? throw new SecretNotFoundException(name);
        if (ifMatch is not null && !ifMatch.Names(current))
        {
            return (null, ApiProblems.PreconditionFailed($"The secret '{name}' is not at a revision If-Match names; nothing was changed."));
        }

        if (ifNoneMatch is not null && ifNoneMatch.Names(current))
        {
            return (null, ApiProblems.PreconditionFailed($"The secret '{name}' is at a revision If-None-Match names (* names any); nothing was changed."));
        }

        // Written at the revision just checked, so a change in between is a 412 too.
        return (current, null);
    }

    /// <summary>
    /// For a create (<c>POST /v1/secrets</c>, generate): 400 when a header is malformed, 412 when <c>If-Match</c> asks
    /// for an existing secret and there is none, else <see langword="null"/>; the create then answers 409 if the
    /// secret exists, whatever the preconditions.
    /// </summary>
    public static async ValueTask<IResult?> CheckCreateAsync(HttpContext context, ITrousseau trousseau, string name)
    {
        if (Read(context.Request, out var preconditions) is { } malformed)
        {
            return malformed;
        }

        return preconditions._ifMatch is not null && await CurrentRevisionAsync(trousseau, name, context.RequestAborted) is null
            ? ApiProblems.PreconditionFailed($"The secret '{name}' does not exist, and If-Match names an existing one; nothing was created.")
            : null;
    }

    /// <summary>Reads the request's preconditions; returns a 400 error result naming the header when one is malformed.</summary>
    private static IResult? Read(HttpRequest request, out SecretPreconditions preconditions)
    {
        preconditions = new SecretPreconditions(null, null);
        if (!RevisionTags.TryParse(request.Headers.IfMatch.ToString(), allowWeak: false, out var ifMatch))
        {
            return ApiProblems.Invalid(
                "If-Match must be * or revision numbers in quotes, separated by commas, for example \"42\" or \"41\", \"42\"; a weak tag (W/\"42\") is not taken: If-Match compares strongly.");
        }

        if (!RevisionTags.TryParse(request.Headers.IfNoneMatch.ToString(), allowWeak: true, out var ifNoneMatch))
        {
            return ApiProblems.Invalid(
                "If-None-Match must be * or revision numbers in quotes, weak (W/\"42\") or not, separated by commas, for example \"42\" or \"41\", \"42\".");
        }

        preconditions = new SecretPreconditions(ifMatch, ifNoneMatch);
        return null;
    }

    /// <summary>The secret's revision, or <see langword="null"/> when it does not exist; read from its metadata alone.</summary>
    private static async ValueTask<long?> CurrentRevisionAsync(ITrousseau trousseau, string name, CancellationToken cancellationToken)
    {
        SecretNames.Validate(name);

        // A name sorts before every other name it starts, so the listing from it holds the secret first when it exists.
        var page = await trousseau.ListSecretsPageAsync(name, null, 1, cancellationToken);
        return page.Items is [var first] && first.Name == name ? first.Revision : null;
    }

    /// <summary>A header's entity tags as revisions: <c>*</c> (<see cref="Any"/>) or a list.</summary>
    private sealed record RevisionTags(bool Any, IReadOnlyList<long> Revisions)
    {
        /// <summary>The one revision of a list of one.</summary>
        public long? Single => !Any && Revisions.Count == 1 ? Revisions[0] : null;

        /// <summary>Whether the tags name an existing secret's <paramref name="revision"/>.</summary>
        public bool Names(long revision) => Any || Revisions.Contains(revision);

        /// <summary>
        /// Parses the header (its lines joined by commas): <see langword="null"/> tags when it is absent or empty;
        /// false when malformed, or holding a weak tag where <paramref name="allowWeak"/> is false, or a tag that is
        /// not a revision (a whole number from 1), which no secret's entity tag could match.
        /// </summary>
        public static bool TryParse(string header, bool allowWeak, out RevisionTags? tags)
        {
            tags = null;
            var value = header.Trim();
            if (value.Length == 0)
            {
                return true;
            }

            if (value == "*")
            {
                tags = new RevisionTags(true, []);
                return true;
            }

            var revisions = new List<long>();
            foreach (var item in value.Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries))
            {
                var tag = item;
                if (tag.StartsWith("W/", StringComparison.Ordinal))
                {
                    if (!allowWeak)
                    {
                        return false;
                    }

                    tag = tag[2..];
                }

                var number = tag.Length > 2 && tag[0] == '"' && tag[^1] == '"' ? tag[1..^1] : tag;
                if (!long.TryParse(number, NumberStyles.None, CultureInfo.InvariantCulture, out var revision) || revision <= 0)
                {
                    return false;
                }

                revisions.Add(revision);
            }

            tags = revisions.Count == 0 ? null : new RevisionTags(false, revisions);
            return tags is not null;
        }
    }
}
