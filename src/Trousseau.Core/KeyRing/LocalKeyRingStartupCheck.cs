using System.Text;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;
using Trousseau.Envelope;

namespace Trousseau;

/// <summary>
/// Checks at start (with the other options) that the local key ring can serve what is stored. A key file path that
/// is a directory is a configuration error. An existing key file
/// must read whole, every key matching its check value; otherwise the start fails with
/// <see cref="DependencyUnavailableException"/> naming the file. A missing key file is a configuration error when
/// the store holds a secret sealed under a local key ring key: a new ring, which the first use would create, could
/// never decrypt it.
/// </summary>
/// <remarks>
/// The store is opened, and listed until the first such secret, only when the key file is missing: on a first
/// start, or after the file was lost. A store that cannot be read then (out of reach, damaged, not readable by this
/// process) cannot show that no secret needs the lost ring, so the start fails with
/// <see cref="DependencyUnavailableException"/> naming the key file and, through the store's own message, the store;
/// no ring is created.
/// </remarks>
internal sealed class LocalKeyRingStartupCheck(string sectionPath, IServiceProvider services) : IValidateOptions<LocalKeyRingOptions>
{
    public ValidateOptionsResult Validate(string? name, LocalKeyRingOptions options)
    {
        // LocalKeyRingOptionsAnnotationsValidator reports a missing path.
        if (string.IsNullOrWhiteSpace(options.KeyFile) || !IsSelected())
        {
            return ValidateOptionsResult.Skip;
        }

        var path = Path.GetFullPath(options.KeyFile);
        if (Directory.Exists(path))
        {
            // Else taken for a missing file, and the key provider would stay unavailable once started.
            return ValidateOptionsResult.Fail($"{sectionPath}:KeyFile is '{path}', which is a directory; give the path of the key ring file.");
        }

        if (File.Exists(path))
        {
            try
            {
                LocalKeyRingFile.Read(path).Dispose();
                return ValidateOptionsResult.Success;
            }
            catch (Exception ex) when (LocalKeyRingFile.IsFileProblem(ex))
            {
                throw LocalKeyRingFile.Unusable(path, ex);
            }
        }

        if (FindSealedUnderLocalKey(path) is not { } sealedSecret)
        {
            return ValidateOptionsResult.Success;
        }

        return ValidateOptionsResult.Fail(
            $"{sectionPath}:KeyFile is '{path}', which does not exist, but the store holds secrets sealed under local key ring key " +
            $"'{LocalKeyRingProvider.Printable(sealedSecret.KeyId)}' (secret '{sealedSecret.Name}', for one), which a new key ring could never decrypt: " +
            $"put the key ring back from its backup, or set {sectionPath}:KeyFile to where it is.");
    }

    /// <summary>Whether the local key ring is the key provider in use (not merely registered beside another).</summary>
    private bool IsSelected()
    {
        try
        {
            var chosen = services.GetRequiredService<IOptions<TrousseauOptions>>().Value.KeyProvider;
            return chosen is null || string.Equals(chosen, LocalKeyRingProvider.ProviderName, StringComparison.OrdinalIgnoreCase);
        }
        catch (OptionsValidationException)
        {
            // TrousseauOptions' own validation reports it.
            return false;
        }
    }

    /// <summary>The first stored secret whose envelope names the local key ring, or <see langword="null"/>.</summary>
    private (string Name, string KeyId)? FindSealedUnderLocalKey(string path)
    {
        ISecretStore store;
        try
        {
            store = services.GetRequiredService<ISecretStore>();
        }
        catch (OptionsValidationException)
        {
            // The store's own validation reports its settings.
            return null;
        }

        try
        {
            // Options validation is synchronous; the store is asked on a pool thread, free of any caller's context.
            // A listing gives record heads only, so each record is read whole until one sealed under a local key turns up.
            return Task.Run(async () =>
            {
                string? after = null;
                StorePage page;
                do
                {
                    page = await store.ListAsync(string.Empty, after, TrousseauLimits.DefaultListPageSize).ConfigureAwait(false);
                    foreach (var head in page.Entries)
                    {
                        if (await store.GetAsync(head.Key).ConfigureAwait(false) is { } entry && LocalKeyIdOf(entry) is { } keyId)
                        {
                            return ((string Name, string KeyId)?)(entry.Key, keyId);
                        }

                        after = head.Key;
                    }
                }
                while (page.HasMore);

                return null;
            }).GetAwaiter().GetResult();
        }
        catch (DependencyUnavailableException ex)
        {
            throw new DependencyUnavailableException(
                ex.Dependency,
                $"The local key ring '{path}' does not exist, and the store cannot be read to check that no secret needs it: {ex.Message.TrimEnd('.')}. " +
                $"A new key ring is made only beside a store known to hold no secret sealed under a lost one: put the key ring back from its backup " +
                $"(or set {sectionPath}:KeyFile to where it is), or make the store readable, then start again.",
                ex);
        }
    }

    private static string? LocalKeyIdOf(StoreEntry entry)
    {
        try
        {
            var record = entry.Value.Span;
            var envelope = record[SecretRecord.ReadHeader(entry.Key, record).Length..];
            var layout = EnvelopeFormat.Parse(envelope);
            return Encoding.ASCII.GetString(envelope[layout.Provider]) == LocalKeyRingProvider.ProviderName
                ? Encoding.UTF8.GetString(envelope[layout.KeyId])
                : null;
        }
        catch (InvalidCiphertextException)
        {
            // A damaged record names no key.
            return null;
        }
    }
}
