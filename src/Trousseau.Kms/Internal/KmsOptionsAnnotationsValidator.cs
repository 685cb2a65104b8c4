using Microsoft.Extensions.Options;

namespace Trousseau.Kms.Internal;

/// <summary>Checks the DataAnnotations of <see cref="KmsOptions"/> at start.</summary>
[OptionsValidator]
internal sealed partial class KmsOptionsAnnotationsValidator : IValidateOptions<KmsOptions>;
