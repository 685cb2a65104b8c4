using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;

namespace Trousseau;

// Linked into Trousseau.Hosting, Trousseau.Client, Trousseau.Vault and Trousseau.Etcd: reading the PEM certificates
// and keys that their TLS settings name, with one wording for each way such a file can be wrong.

/// <summary>
/// Reads PEM certificate and private key files. A file that cannot be used fails with a message naming the setting
/// that gave it (when there is one) and its full path, never its contents.
/// </summary>
internal static class PemFiles
{
    /// <summary>The certificates of the PEM file at <paramref name="path"/>, in their order in the file.</summary>
    /// <param name="path">The file.</param>
    /// <param name="setting">The setting that names the file, for the message, for example <c>Trousseau:Etcd:CaFile</c>.</param>
    /// <exception cref="InvalidDataException">The file does not exist, is a directory, cannot be read, or holds no certificate that can be read.</exception>
    public static X509Certificate2Collection ReadCertificates(string path, string? setting = null)
    {
        var fullPath = Existing(path, setting);
        var certificates = new X509Certificate2Collection();
        try
        {
            certificates.ImportFromPemFile(fullPath);
        }
        catch (CryptographicException)
        {
            throw Unusable(setting, fullPath, "holds a PEM certificate that cannot be read");
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw Unusable(setting, fullPath, $"cannot be read: {e.Message}");
        }

        return certificates.Count > 0 ? certificates : throw Unusable(setting, fullPath, "holds no PEM certificate (-----BEGIN CERTIFICATE-----)");
    }

    /// <summary>
    /// The first certificate of <paramref name="certFile"/> with the private key of <paramref name="keyFile"/>, and the
    /// certificates that follow it in the file (its intermediates, which a handshake sends along).
    /// </summary>
    /// <param name="certFile">The certificate file.</param>
    /// <param name="keyFile">The private key file.</param>
    /// <param name="certSetting">The setting that names the certificate file, for the message.</param>
    /// <param name="keySetting">The setting that names the key file, for the message.</param>
    /// <exception cref="InvalidDataException">
    /// A file does not exist, is a directory or cannot be read, the certificate file holds no certificate, or the key file does not hold
    /// the certificate's unencrypted private key.
    /// </exception>
    public static (X509Certificate2 Certificate, X509Certificate2Collection Intermediates) ReadCertificateWithKey(
        string certFile, string keyFile, string? certSetting = null, string? keySetting = null)
    {
        var chain = ReadCertificates(certFile, certSetting);
        X509Certificate2 certificate;
        var (fullCertFile, fullKeyFile) = (Path.GetFullPath(certFile), Path.GetFullPath(keyFile));
        try
        {
            certificate = X509Certificate2.CreateFromPemFile(fullCertFile, Existing(keyFile, keySetting));
        }
        catch (Exception e)
        {
            Dispose(chain);

            // ArgumentException: a key of the certificate's algorithm that is not the certificate's.
            if (e is CryptographicException or ArgumentException)
            {
                throw Unusable(keySetting, fullKeyFile, $"is not the unencrypted PEM private key of the certificate in {fullCertFile}");
            }

            if (e is IOException or UnauthorizedAccessException)
            {
                throw Unusable(keySetting, fullKeyFile, $"cannot be read: {e.Message}");
            }

            throw;
        }

        // The file's first certificate is the one just read again with its key.
        var intermediates = new X509Certificate2Collection();
        foreach (var read in chain)
        {
            if (read.Thumbprint == certificate.Thumbprint)
            {
                read.Dispose();
            }
            else
            {
                intermediates.Add(read);
            }
        }

        return (certificate, intermediates);
    }

    /// <summary>Why the certificates of <paramref name="path"/> cannot be used, or <see langword="null"/>: a check at start.</summary>
    /// <param name="path">The file.</param>
    /// <param name="setting">The setting that names the file.</param>
    /// <returns>The message, naming the setting and the file.</returns>
    public static string? Check(string path, string setting) => Problem(() => ReadCertificates(path, setting));

    /// <summary>Why a certificate and its key cannot be used, or <see langword="null"/>: a check at start.</summary>
    /// <param name="certFile">The certificate file.</param>
    /// <param name="keyFile">The private key file.</param>
    /// <param name="certSetting">The setting that names the certificate file.</param>
    /// <param name="keySetting">The setting that names the key file.</param>
    /// <returns>The message, naming the setting and the file at fault.</returns>
    public static string? Check(string certFile, string keyFile, string certSetting, string keySetting) => Problem(() =>
    {
        var (certificate, intermediates) = ReadCertificateWithKey(certFile, keyFile, certSetting, keySetting);
        return [certificate, .. intermediates];
    });

    private static string? Problem(Func<IEnumerable<X509Certificate2>> read)
    {
        try
        {
            Dispose(read());
            return null;
        }
        catch (InvalidDataException e)
        {
            return e.Message;
        }
    }

    /// <summary>Disposes each certificate read.</summary>
    /// <param name="certificates">The certificates.</param>
    public static void Dispose(IEnumerable<X509Certificate2> certificates)
    {
        foreach (var certificate in certificates)
        {
            certificate.Dispose();
        }
    }

    /// <summary>A file that cannot be used: <c>SETTING names PATH, which PROBLEM.</c>, or <c>PATH PROBLEM.</c> without a setting.</summary>
    private static InvalidDataException Unusable(string? setting, string path, string problem) =>
        new(setting is null ? $"{path} {problem}." : $"{setting} names {path}, which {problem}.");

    private static string Existing(string path, string? setting)
    {
        var fullPath = Path.GetFullPath(path);
        if (File.Exists(fullPath))
        {
            return fullPath;
        }

        throw Unusable(setting, fullPath, Directory.Exists(fullPath) ? "is a directory, not a file" : "does not exist");
    }
}
