namespace Trousseau.Server;

/// <summary>trousseaud's configuration cannot be used; the message names the key or file at fault.</summary>
internal sealed class InvalidConfigurationException(string message) : Exception(message);
