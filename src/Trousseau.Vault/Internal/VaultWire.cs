using System.Text.Json;
using System.Text.Json.Serialization;

namespace Trousseau.Vault.Internal;

/// <summary>Vault's <c>{"errors":[...]}</c> body.</summary>
internal sealed record VaultErrors([property: JsonPropertyName("errors")] IReadOnlyList<string>? Errors);

/// <summary>
/// The <c>auth</c> block of a login or renew answer; <c>metadata</c> is what the auth method says of the caller (for
/// Kubernetes auth, <c>service_account_namespace</c> and <c>service_account_name</c>); <c>token_type</c> is
/// <c>service</c> or <c>batch</c> (a batch token cannot be revoked).
/// </summary>
internal sealed record VaultAuth(
    [property: JsonPropertyName("client_token")] string ClientToken,
    [property: JsonPropertyName("lease_duration")] long LeaseDuration,
    [property: JsonPropertyName("renewable")] bool Renewable,
    [property: JsonPropertyName("metadata")] IReadOnlyDictionary<string, string>? Metadata = null,
    [property: JsonPropertyName("token_type")] string? TokenType = null);

internal sealed record VaultAuthResponse([property: JsonPropertyName("auth")] VaultAuth? Auth);

internal sealed record TokenLookup(
    [property: JsonPropertyName("ttl")] long Ttl,
    [property: JsonPropertyName("renewable")] bool Renewable);

internal sealed record TokenLookupResponse([property: JsonPropertyName("data")] TokenLookup? Data);

internal sealed record KubernetesLogin([property: JsonPropertyName("role")] string Role, [property: JsonPropertyName("jwt")] string Jwt);

internal sealed record AppRoleLogin([property: JsonPropertyName("role_id")] string RoleId, [property: JsonPropertyName("secret_id")] string SecretId);

internal sealed record RenewSelf([property: JsonPropertyName("increment")] string? Increment);

internal sealed record TransitEncrypt([property: JsonPropertyName("plaintext")] string Plaintext);

internal sealed record TransitDecrypt([property: JsonPropertyName("ciphertext")] string Ciphertext);

internal sealed record TransitBatchItem(
    [property: JsonPropertyName("plaintext")] string? Plaintext = null,
    [property: JsonPropertyName("ciphertext")] string? Ciphertext = null);

internal sealed record TransitBatchRequest([property: JsonPropertyName("batch_input")] IReadOnlyList<TransitBatchItem> BatchInput);

internal sealed record TransitBatchResult(
    [property: JsonPropertyName("ciphertext")] string? Ciphertext,
    [property: JsonPropertyName("plaintext")] string? Plaintext,
    [property: JsonPropertyName("error")] string? Error);

internal sealed record TransitBatchResults([property: JsonPropertyName("batch_results")] IReadOnlyList<TransitBatchResult>? BatchResults);

/// <summary>A batch's answer: its results, or, for a 500 that is not an item's failure, Vault's <c>errors</c>.</summary>
internal sealed record TransitBatchResponse(
    [property: JsonPropertyName("data")] TransitBatchResults? Data,
    [property: JsonPropertyName("errors")] IReadOnlyList<string>? Errors = null);

internal sealed record TransitDataKey(
    [property: JsonPropertyName("plaintext")] string? Plaintext,
    [property: JsonPropertyName("ciphertext")] string Ciphertext);

internal sealed record TransitDataKeyResponse([property: JsonPropertyName("data")] TransitDataKey? Data);

internal sealed record TransitDataKeyRequest([property: JsonPropertyName("bits")] int Bits);

internal sealed record TransitCiphertext([property: JsonPropertyName("ciphertext")] string Ciphertext);

internal sealed record TransitCiphertextResponse([property: JsonPropertyName("data")] TransitCiphertext? Data);

internal sealed record TransitPlaintext([property: JsonPropertyName("plaintext")] string Plaintext);

internal sealed record TransitPlaintextResponse([property: JsonPropertyName("data")] TransitPlaintext? Data);

/// <summary>
/// A Transit key as <c>GET {mount}/keys/{name}</c> describes it; <c>keys</c> maps version → creation. Whether the key
/// type encrypts and decrypts, and whether it is derived (needs a context with every call), null when not said.
/// </summary>
internal sealed record TransitKey(
    [property: JsonPropertyName("name")] string? Name,
    [property: JsonPropertyName("type")] string? Type,
    [property: JsonPropertyName("latest_version")] uint LatestVersion,
    [property: JsonPropertyName("min_decryption_version")] uint MinDecryptionVersion,
    [property: JsonPropertyName("keys")] Dictionary<string, JsonElement>? Keys,
    [property: JsonPropertyName("supports_encryption")] bool? SupportsEncryption = null,
    [property: JsonPropertyName("supports_decryption")] bool? SupportsDecryption = null,
    [property: JsonPropertyName("derived")] bool? Derived = null);

internal sealed record TransitKeyResponse([property: JsonPropertyName("data")] TransitKey? Data);

internal sealed record HealthResponse(
    [property: JsonPropertyName("initialized")] bool Initialized,
    [property: JsonPropertyName("sealed")] bool Sealed,
    [property: JsonPropertyName("standby")] bool Standby);

[JsonSourceGenerationOptions(DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull)]
[JsonSerializable(typeof(VaultErrors))]
[JsonSerializable(typeof(VaultAuthResponse))]
[JsonSerializable(typeof(TokenLookupResponse))]
[JsonSerializable(typeof(KubernetesLogin))]
[JsonSerializable(typeof(AppRoleLogin))]
[JsonSerializable(typeof(RenewSelf))]
[JsonSerializable(typeof(TransitEncrypt))]
[JsonSerializable(typeof(TransitDecrypt))]
[JsonSerializable(typeof(TransitCiphertextResponse))]
[JsonSerializable(typeof(TransitPlaintextResponse))]
[JsonSerializable(typeof(TransitKeyResponse))]
[JsonSerializable(typeof(HealthResponse))]
[JsonSerializable(typeof(JsonElement))]
[JsonSerializable(typeof(TransitBatchRequest))]
[JsonSerializable(typeof(TransitBatchResponse))]
[JsonSerializable(typeof(TransitDataKeyRequest))]
[JsonSerializable(typeof(TransitDataKeyResponse))]
internal sealed partial class VaultJson : JsonSerializerContext;
