namespace Trousseau.Tests.StoreContract;

/// <summary>A store contract fact; the memory and SQLite stores are always available, so it never skips here.</summary>
[AttributeUsage(AttributeTargets.Method)]
public sealed class StoreFactAttribute : FactAttribute;
