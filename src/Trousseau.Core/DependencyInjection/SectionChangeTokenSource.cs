using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.Options;
using Microsoft.Extensions.Primitives;

namespace Trousseau;

/// <summary>
/// Tells <see cref="IOptionsMonitor{TOptions}"/> when the section options of <typeparamref name="TOptions"/> bind from
/// reloads, and never when no <c>AddTrousseau</c> call gave a section.
/// </summary>
/// <typeparam name="TOptions">The options type bound.</typeparam>
/// <param name="name">The options' name.</param>
/// <param name="section">The section bound, or <see langword="null"/>.</param>
internal sealed class SectionChangeTokenSource<TOptions>(string? name, IConfiguration? section) : IOptionsChangeTokenSource<TOptions>
{
    public string? Name { get; } = name;

    public IChangeToken GetChangeToken() => section?.GetReloadToken() ?? new CancellationChangeToken(CancellationToken.None);
}
