using System.Text;
using System.Xml.Linq;
using Microsoft.AspNetCore.DataProtection.XmlEncryption;

namespace Trousseau.Hosting.DataProtection;

/// <summary>
/// Encrypts ASP.NET Core Data Protection key XML with Trousseau (the configured key provider, for example Vault
/// Transit), so that persisted key files hold no plaintext key material.
/// </summary>
internal sealed class TrousseauXmlEncryptor(ITrousseau trousseau) : IXmlEncryptor
{
    internal const string ElementName = "trousseauEncryptedKey";
    internal static readonly byte[] Context = "Microsoft.AspNetCore.DataProtection key ring"u8.ToArray();

    public EncryptedXmlInfo Encrypt(XElement plaintextElement)
    {
        ArgumentNullException.ThrowIfNull(plaintextElement);
        var plaintext = Encoding.UTF8.GetBytes(plaintextElement.ToString(SaveOptions.DisableFormatting));

        // Data Protection's encryptor interface is synchronous; with a warm data-key cache this completes at once.
        var result = trousseau.EncryptAsync(plaintext, Context).AsTask().GetAwaiter().GetResult();
        var element = new XElement(
            ElementName,
            new XAttribute("provider", result.Provider),
            new XAttribute("keyId", result.KeyId),
            new XElement("ciphertext", Convert.ToBase64String(result.Ciphertext)));
        return new EncryptedXmlInfo(element, typeof(TrousseauXmlDecryptor));
    }
}
