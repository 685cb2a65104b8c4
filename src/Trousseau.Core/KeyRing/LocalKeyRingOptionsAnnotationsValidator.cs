using Microsoft.Extensions.Options;

namespace Trousseau;

/// <summary>Checks the DataAnnotations of <see cref="LocalKeyRingOptions"/> at start.</summary>
[OptionsValidator]
internal sealed partial class LocalKeyRingOptionsAnnotationsValidator : IValidateOptions<LocalKeyRingOptions>;
