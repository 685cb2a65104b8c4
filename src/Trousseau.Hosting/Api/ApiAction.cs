namespace Trousseau.Hosting.Api;

/// <summary>
/// What a call to the API does, as policies name it in <c>Actions</c> and the audit trail records it. Each route
/// carries one as endpoint metadata.
/// </summary>
internal static class ApiAction
{
    public const string Read = "read";
    public const string List = "list";
    public const string Create = "create";
    public const string Update = "update";
    public const string Delete = "delete";
    public const string Generate = "generate";
    public const string Keys = "keys";
    public const string Encrypt = "encrypt";
    public const string Decrypt = "decrypt";

    /// <summary>Every action, in the order the documentation lists them.</summary>
    public static IReadOnlyList<string> All { get; } = [Read, List, Create, Update, Delete, Generate, Keys, Encrypt, Decrypt];

    /// <summary>Whether <paramref name="action"/> acts on secrets by name; <c>keys</c>, <c>encrypt</c> and <c>decrypt</c> do not.</summary>
    public static bool ActsOnSecrets(string action) => action is not (Keys or Encrypt or Decrypt);
}

/// <summary>The <see cref="ApiAction"/> of a route; routes without one (<c>/v1/auth/whoami</c>) need only an identity.</summary>
/// <param name="Name">One of <see cref="ApiAction.All"/>.</param>
internal sealed record ApiActionMetadata(string Name);
