using Microsoft.Extensions.Options;

namespace Trousseau.Vault.Internal;

/// <summary>Checks the DataAnnotations of <see cref="VaultOptions"/> at start.</summary>
[OptionsValidator]
internal sealed partial class VaultOptionsAnnotationsValidator : IValidateOptions<VaultOptions>;
