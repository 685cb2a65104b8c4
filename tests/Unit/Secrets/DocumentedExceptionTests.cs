using System.Xml.Linq;
using Trousseau.Tests.Unit.Support;

namespace Trousseau.Tests.Unit.Secrets;

/// <summary>
/// The exceptions a caller of <see cref="ITrousseau"/> has to catch (a secret that is not there, a name taken, a
/// revision moved on), made to happen in process and looked up in the XML documentation that the package ships and
/// an editor shows beside each method.
/// </summary>
public sealed class DocumentedExceptionTests : IDisposable
{
    private readonly LocalTrousseau _local = new();

    public void Dispose() => _local.Dispose();

    private static Dictionary<string, string> Data(string value) => new(StringComparer.Ordinal) { ["k"] = value };

    [Fact]
    public async Task Each_secret_call_documents_the_failure_it_throws_when_the_secret_is_missing_taken_or_moved_on()
    {
        var trousseau = _local.Trousseau;
        var kept = await trousseau.CreateSecretAsync("kept", SecretType.Opaque, Data("v"));
        var stale = kept.Revision + 1;
        var calls = new (string Member, Func<Task> Call)[]
        {
            ("GetSecretAsync", async () => await trousseau.GetSecretAsync("missing")),
            ("CreateSecretAsync", async () => await trousseau.CreateSecretAsync("kept", SecretType.Opaque, Data("other"))),
            ("CreateSecretAsync", async () => await trousseau.CreateSecretAsync("Not A Name", SecretType.Opaque, Data("v"))),
            ("GenerateSecretAsync", async () => await trousseau.GenerateSecretAsync("kept")),
            ("UpdateSecretAsync", async () => await trousseau.UpdateSecretAsync("missing", Data("v"))),
            ("UpdateSecretAsync", async () => await trousseau.UpdateSecretAsync("kept", Data("w"), expectedRevision: stale)),
            ("DeleteSecretAsync", async () => await trousseau.DeleteSecretAsync("missing")),
            ("DeleteSecretAsync", async () => await trousseau.DeleteSecretAsync("kept", stale)),
            ("EncryptAsync", async () => await trousseau.EncryptAsync(new byte[TrousseauLimits.MaxPlaintextBytes + 1])),
        };

        var undocumented = new List<string>();
        foreach (var (member, call) in calls)
        {
            var thrown = await Assert.ThrowsAnyAsync<TrousseauException>(call);
            if (!DocumentedExceptions(member).Any(documented => documented.IsInstanceOfType(thrown)))
            {
                undocumented.Add($"{member} throws {thrown.GetType().Name}");
            }
        }

        Assert.Empty(undocumented);
        Assert.Equal(kept.Revision, (await trousseau.GetSecretAsync("kept")).Metadata.Revision);
    }

    /// <summary>The exception types the shipped XML documentation lists for the <see cref="ITrousseau"/> method.</summary>
    private static List<Type> DocumentedExceptions(string method)
    {
        var documentation = XDocument.Load(Path.Combine(AppContext.BaseDirectory, "Trousseau.Core.xml"));
        var prefix = $"M:{typeof(ITrousseau).FullName}.{method}(";
        var member = Assert.Single(documentation.Descendants("member"), m => ((string?)m.Attribute("name"))?.StartsWith(prefix, StringComparison.Ordinal) == true);
        return member.Elements("exception")
            .Select(e => typeof(ITrousseau).Assembly.GetType(((string?)e.Attribute("cref"))?.Replace("T:", string.Empty, StringComparison.Ordinal) ?? string.Empty, throwOnError: true)!)
            .ToList();
    }
}
