using System.Text;
using System.Xml.Linq;
using Microsoft.AspNetCore.DataProtection.XmlEncryption;

namespace Trousseau.Hosting.DataProtection;

/// <summary>Decrypts what <see cref="TrousseauXmlEncryptor"/> wrote; Data Protection activates it by type.</summary>
internal sealed class TrousseauXmlDecryptor(IServiceProvider services) : IXmlDecryptor
{
    public XElement Decrypt(XElement encryptedElement)
    {
        ArgumentNullException.ThrowIfNull(encryptedElement);
        var ciphertext = encryptedElement.Element("ciphertext")?.Value
            ?? throw new InvalidCiphertextException($"The Data Protection key element has no <ciphertext> ({TrousseauXmlEncryptor.ElementName} expected).");
        byte[] bytes;
        try
        {
            bytes = Convert.FromBase64String(ciphertext);
        }
        catch (FormatException)
        {
            throw new InvalidCiphertextException("The Data Protection key ciphertext is not base64.");
        }

        var plaintext = KeyRingEncryption.Decrypt(services, bytes);
        return XElement.Parse(Encoding.UTF8.GetString(plaintext));
    }
}
