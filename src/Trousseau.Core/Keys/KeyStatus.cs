namespace Trousseau;

/// <summary>The key that protects new writes.</summary>
/// <param name="Provider">The key provider's name, for example <c>local</c> or <c>vault</c>.</param>
/// <param name="KeyId">The provider's key id: not secret, stable per key version, changed by rotation.</param>
/// <param name="Version">The key version.</param>
public sealed record KeyStatus(string Provider, string KeyId, uint Version);
