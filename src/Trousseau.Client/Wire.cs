using System.Text.Json;
using System.Text.Json.Serialization;

namespace Trousseau.Remote;

// The JSON bodies of trousseaud's HTTP API (docs/reference.md), shared by the server endpoints and the remote client.
// Request bodies are read strictly: a member the API does not know is an error, not ignored.

/// <summary>The body of <c>POST /v1/secrets</c>: creates a secret.</summary>
/// <param name="Name">The secret's name.</param>
/// <param name="Type">The secret's type: <c>opaque</c> or <c>login</c>.</param>
/// <param name="Data">The secret's data, key to value.</param>
[JsonUnmappedMemberHandling(JsonUnmappedMemberHandling.Disallow)]
public sealed record CreateSecretBody(string? Name, string? Type, Dictionary<string, string>? Data);

/// <summary>The body of <c>PUT /v1/secrets/{name}</c>: replaces a secret's data.</summary>
/// <param name="Type">The new type, or <see langword="null"/> to keep the stored one.</param>
/// <param name="Data">The secret's new data, key to value.</param>
[JsonUnmappedMemberHandling(JsonUnmappedMemberHandling.Disallow)]
public sealed record UpdateSecretBody(string? Type, Dictionary<string, string>? Data);

/// <summary>
/// The body of <c>PATCH /v1/secrets/{name}</c>, sent as <c>application/merge-patch+json</c>: a JSON merge patch
/// (RFC 7396) of the secret, of which only <c>data</c> can change.
/// </summary>
/// <param name="Data">The data keys to change: a string sets the key, <see langword="null"/> removes it.</param>
[JsonUnmappedMemberHandling(JsonUnmappedMemberHandling.Disallow)]
public sealed record PatchSecretBody(Dictionary<string, string?>? Data);

/// <summary>
/// The body of <c>POST /v1/secrets/{name}/regenerate</c>: a new value, made by the server, for one key of an existing
/// secret. Each member left <see langword="null"/> takes the default of <see cref="SecretRegenerationOptions"/>.
/// </summary>
/// <param name="Key">The data key that receives the new value.</param>
/// <param name="Length">The new value's length, in characters.</param>
/// <param name="Alphabet">The characters the value is drawn from.</param>
[JsonUnmappedMemberHandling(JsonUnmappedMemberHandling.Disallow)]
public sealed record RegenerateSecretBody(string? Key, int? Length, string? Alphabet);

/// <summary>
/// The body of <c>POST /v1/secrets/{name}/generate</c>: creates a secret whose value the server generates. Each
/// member left <see langword="null"/> takes the default of <see cref="SecretGenerationOptions"/>.
/// </summary>
/// <param name="Type">The secret's type: <c>opaque</c> or <c>login</c>.</param>
/// <param name="Key">The data key of the generated value.</param>
/// <param name="Length">The generated value's length, in characters.</param>
/// <param name="Alphabet">The characters the value is drawn from.</param>
/// <param name="Username">The user name of a login secret.</param>
/// <param name="Endpoint">The endpoint of a login secret.</param>
[JsonUnmappedMemberHandling(JsonUnmappedMemberHandling.Disallow)]
public sealed record GenerateSecretBody(string? Type, string? Key, int? Length, string? Alphabet, string? Username, string? Endpoint);

/// <summary>A secret's metadata, as the API answers a create, update or generate, and as each item of a listing.</summary>
/// <param name="Name">The secret's name.</param>
/// <param name="Type">The secret's type.</param>
/// <param name="Revision">The revision, for <c>If-Match</c> on a later update or delete.</param>
/// <param name="CreatedAt">When the secret was created.</param>
/// <param name="UpdatedAt">When the secret was last written.</param>
public sealed record SecretMetadataBody(string Name, string Type, long Revision, DateTimeOffset CreatedAt, DateTimeOffset UpdatedAt)
{
    /// <summary>The body that describes <paramref name="metadata"/>.</summary>
    /// <param name="metadata">A secret's metadata.</param>
    /// <returns>The body.</returns>
    public static SecretMetadataBody From(SecretMetadata metadata)
    {
        ArgumentNullException.ThrowIfNull(metadata);
        return new(metadata.Name, metadata.Type.Value, metadata.Revision, metadata.CreatedAt, metadata.UpdatedAt);
    }

