using Microsoft.Extensions.Options;

namespace Trousseau.Hosting.Worker;

/// <summary>Checks the DataAnnotations of <see cref="TrousseauWorkerOptions"/> at start.</summary>
[OptionsValidator]
internal sealed partial class TrousseauWorkerOptionsAnnotationsValidator : IValidateOptions<TrousseauWorkerOptions>;
