using System.Globalization;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Mvc;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Trousseau.Remote;

namespace Trousseau.Hosting.Api;

/// <summary>
/// The handlers of <c>/v1/secrets</c>, <c>/v1/keys</c>, <c>/v1/encrypt</c> and <c>/v1/decrypt</c>. A <c>PUT</c>,
/// <c>PATCH</c> or <c>DELETE</c> of <c>/v1/secrets</c> or <c>/v1/secrets/</c> (a script's empty name) reaches its
/// handler without a name, which the name rule then refuses with a 400 problem.
/// </summary>
internal static class SecretEndpoints
{
    private const string GenerateSuffix = "/generate";
    private const string RegenerateSuffix = "/regenerate";

    /// <summary>
    /// What a <c>POST</c> below <c>/v1/secrets/</c> that ends with neither <c>/generate</c> nor <c>/regenerate</c> is
    /// answered, with 404.
    /// </summary>
    public const string NoPostRoute =
        $"POST /v1/secrets/{{name}} is not a route; use POST /v1/secrets to create, POST /v1/secrets/{{name}}{GenerateSuffix} " +
        $"or POST /v1/secrets/{{name}}{RegenerateSuffix}.";

    /// <summary>
    /// The secret a <c>POST /v1/secrets/{path}</c> acts on: <paramref name="path"/> without its <c>/generate</c> or
    /// <c>/regenerate</c>, or <see langword="null"/> when it ends with neither: no route, answered 404
    /// (<see cref="NoPostRoute"/>) by <see cref="ApiRouteFilter"/> once the caller is authenticated, whatever its
    /// body, query or the caller's rights.
    /// </summary>
    public static string? PostedSecretName(string path) =>
        path.EndsWith(RegenerateSuffix, StringComparison.Ordinal) ? path[..^RegenerateSuffix.Length]
        : path.EndsWith(GenerateSuffix, StringComparison.Ordinal) ? path[..^GenerateSuffix.Length]
        : null;

    public static async Task<IResult> CreateAsync(HttpContext context, ITrousseau trousseau, ApiPolicies policies)
    {
        var (body, error) = await ApiRequests.ReadJsonAsync(context, ApiJson.Wire.CreateSecretBody);
        if (error is not null)
        {
            return error;
        }

        if (body!.Name is not { } name)
        {
            return ApiProblems.Invalid("'name' is required.");
        }

        ApiCall.Of(context).SecretName = name;

        // A name the rule refuses is a 400 whatever the policies say of that spelling.
        SecretNames.Validate(name);
        if (policies.Deny(context) is { } denied)
        {
            return denied;
        }

        if (ParseType(body.Type, SecretType.Opaque) is not { } type)
        {
            return UnknownType(body.Type);
        }

        if (body.Data is not { } data)
        {
            return ApiProblems.Invalid("'data' is required: an object of string keys and string values.");
        }

        if (await SecretPreconditions.CheckCreateAsync(context, trousseau, name) is { } failed)
        {
            return failed;
        }

        var metadata = await trousseau.CreateSecretAsync(name, type, data, ApiCall.Of(context).ChangeAborted);
        SetETag(context, metadata.Revision);
        SetLocation(context, $"{context.Request.Path.Value?.TrimEnd('/')}/{name}");
        return Results.Json(SecretMetadataBody.From(metadata), ApiJson.Wire.SecretMetadataBody, statusCode: StatusCodes.Status201Created);
    }