    /// <summary>The metadata this body describes.</summary>
    /// <returns>The metadata.</returns>
    public SecretMetadata ToMetadata() => new(Name, new SecretType(Type), Revision, CreatedAt, UpdatedAt);
}

/// <summary>The answer to <c>GET /v1/secrets/{name}</c>: a secret with its data.</summary>
/// <param name="Name">The secret's name.</param>
/// <param name="Type">The secret's type.</param>
/// <param name="Data">The secret's data, key to value.</param>
/// <param name="Revision">The revision, for <c>If-Match</c> on a later update or delete.</param>
/// <param name="CreatedAt">When the secret was created.</param>
/// <param name="UpdatedAt">When the secret was last written.</param>
public sealed record SecretBody(string Name, string Type, IReadOnlyDictionary<string, string> Data, long Revision, DateTimeOffset CreatedAt, DateTimeOffset UpdatedAt)
{
    /// <summary>The body that carries <paramref name="secret"/>.</summary>
    /// <param name="secret">A secret.</param>
    /// <returns>The body.</returns>
    public static SecretBody From(Secret secret)
    {
        ArgumentNullException.ThrowIfNull(secret);
        return new(secret.Name, secret.Type.Value, secret.Data, secret.Metadata.Revision, secret.Metadata.CreatedAt, secret.Metadata.UpdatedAt);
    }
}

/// <summary>The answer to <c>GET /v1/secrets</c>: one page of a listing, in name order.</summary>
/// <param name="Items">The secrets of this page.</param>
/// <param name="Continue">The token of the next page (the <c>continue</c> query parameter), or <see langword="null"/> on the last page.</param>
public sealed record SecretListBody(IReadOnlyList<SecretMetadataBody> Items, string? Continue = null);

/// <summary>The answer to <c>GET /v1/keys</c> and <c>POST /v1/keys/rotate</c>: the key that encrypts new data.</summary>
/// <param name="KeyId">The key's id.</param>
/// <param name="Provider">The key provider, for example <c>vault</c>.</param>
/// <param name="Version">The key's version.</param>
public sealed record KeyStatusBody(string KeyId, string Provider, uint Version)
{
    /// <summary>The body that describes <paramref name="status"/>.</summary>
    /// <param name="status">A key status.</param>
    /// <returns>The body.</returns>
    public static KeyStatusBody From(KeyStatus status)
    {
        ArgumentNullException.ThrowIfNull(status);
        return new(status.KeyId, status.Provider, status.Version);
    }
}

/// <summary>
/// The body of <c>POST /v1/keys/rotate</c> and <c>POST /v1/keys/rewrap</c>, which take no input: <c>{}</c>, so that a
/// request asking for something these routes do not do (another key, a dry run) changes nothing.
/// </summary>
[JsonUnmappedMemberHandling(JsonUnmappedMemberHandling.Disallow)]
public sealed record EmptyBody;

/// <summary>The answer to <c>POST /v1/keys/rewrap</c>: each stored secret found is counted once.</summary>
/// <param name="Rewrapped">How many stored secrets were sealed anew under the current key.</param>
/// <param name="Skipped">How many needed no move: already under the current key, or deleted meanwhile.</param>
/// <param name="Failed">How many stay under an older key: not decrypted, or written again under an older key at each attempt (0 from a server that does not count them).</param>
public sealed record RewrapBody(long Rewrapped, long Skipped, long Failed)
{
    /// <summary>
    /// The id of the key the secrets were moved to (a newer one than the key current when the rewrap began if the key
    /// rotated while it ran), or <see langword="null"/> from a server that does not say.
    /// </summary>
    public string? KeyId { get; init; }
}

/// <summary>The body of <c>POST /v1/encrypt</c>.</summary>
/// <param name="Plaintext">The bytes to encrypt, in base64.</param>
/// <param name="Context">Associated data that decryption must give again, in base64, or <see langword="null"/>.</param>
[JsonUnmappedMemberHandling(JsonUnmappedMemberHandling.Disallow)]
public sealed record EncryptBody(string? Plaintext, string? Context);

/// <summary>The answer to <c>POST /v1/encrypt</c>.</summary>
/// <param name="Ciphertext">The envelope, in base64.</param>
/// <param name="KeyId">The id of the key that wrapped its data key.</param>
/// <param name="Provider">The key provider, for example <c>vault</c>.</param>
/// <param name="KeyVersion">The version of that key.</param>
public sealed record EncryptedBody(string Ciphertext, string KeyId, string Provider, uint KeyVersion);

