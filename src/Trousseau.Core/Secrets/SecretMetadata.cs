namespace Trousseau;

/// <summary>
/// What can be known about a secret without decrypting it. Never holds a value.
/// </summary>
/// <param name="Name">The secret's name.</param>
/// <param name="Type">The secret's type.</param>
/// <param name="Revision">
/// The store revision of the write that last changed the data: changes on every create and update, never reused
/// (not even after a delete), and kept by a rewrap, which changes no data.
/// </param>
/// <param name="CreatedAt">When the secret was created.</param>
/// <param name="UpdatedAt">When the secret was last written.</param>
public sealed record SecretMetadata(
    string Name,
    SecretType Type,
    long Revision,
    DateTimeOffset CreatedAt,
    DateTimeOffset UpdatedAt);