    /// <summary>
    /// <c>GET</c> and <c>HEAD /v1/secrets/{name}</c>: the secret with its data (the server leaves out the body of a
    /// <c>HEAD</c>), or 304 when <c>If-None-Match</c> names its revision. The preconditions are checked against the
    /// revision in the secret's metadata, so a 304 or 412 decrypts nothing: no key-provider call, and an answer while
    /// Vault is down. When the secret changed between that check and the read, they are checked again on what was read.
    /// </summary>
    public static async Task<IResult> GetAsync(HttpContext context, ITrousseau trousseau, string name)
    {
        NoStore(context);
        var (checkedRevision, answer) = await SecretPreconditions.CheckReadAsync(context, trousseau, name);
        if (answer is not null)
        {
            SetETag(context, checkedRevision!.Value);
            return answer;
        }

        var secret = await trousseau.GetSecretAsync(name, context.RequestAborted);
        SetETag(context, secret.Metadata.Revision);
        return (checkedRevision is { } revision && revision != secret.Metadata.Revision
                ? SecretPreconditions.CheckRead(context.Request, name, secret.Metadata.Revision)
                : null)
            ?? Results.Json(SecretBody.From(secret), ApiJson.Wire.SecretBody);
    }

    public static async Task<IResult> UpdateAsync(HttpContext context, ITrousseau trousseau, string? name)
    {
        var (expected, refusal) = await SecretPreconditions.CheckChangeAsync(context, trousseau, name ?? "");
        if (refusal is not null)
        {
            return refusal;
        }

        var (body, error) = await ApiRequests.ReadJsonAsync(context, ApiJson.Wire.UpdateSecretBody);
        if (error is not null)
        {
            return error;
        }

        SecretType? type = null;
        if (body!.Type is not null)
        {
            if (ParseType(body.Type, SecretType.Opaque) is not { } parsed)
            {
                return UnknownType(body.Type);
            }

            type = parsed;
        }

        if (body.Data is not { } data)
        {
            return ApiProblems.Invalid("'data' is required: an object of string keys and string values.");
        }

        var metadata = await trousseau.UpdateSecretAsync(name ?? "", data, type, expected, ApiCall.Of(context).ChangeAborted);
        SetETag(context, metadata.Revision);
        return Results.Json(SecretMetadataBody.From(metadata), ApiJson.Wire.SecretMetadataBody);
    }

    /// <summary>
    /// <c>PATCH /v1/secrets/{name}</c>: a JSON merge patch (RFC 7396) of the secret, <c>{"data": {"k": "v", "gone": null}}</c>,
    /// merged on the server so that the client never reads the values it keeps.
    /// </summary>
    public static async Task<IResult> PatchAsync(HttpContext context, ITrousseau trousseau, string? name)
    {
        var (expected, refusal) = await SecretPreconditions.CheckChangeAsync(context, trousseau, name ?? "");
        if (refusal is not null)
        {
            return refusal;
        }

        var (body, error) = await ApiRequests.ReadJsonAsync(context, ApiJson.Wire.PatchSecretBody, ApiRequests.MergePatchMediaType);
        if (error is not null)
        {
            return error;
        }

        if (body!.Data is not { Count: > 0 } changes)
        {
            return ApiProblems.Invalid("'data' is required and cannot be removed: an object of at least one data key, each a string to set it or null to remove it.");
        }

        var (metadata, absent) = await trousseau.PatchSecretAsync(name ?? "", changes, expected, ApiCall.Of(context).ChangeAborted);
        if (absent.Count > 0)
        {
            context.Response.Headers[TrousseauClient.AbsentKeysHeader] = string.Join(", ", absent);
        }

        SetETag(context, metadata.Revision);
        return Results.Json(SecretMetadataBody.From(metadata), ApiJson.Wire.SecretMetadataBody);
    }

    public static async Task<IResult> DeleteAsync(HttpContext context, ITrousseau trousseau, string? name)
    {
        var (expected, refusal) = await SecretPreconditions.CheckChangeAsync(context, trousseau, name ?? "");
        if (refusal is not null)
        {
            return refusal;
        }

        await trousseau.DeleteSecretAsync(name ?? "", expected, ApiCall.Of(context).ChangeAborted);
        return Results.NoContent();
    }