/// <summary>The body of <c>POST /v1/decrypt</c>.</summary>
/// <param name="Ciphertext">An envelope from <c>/v1/encrypt</c>, in base64.</param>
/// <param name="Context">The associated data given to the encryption, in base64, or <see langword="null"/>.</param>
[JsonUnmappedMemberHandling(JsonUnmappedMemberHandling.Disallow)]
public sealed record DecryptBody(string? Ciphertext, string? Context);

/// <summary>The answer to <c>POST /v1/decrypt</c>.</summary>
/// <param name="Plaintext">The decrypted bytes, in base64.</param>
public sealed record DecryptedBody(string Plaintext);

/// <summary>The answer to <c>GET /v1/auth/whoami</c>: who the server takes the caller for, and what it may do.</summary>
/// <param name="Identity">
/// The caller's identity: <c>admin</c> (the API token), <c>system:serviceaccount:&lt;namespace&gt;:&lt;name&gt;</c>
/// (Kubernetes mode), a client certificate's subject (mutual TLS) or <c>anonymous</c> (mode <c>none</c>).
/// </param>
/// <param name="Actions">Every action some policy allows the caller, in the documented order.</param>
/// <param name="Policies">The policies that name the caller; without any policy configured, one allowing every action on every secret.</param>
public sealed record WhoAmIBody(string Identity, IReadOnlyList<string> Actions, IReadOnlyList<WhoAmIPolicyBody> Policies);

/// <summary>One policy that names the caller, as <c>GET /v1/auth/whoami</c> shows it.</summary>
/// <param name="Secrets">The globs of the secret names it covers (<c>**</c> for all).</param>
/// <param name="Actions">The actions it allows on them.</param>
public sealed record WhoAmIPolicyBody(IReadOnlyList<string> Secrets, IReadOnlyList<string> Actions);

/// <summary>
/// An error answer of the API (RFC 9457 problem details); <paramref name="Type"/> is one of <see cref="ProblemTypes"/>.
/// </summary>
/// <param name="Type">The kind of failure.</param>
/// <param name="Title">A short summary of the kind of failure.</param>
/// <param name="Status">The HTTP status code.</param>
/// <param name="Detail">What went wrong in this request.</param>
public sealed record ProblemBody(string? Type, string? Title, int? Status, string? Detail)
{
    /// <summary>
    /// For <see cref="ProblemTypes.TooLarge"/>, the size in bytes found over the limit (<see cref="SecretTooLargeException.Size"/>:
    /// the secret's data, or the write the store refused), or <see langword="null"/> when the server did not measure it
    /// (a request body over its limit) or is older than this member.
    /// </summary>
    public long? Size { get; init; }
}

/// <summary>
/// The JSON of trousseaud's HTTP API: camel-case names as on the web, read strictly (exact property names, numbers
/// only as JSON numbers, and a property given twice is an error rather than "the last one wins").
/// </summary>
[JsonSourceGenerationOptions(
    JsonSerializerDefaults.Web,
    PropertyNameCaseInsensitive = false,
    NumberHandling = JsonNumberHandling.Strict,
    AllowDuplicateProperties = false,
    DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull)]
[JsonSerializable(typeof(CreateSecretBody))]
[JsonSerializable(typeof(UpdateSecretBody))]
[JsonSerializable(typeof(GenerateSecretBody))]
[JsonSerializable(typeof(PatchSecretBody))]
[JsonSerializable(typeof(RegenerateSecretBody))]
[JsonSerializable(typeof(SecretMetadataBody))]
[JsonSerializable(typeof(SecretBody))]
[JsonSerializable(typeof(SecretListBody))]
[JsonSerializable(typeof(KeyStatusBody))]
[JsonSerializable(typeof(RewrapBody))]
[JsonSerializable(typeof(EmptyBody))]
[JsonSerializable(typeof(EncryptBody))]
[JsonSerializable(typeof(EncryptedBody))]
[JsonSerializable(typeof(DecryptBody))]
[JsonSerializable(typeof(DecryptedBody))]
[JsonSerializable(typeof(WhoAmIBody))]
[JsonSerializable(typeof(ProblemBody))]
public sealed partial class WireJson : JsonSerializerContext;
