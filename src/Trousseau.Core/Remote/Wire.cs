using System.Text.Json;
using System.Text.Json.Serialization;

namespace Trousseau.Remote;

// The JSON bodies of trousseaud's HTTP API (docs/reference.md), shared by the server endpoints and the remote client.

[JsonUnmappedMemberHandling(JsonUnmappedMemberHandling.Disallow)]
internal sealed record CreateSecretBody(string? Name, string? Type, Dictionary<string, string>? Data);

[JsonUnmappedMemberHandling(JsonUnmappedMemberHandling.Disallow)]
internal sealed record UpdateSecretBody(string? Type, Dictionary<string, string>? Data);

[JsonUnmappedMemberHandling(JsonUnmappedMemberHandling.Disallow)]
internal sealed record GenerateSecretBody(string? Type, string? Key, int? Length, string? Alphabet, string? Username, string? Endpoint);

internal sealed record SecretMetadataBody(string Name, string Type, long Revision, DateTimeOffset CreatedAt, DateTimeOffset UpdatedAt)
{
    public static SecretMetadataBody From(SecretMetadata m) => new(m.Name, m.Type.Value, m.Revision, m.CreatedAt, m.UpdatedAt);

    public SecretMetadata ToMetadata() => new(Name, new SecretType(Type), Revision, CreatedAt, UpdatedAt);
}

internal sealed record SecretBody(string Name, string Type, IReadOnlyDictionary<string, string> Data, long Revision, DateTimeOffset CreatedAt, DateTimeOffset UpdatedAt)
{
    public static SecretBody From(Secret s) => new(s.Name, s.Type.Value, s.Data, s.Metadata.Revision, s.Metadata.CreatedAt, s.Metadata.UpdatedAt);
}

internal sealed record SecretListBody(IReadOnlyList<SecretMetadataBody> Items, string? Continue = null);

internal sealed record KeyStatusBody(string KeyId, string Provider, uint Version)
{
    public static KeyStatusBody From(KeyStatus k) => new(k.KeyId, k.Provider, k.Version);
}

internal sealed record RewrapBody(long Rewrapped);

[JsonUnmappedMemberHandling(JsonUnmappedMemberHandling.Disallow)]
internal sealed record EncryptBody(string? Plaintext, string? Context);

internal sealed record EncryptedBody(string Ciphertext, string KeyId, string Provider, uint KeyVersion);

[JsonUnmappedMemberHandling(JsonUnmappedMemberHandling.Disallow)]
internal sealed record DecryptBody(string? Ciphertext, string? Context);

internal sealed record DecryptedBody(string Plaintext);

internal sealed record ProblemBody(string? Type, string? Title, int? Status, string? Detail);

// Camel-case names as the web defaults, but read strictly: exact property names, numbers only as JSON numbers, and
// a property given twice is an error rather than "the last one wins".
[JsonSourceGenerationOptions(
    JsonSerializerDefaults.Web,
    PropertyNameCaseInsensitive = false,
    NumberHandling = JsonNumberHandling.Strict,
    AllowDuplicateProperties = false,
    DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull)]
[JsonSerializable(typeof(CreateSecretBody))]
[JsonSerializable(typeof(UpdateSecretBody))]
[JsonSerializable(typeof(GenerateSecretBody))]
[JsonSerializable(typeof(SecretMetadataBody))]
[JsonSerializable(typeof(SecretBody))]
[JsonSerializable(typeof(SecretListBody))]
[JsonSerializable(typeof(KeyStatusBody))]
[JsonSerializable(typeof(RewrapBody))]
[JsonSerializable(typeof(EncryptBody))]
[JsonSerializable(typeof(EncryptedBody))]
[JsonSerializable(typeof(DecryptBody))]
[JsonSerializable(typeof(DecryptedBody))]
[JsonSerializable(typeof(ProblemBody))]
internal sealed partial class WireJson : JsonSerializerContext;