    /// <summary>
    /// <c>GET /v1/secrets?prefix=P&amp;limit=N&amp;continue=T</c>: one page of the metadata the caller may list, with the
    /// token of the next page as <c>continue</c> while there is one. Without <c>limit</c>, a page holds up to
    /// <see cref="TrousseauLimits.DefaultListPageSize"/> items. The store is read on past the secrets the caller may not
    /// list until the page is full and one more secret the caller may list is found, or the listing ends: so
    /// <c>continue</c> always leads on from a secret the page showed (a token from a hidden secret would name it), and
    /// is given only when a secret the caller may list follows (a token given whenever the store holds more would tell
    /// that hidden secrets follow the last one shown).
    /// </summary>
    public static async Task<IResult> ListAsync(
        HttpContext context,
        ITrousseau trousseau,
        ApiPolicies policies,
        string? prefix,
        string? limit,
        [FromQuery(Name = "continue")] string? continueToken)
    {
        var pageSize = TrousseauLimits.DefaultListPageSize;
        if (!string.IsNullOrEmpty(limit)
            && (!int.TryParse(limit, NumberStyles.None, CultureInfo.InvariantCulture, out pageSize) || pageSize is < 1 or > TrousseauLimits.MaxListPageSize))
        {
            return ApiProblems.Invalid($"'limit' must be a whole number from 1 to {TrousseauLimits.MaxListPageSize}.");
        }

        var identity = ApiCall.Of(context).Identity!;
        var listed = new List<SecretMetadataBody>(pageSize);
        var token = string.IsNullOrEmpty(continueToken) ? null : continueToken;

        // One more than the page, so that a caller who may list every secret learns whether one follows in one read.
        var readSize = Math.Min(pageSize + 1, TrousseauLimits.MaxListPageSize);
        do
        {
            var page = await trousseau.ListSecretsPageAsync(prefix ?? "", token, readSize, context.RequestAborted);
            token = page.ContinuationToken;
            foreach (var item in page.Items.Where(item => policies.Allows(identity, ApiAction.List, item.Name)))
            {
                if (listed.Count == pageSize)
                {
                    // A name the caller may list follows the full page: only now does it get a continue token.
                    return Results.Json(new SecretListBody([.. listed], SecretPage.ContinueAfter(listed[^1].Name)), ApiJson.Wire.SecretListBody);
                }

                listed.Add(SecretMetadataBody.From(item));
            }
        }
        while (token is not null);

        return Results.Json(new SecretListBody([.. listed], null), ApiJson.Wire.SecretListBody);
    }

    /// <summary>
    /// <c>POST /v1/secrets/{name}/generate</c> and <c>POST /v1/secrets/{name}/regenerate</c>; any other POST below
    /// <c>/v1/secrets/</c> is not a route.
    /// </summary>
    /// <remarks>
    /// <see cref="ApiRouteFilter"/> has answered any other POST with 404, and <see cref="ApiCallFilter"/> has recorded the
    /// secret (<see cref="PostedSecretName"/>), so the policies were checked on it before the handler runs.
    /// </remarks>
    public static async Task<IResult> PostToSecretAsync(HttpContext context, ITrousseau trousseau, string path)
    {
        var name = PostedSecretName(path) ?? throw new InvalidOperationException($"{nameof(ApiRouteFilter)} lets no other POST below /v1/secrets/ through.");
        NoStore(context);

        if (path.EndsWith(RegenerateSuffix, StringComparison.Ordinal))
        {
            return await RegenerateAsync(context, trousseau, name);
        }

        var (body, error) = await ApiRequests.ReadJsonAsync(context, ApiJson.Wire.GenerateSecretBody);
        if (error is not null)
        {
            return error;
        }

        if (ParseType(body!.Type, SecretType.Opaque) is not { } type)
        {
            return UnknownType(body.Type);
        }

        var options = new SecretGenerationOptions { Type = type, Key = body.Key, Username = body.Username, Endpoint = body.Endpoint };
        if (body.Length is { } length)
        {
            options.Length = length;
        }

        if (body.Alphabet is { } alphabet)
        {
            options.Alphabet = alphabet;
        }

        if (await SecretPreconditions.CheckCreateAsync(context, trousseau, name) is { } failed)
        {
            return failed;
        }

        var metadata = await trousseau.GenerateSecretAsync(name, options, ApiCall.Of(context).ChangeAborted);
        SetETag(context, metadata.Revision);
        SetLocation(context, context.Request.Path.Value![..^GenerateSuffix.Length]);
        return Results.Json(SecretMetadataBody.From(metadata), ApiJson.Wire.SecretMetadataBody, statusCode: StatusCodes.Status201Created);
    }

