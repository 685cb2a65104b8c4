using System.Buffers;
using System.Globalization;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Primitives;

namespace Trousseau.Hosting.Api;

/// <summary>
/// The conditional headers of a request on one secret, whose entity tag is its revision (RFC 9110, section 13):
/// <c>If-Match</c>, compared strongly (section 13.1.1: a weak tag never matches, so a header of weak tags alone is
/// false and answered 412), and <c>If-None-Match</c>, compared weakly. Each is <c>*</c> or a list of entity tags,
/// <c>"41", "42"</c> (the quotes may be left out of a revision); a tag that is not a revision matches nothing. A
/// header that is neither is malformed, 400. They are evaluated in the order of section 13.2.2, and only where the request would otherwise succeed
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
    /// For a read: without <c>If-Match</c> or <c>If-None-Match</c>, nothing (no revision, no answer). With one, the
    /// secret's revision read from its metadata (404 when it does not exist; its data is neither read nor decrypted)
    /// and the answer <see cref="CheckRead"/> gives at that revision, or <see langword="null"/> to read the secret.
    /// </summary>
    public static async ValueTask<(long? Revision, IResult? Answer)> CheckReadAsync(HttpContext context, ITrousseau trousseau, string name)
    {
        var headers = context.Request.Headers;
        if (StringValues.IsNullOrEmpty(headers.IfMatch) && StringValues.IsNullOrEmpty(headers.IfNoneMatch))
        {
            return (null, null);
        }

        var revision = await CurrentRevisionAsync(trousseau, name, context.RequestAborted) ?? throw new SecretNotFoundException(name);
        return (revision, CheckRead(context.Request, name, revision));
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

        if (preconditions._ifMatch is { } ifMatch && !ifMatch.NamesStrongly(revision))
        {
            return ApiProblems.PreconditionFailed($"The secret '{name}' is not at a revision If-Match names{WeakNote(ifMatch)}.");
        }

        return preconditions._ifNoneMatch is { } ifNoneMatch && ifNoneMatch.NamesWeakly(revision)
            ? Results.StatusCode(StatusCodes.Status304NotModified)
            : null;
    }

    /// <summary>
    /// For a change of an existing secret (<c>PUT</c>, <c>PATCH</c>, <c>DELETE</c>, regenerate): the revision to write
    /// at by compare-and-swap (<see langword="null"/>: any, as for <c>If-Match: *</c> alone, which the write's own
    /// check that the secret exists answers), or the answer refusing the change: 400 when a header is malformed, 412
    /// when a precondition does not hold. A secret that does not exist throws
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

        if (ifNoneMatch is null && ifMatch!.Any)
        {
            // "*" holds while the secret exists (RFC 9110, section 13.1.1), whatever another client writes meanwhile:
            // the write applies to the revision it finds, retrying on a concurrent change as a write without
            // precondition does, and a secret gone by then is 404, as it would be without the header.
            return (null, null);
        }

        var current = await CurrentRevisionAsync(trousseau, name, context.RequestAborted) ?? throw new SecretNotFoundException(name);
        if (ifMatch is not null && !ifMatch.NamesStrongly(current))
        {
            return (null, ApiProblems.PreconditionFailed($"The secret '{name}' is not at a revision If-Match names{WeakNote(ifMatch)}; nothing was changed."));
        }

        if (ifNoneMatch is not null && ifNoneMatch.NamesWeakly(current))
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
        if (!RevisionTags.TryParse(request.Headers.IfMatch.ToString(), out var ifMatch))
        {
            return ApiProblems.Invalid(
                "If-Match must be * or entity tags (revision numbers in quotes), separated by commas, for example \"42\" or \"41\", \"42\".");
        }

        if (!RevisionTags.TryParse(request.Headers.IfNoneMatch.ToString(), out var ifNoneMatch))
        {
            return ApiProblems.Invalid(
                "If-None-Match must be * or entity tags (revision numbers in quotes, weak W/\"42\" or not), separated by commas, for example \"42\" or \"41\", W/\"42\".");
        }

        preconditions = new SecretPreconditions(ifMatch, ifNoneMatch);
        return null;
    }

    /// <summary>Why an <c>If-Match</c> of weak tags failed, for the 412's detail.</summary>
    private static string WeakNote(RevisionTags ifMatch) =>
        ifMatch.HasWeakTag ? " (If-Match compares strongly: a weak tag, W/\"42\", never matches; send \"42\")" : "";

    /// <summary>The secret's revision, or <see langword="null"/> when it does not exist; read from its metadata alone.</summary>
    private static async ValueTask<long?> CurrentRevisionAsync(ITrousseau trousseau, string name, CancellationToken cancellationToken)
    {
        SecretNames.Validate(name);

        // A name sorts before every other name it starts, so the listing from it holds the secret first when it exists.
        var page = await trousseau.ListSecretsPageAsync(name, null, 1, cancellationToken);
        return page.Items is [var first] && first.Name == name ? first.Revision : null;
    }

    /// <summary>
    /// A header's entity tags as revisions: <c>*</c> (<see cref="Any"/>), or the revisions its strong tags name and
    /// those its weak tags name. A well-formed tag that is not a revision (<c>"abc"</c>, <c>"0"</c>) names none.
    /// </summary>
    private sealed record RevisionTags(bool Any, IReadOnlyList<long> Strong, IReadOnlyList<long> Weak, bool HasWeakTag)
    {
        // etagc (RFC 9110, section 8.8.3): visible ASCII but the double quote (0x21 to 0x7E), and obs-text (0x80 to 0xFF).
        private static readonly SearchValues<char> EntityTagCharacters = SearchValues.Create(
            string.Concat(Enumerable.Range(0x21, 0xFF - 0x20).Where(c => c is not ('"' or 0x7F)).Select(c => (char)c)));

        private static readonly SearchValues<char> Digits = SearchValues.Create("0123456789");

        /// <summary>
        /// The one revision a strong comparison can match, when the header names exactly one and holds no weak tag: a compare-and-swap does
        /// the comparison. A header with a weak tag goes through the check, whose 412 says why the weak tag never matches.
        /// </summary>
        public long? Single => !Any && !HasWeakTag && Strong.Count == 1 ? Strong[0] : null;

        /// <summary>Strong comparison (<c>If-Match</c>): a weak tag never matches.</summary>
        public bool NamesStrongly(long revision) => Any || Strong.Contains(revision);

        /// <summary>Weak comparison (<c>If-None-Match</c>): <c>W/"42"</c> and <c>"42"</c> both name revision 42.</summary>
        public bool NamesWeakly(long revision) => Any || Strong.Contains(revision) || Weak.Contains(revision);

        /// <summary>
        /// Parses the header (its lines joined by commas, RFC 9110 section 8.8.3): <see langword="null"/> tags when it
        /// is absent or empty; false when it is neither <c>*</c> nor a comma-separated list of entity tags
        /// (<c>"42"</c>, <c>W/"42"</c>; a revision may be given without quotes, <c>42</c>).
        /// </summary>
        public static bool TryParse(string header, out RevisionTags? tags)
        {
            tags = null;
            var value = header.AsSpan().Trim(" \t");
            if (value.Length == 0)
            {
                return true;
            }

            if (value is "*")
            {
                tags = new RevisionTags(true, [], [], false);
                return true;
            }

            var (strong, weak, hasWeakTag, count) = (new List<long>(), new List<long>(), false, 0);
            var expectTag = true;
            while (true)
            {
                value = value.TrimStart(" \t");
                if (value.IsEmpty)
                {
                    break;
                }

                if (value[0] == ',')
                {
                    value = value[1..];
                    expectTag = true;
                    continue;
                }

                if (!expectTag || !TryReadTag(ref value, out var isWeak, out var revision))
                {
                    return false;
                }

                hasWeakTag |= isWeak;
                if (revision is { } named)
                {
                    (isWeak ? weak : strong).Add(named);
                }

                (expectTag, count) = (false, count + 1);
            }

            // A header of commas alone holds no tag: malformed.
            tags = count > 0 ? new RevisionTags(false, strong, weak, hasWeakTag) : null;
            return count > 0;
        }

        /// <summary>
        /// Reads one entity tag from the start of <paramref name="value"/>: its weakness and the revision it names
        /// (<see langword="null"/> for a well-formed tag that is not a revision, a whole number from 1). What follows the
        /// tag is left for the caller's loop, which takes only a comma or whitespace there.
        /// </summary>
        private static bool TryReadTag(ref ReadOnlySpan<char> value, out bool weak, out long? revision)
        {
            revision = null;
            weak = value.StartsWith("W/", StringComparison.Ordinal);
            if (weak)
            {
                value = value[2..];
            }

            ReadOnlySpan<char> opaque;
            if (!value.IsEmpty && value[0] == '"')
            {
                var end = value[1..].IndexOf('"');
                if (end < 0)
                {
                    return false;
                }

                opaque = value.Slice(1, end);
                if (opaque.ContainsAnyExcept(EntityTagCharacters))
                {
                    return false;
                }

                value = value[(end + 2)..];
            }
            else
            {
                // A revision without quotes, as a script may write it; nothing else goes unquoted.
                var end = value.IndexOfAnyExcept(Digits);
                opaque = end < 0 ? value : value[..end];
                if (weak || opaque.IsEmpty)
                {
                    return false;
                }

                value = value[opaque.Length..];
            }

            if (long.TryParse(opaque, NumberStyles.None, CultureInfo.InvariantCulture, out var number) && number > 0)
            {
                revision = number;
            }

            return true;
        }
    }
}
