using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using Trousseau.Envelope;

namespace Trousseau.Tests.Unit.Support;

internal static class KeyRings
{
    public static LocalKeyRingProvider Open(string file, TimeProvider? time = null) =>
        new(Options.Create(new LocalKeyRingOptions { KeyFile = file }), time ?? TimeProvider.System, NullLogger<LocalKeyRingProvider>.Instance);

    public static EnvelopeEncryptor Encryptor(IKeyProvider provider, TimeProvider? time = null, Action<DataKeyOptions>? configure = null)
    {
        var options = new TrousseauOptions();
        configure?.Invoke(options.DataKeys);
        return new EnvelopeEncryptor(provider, Options.Create(options), time ?? TimeProvider.System, TestInstrumentation.Shared, NullLogger<EnvelopeEncryptor>.Instance);
    }
}