    /// <summary>
    /// <c>POST /v1/secrets/{name}/regenerate</c>: a new value made on the server for one key of an existing secret;
    /// the answer is the metadata, never the value.
    /// </summary>
    private static async Task<IResult> RegenerateAsync(HttpContext context, ITrousseau trousseau, string name)
    {
        var (expected, refusal) = await SecretPreconditions.CheckChangeAsync(context, trousseau, name);
        if (refusal is not null)
        {
            return refusal;
        }

        var (body, error) = await ApiRequests.ReadJsonAsync(context, ApiJson.Wire.RegenerateSecretBody);
        if (error is not null)
        {
            return error;
        }

        var options = new SecretRegenerationOptions { Key = body!.Key };
        if (body.Length is { } length)
        {
            options.Length = length;
        }

        if (body.Alphabet is { } alphabet)
        {
            options.Alphabet = alphabet;
        }

        var metadata = await trousseau.RegenerateSecretAsync(name, options, expected, ApiCall.Of(context).ChangeAborted);
        SetETag(context, metadata.Revision);
        return Results.Json(SecretMetadataBody.From(metadata), ApiJson.Wire.SecretMetadataBody);
    }

    public static async Task<IResult> KeyStatusAsync(HttpContext context, IKeyAdministration keys) =>
        Results.Json(KeyStatusBody.From(await keys.GetKeyStatusAsync(context.RequestAborted)), ApiJson.Wire.KeyStatusBody);

    public static async Task<IResult> RotateAsync(HttpContext context, IKeyAdministration keys)
    {
        var (_, error) = await ApiRequests.ReadJsonAsync(context, ApiJson.Wire.EmptyBody);
        return error ?? Results.Json(KeyStatusBody.From(await keys.RotateKeyAsync(ApiCall.Of(context).ChangeAborted)), ApiJson.Wire.KeyStatusBody);
    }

    private const string RewrapCutOffByStop =
        "The rewrap was cut off because the server is stopping; the secrets it moved stay moved: run it again to move the rest.";

    /// <summary>The stop's answer with how far the rewrap got, when the key administration says (it does in this process).</summary>
    private static string RewrapCutOffByStopAfter(RewrapResult progress) => string.Create(
        CultureInfo.InvariantCulture,
        $"The rewrap was cut off because the server is stopping, after moving {progress.Rewrapped} {(progress.Rewrapped == 1 ? "secret" : "secrets")} to the current key ({progress.Skipped} needed no move, {progress.Failed} could not be moved); the secrets it moved stay moved: run it again to move the rest.");

    public static async Task<IResult> RewrapAsync(HttpContext context, IKeyAdministration keys)
    {
        var (_, error) = await ApiRequests.ReadJsonAsync(context, ApiJson.Wire.EmptyBody);
        if (error is not null)
        {
            return error;
        }

        // A stop ends the rewrap at once rather than after the host's shutdown timeout (which a supervisor's grace period,
        // 30 s in Kubernetes, may not outlast): the caller is told to run it again, and the process exits promptly.
        var stopping = context.RequestServices.GetRequiredService<IHostApplicationLifetime>().ApplicationStopping;
        using var cancellation = CancellationTokenSource.CreateLinkedTokenSource(context.RequestAborted, stopping);
        RewrapResult result;
        try
        {
            result = await keys.RewrapSecretsAsync(cancellation.Token);
        }
        catch (OperationCanceledException e) when (stopping.IsCancellationRequested && !context.RequestAborted.IsCancellationRequested)
        {
            var detail = e is RewrapCancelledException cancelled ? RewrapCutOffByStopAfter(cancelled.Progress) : RewrapCutOffByStop;
            return ApiProblems.Unavailable(detail, retryAfter: null, context.Response);
        }

        return Results.Json(new RewrapBody(result.Rewrapped, result.Skipped, result.Failed) { KeyId = result.KeyId }, ApiJson.Wire.RewrapBody);
    }

