namespace Trousseau;

/// <summary>
/// A decrypted secret: its metadata and its data. <see cref="ToString"/> never shows the values.
/// </summary>
public sealed class Secret
{
    /// <summary>Creates a secret from its metadata and decrypted data.</summary>
    /// <param name="metadata">The secret's metadata.</param>
    /// <param name="data">The secret's data, key to value.</param>
    public Secret(SecretMetadata metadata, IReadOnlyDictionary<string, string> data)
    {
        ArgumentNullException.ThrowIfNull(metadata);
        ArgumentNullException.ThrowIfNull(data);
        Metadata = metadata;
        Data = data;
    }

    /// <summary>The secret's metadata.</summary>
    public SecretMetadata Metadata { get; }

    /// <summary>The decrypted data, key to value.</summary>
    public IReadOnlyDictionary<string, string> Data { get; }

    /// <summary>The secret's name.</summary>
    public string Name => Metadata.Name;

    /// <summary>The secret's type.</summary>
    public SecretType Type => Metadata.Type;

    /// <summary>The store revision of this version.</summary>
    public long Revision => Metadata.Revision;

    /// <inheritdoc />
    public override string ToString() =>
        $"Secret {{ Name = {Name}, Type = {Type}, Revision = {Revision}, Keys = [{string.Join(", ", Data.Keys)}] }}";
}
