using Microsoft.Extensions.Options;

namespace Trousseau.Etcd.Internal;

/// <summary>Checks the DataAnnotations of <see cref="EtcdStoreOptions"/> at start.</summary>
[OptionsValidator]
internal sealed partial class EtcdOptionsAnnotationsValidator : IValidateOptions<EtcdStoreOptions>;