    public static async Task<IResult> EncryptAsync(HttpContext context, ITrousseau trousseau)
    {
        var (body, error) = await ApiRequests.ReadJsonAsync(context, ApiJson.Wire.EncryptBody);
        if (error is not null)
        {
            return error;
        }

        if (!TryBase64(body!.Plaintext, "plaintext", required: true, out var plaintext, out error)
            || !TryBase64(body.Context, "context", required: false, out var encryptionContext, out error))
        {
            return error!;
        }

        var result = await trousseau.EncryptAsync(plaintext, encryptionContext, context.RequestAborted);
        return Results.Json(
            new EncryptedBody(Convert.ToBase64String(result.Ciphertext), result.KeyId, result.Provider, result.KeyVersion),
            ApiJson.Wire.EncryptedBody);
    }

    public static async Task<IResult> DecryptAsync(HttpContext context, ITrousseau trousseau)
    {
        NoStore(context);
        var (body, error) = await ApiRequests.ReadJsonAsync(context, ApiJson.Wire.DecryptBody);
        if (error is not null)
        {
            return error;
        }

        if (!TryBase64(body!.Ciphertext, "ciphertext", required: true, out var ciphertext, out error)
            || !TryBase64(body.Context, "context", required: false, out var encryptionContext, out error))
        {
            return error!;
        }

        var plaintext = await trousseau.DecryptAsync(ciphertext, encryptionContext, context.RequestAborted);
        return Results.Json(new DecryptedBody(Convert.ToBase64String(plaintext)), ApiJson.Wire.DecryptedBody);
    }

    private static SecretType? ParseType(string? value, SecretType fallback)
    {
        if (value is null)
        {
            return fallback;
        }

        if (value.Length == 0)
        {
            return null;
        }

        var type = new SecretType(value);
        return type.IsKnown ? type : null;
    }

    // The type as sent, cut after 40 characters: no type name is longer, and a body may carry megabytes of one.
    private static IResult UnknownType(string? type) =>
        ApiProblems.Invalid($"'type' must be 'opaque' or 'login', not '{Excerpt.Of(type ?? "", 40)}'.");

    private static bool TryBase64(string? value, string field, bool required, out byte[] bytes, out IResult? error)
    {
        bytes = [];
        error = null;
        if (value is null)
        {
            error = required ? ApiProblems.Invalid($"'{field}' is required (base64).") : null;
            return !required;
        }

        try
        {
            bytes = Convert.FromBase64String(value);
            return true;
        }
        catch (FormatException)
        {
            error = ApiProblems.Invalid($"'{field}' is not valid base64.");
            return false;
        }
    }

    /// <summary>
    /// Tells every cache on the way not to keep the answer (RFC 9111, section 5.2.2.5): a secret's value, a decrypted
    /// plaintext, or the answer to a generate or regenerate, which made a value.
    /// </summary>
    private static void NoStore(HttpContext context) => context.Response.Headers.CacheControl = "no-store";

    /// <summary>
    /// The <c>Location</c> of a 201: the new secret's <c>GET</c> address, <paramref name="path"/> below the path base
    /// the application serves the API under. A valid name holds no character a URL path must escape.
    /// </summary>
    private static void SetLocation(HttpContext context, string path) =>
        context.Response.Headers.Location = context.Request.PathBase.Add(new PathString(path)).ToUriComponent();

    private static void SetETag(HttpContext context, long revision)
    {
        context.Response.Headers.ETag = $"\"{revision}\"";
        ApiCall.Of(context).Revision = revision;
    }
}
