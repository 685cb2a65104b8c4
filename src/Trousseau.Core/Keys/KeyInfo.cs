namespace Trousseau;

/// <summary>A key provider's key: its id and version. Neither is secret.</summary>
/// <param name="KeyId">
/// Stable for one key version, different for every other version and every other key, never reused.
/// At most 1024 bytes, so that it fits the Kubernetes KMS v2 <c>key_id</c>.
/// </param>
/// <param name="Version">The key version, counting from 1.</param>
public sealed record KeyInfo(string KeyId, uint Version);
