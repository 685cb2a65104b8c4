using Microsoft.Extensions.Options;

namespace Trousseau;

/// <summary>Checks the DataAnnotations of <see cref="TrousseauOptions"/> and its <see cref="DataKeyOptions"/> at start.</summary>
[OptionsValidator]
internal sealed partial class TrousseauOptionsAnnotationsValidator : IValidateOptions<TrousseauOptions>;
