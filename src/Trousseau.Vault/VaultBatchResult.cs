namespace Trousseau.Vault;

/// <summary>One item of a Transit batch call: its value, or Vault's error for that item alone.</summary>
/// <typeparam name="T">The item's value type.</typeparam>
/// <param name="Value">The value when the item succeeded.</param>
/// <param name="Error">Vault's error for the item, or <see langword="null"/> when it succeeded.</param>
public readonly record struct VaultBatchResult<T>(T? Value, string? Error)
{
    /// <summary>Whether the item succeeded.</summary>
    public bool Succeeded => Error is null;
}
