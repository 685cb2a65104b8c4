using Microsoft.Extensions.Options;

namespace Trousseau.Hosting.Api;

/// <summary>Checks the DataAnnotations of <see cref="TrousseauApiOptions"/> at start.</summary>
[OptionsValidator]
internal sealed partial class TrousseauApiOptionsAnnotationsValidator : IValidateOptions<TrousseauApiOptions>;
