namespace Trousseau;

/// <summary>
/// The kind of a secret, which decides the keys its data must hold. Compared by value, case-sensitively.
/// </summary>
public readonly struct SecretType : IEquatable<SecretType>
{
    /// <summary>Free-form data: any keys, any values.</summary>
    public static SecretType Opaque { get; } = new("opaque");

    /// <summary>A login credential: <c>username</c> and <c>password</c>, and optionally <c>endpoint</c>.</summary>
    public static SecretType Login { get; } = new("login");

    /// <summary>Creates a secret type from its wire name (for example <c>opaque</c>).</summary>
    /// <param name="value">The wire name.</param>
    public SecretType(string value)
    {
        ArgumentException.ThrowIfNullOrEmpty(value);
        _value = value;
    }

    private readonly string? _value;

    /// <summary>The wire name, as used in the HTTP API and the CLI. <c>default(SecretType)</c> is opaque.</summary>
    public string Value => _value ?? "opaque";

    /// <summary>Whether this is one of the types Trousseau knows (<see cref="Opaque"/>, <see cref="Login"/>).</summary>
    public bool IsKnown => this == Opaque || this == Login;

    /// <inheritdoc />
    public bool Equals(SecretType other) => string.Equals(Value, other.Value, StringComparison.Ordinal);

    /// <inheritdoc />
    public override bool Equals(object? obj) => obj is SecretType other && Equals(other);

    /// <inheritdoc />
    public override int GetHashCode() => StringComparer.Ordinal.GetHashCode(Value);

    /// <inheritdoc />
    public override string ToString() => Value;

    /// <summary>Compares two secret types by value.</summary>
    public static bool operator ==(SecretType left, SecretType right) => left.Equals(right);

    /// <summary>Compares two secret types by value.</summary>
    public static bool operator !=(SecretType left, SecretType right) => !left.Equals(right);
}
