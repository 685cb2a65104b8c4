using Microsoft.Extensions.Options;

namespace Trousseau.Hosting.Audit;

/// <summary>Checks the DataAnnotations of <see cref="TrousseauAuditOptions"/> at start.</summary>
[OptionsValidator]
internal sealed partial class TrousseauAuditOptionsAnnotationsValidator : IValidateOptions<TrousseauAuditOptions>;
