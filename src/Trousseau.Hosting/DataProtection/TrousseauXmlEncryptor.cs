using System.Text;
using System.Xml.Linq;
using Microsoft.AspNetCore.DataProtection.XmlEncryption;

namespace Trousseau.Hosting.DataProtection;

/// <summary>
/// Encrypts ASP.NET Core Data Protection key XML with Trousseau (the configured key provider, for example Vault
/// Transit), so that persisted key files hold no plaintext key material.
/// </summary>
internal sealed class TrousseauXmlEncryptor(IServiceProvider services) : IXmlEncryptor
{
    internal const string ElementName = "trousseauEncryptedKey";

    public EncryptedXmlInfo Encrypt(XElement plaintextElement)
    {
        ArgumentNullException.ThrowIfNull(plaintextElement);
        var plaintext = Encoding.UTF8.GetBytes(plaintextElement.ToString(SaveOptions.DisableFormatting));
        var result = KeyRingEncryption.Encrypt(services, plaintext);
        var element = new XElement(
            ElementName,
            new XAttribute("provider", result.Provider),
            new XAttribute("keyId", result.KeyId),
            new XElement("ciphertext", Convert.ToBase64String(result.Ciphertext)));
        return new EncryptedXmlInfo(element, typeof(TrousseauXmlDecryptor));
    }
}
