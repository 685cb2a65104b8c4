namespace Trousseau.Hosting;

/// <summary>
/// One entry of <see cref="TrousseauApiOptions.Policies"/>: the identities in <see cref="Subjects"/> may do the
/// <see cref="Actions"/> on the secrets in <see cref="Secrets"/>.
/// </summary>
public sealed class TrousseauApiPolicy
{
    /// <summary>
    /// Globs of the identities this policy is for (<c>admin</c>, <c>system:serviceaccount:payments:*</c>,
    /// <c>CN=ci, O=Example</c>): <c>*</c> matches any characters, <c>?</c> one character. At least one.
    /// </summary>
    public IList<string> Subjects { get; } = [];

    /// <summary>
    /// Globs of the secret names this policy covers: <c>*</c> matches any characters but <c>/</c> (within one segment
    /// of the name), <c>**</c> any characters including <c>/</c>, <c>?</c> one character but <c>/</c>. Not consulted
    /// for <c>keys</c>, <c>encrypt</c> and <c>decrypt</c>, which act on no secret; required when
    /// <see cref="Actions"/> names any other action.
    /// </summary>
    public IList<string> Secrets { get; } = [];

    /// <summary>
    /// What the subjects may do: <c>read</c>, <c>list</c>, <c>create</c>, <c>update</c>, <c>delete</c>, <c>generate</c>,
    /// <c>keys</c>, <c>encrypt</c>, <c>decrypt</c> (case-insensitive). At least one.
    /// </summary>
    public IList<string> Actions { get; } = [];
}
