using System.Text;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging.Testing;

namespace Trousseau.Tests.Unit.Secrets;

/// <summary>
/// What a listing logs about the store keys it leaves out: each once, however often an application lists (secrets as
/// configuration list at every poll), and again when the record changes.
/// </summary>
public sealed class ListingWarningTests : IDisposable
{
    private const int DamagedRecordEvent = 1207;
    private const int ForeignKeyEvent = 1208;

    private readonly TempDirectory _directory = new();
    private readonly ServiceProvider _services;

    public ListingWarningTests()
    {
        var services = new ServiceCollection().AddFakeLogging();
        services.AddTrousseau(_ => { })
            .UseLocalKeyRing(ring => ring.KeyFile = _directory.Combine("ring.json"))
            .UseInMemoryStore();
        _services = services.BuildServiceProvider();
    }

    private ITrousseau Trousseau => _services.GetRequiredService<ITrousseau>();

    private ISecretStore Store => _services.GetRequiredService<ISecretStore>();

    public void Dispose()
    {
        _services.Dispose();
        _directory.Dispose();
    }

    [Fact]
    public async Task A_damaged_record_and_a_foreign_key_are_each_named_once_across_listings_and_again_when_the_record_changes()
    {
        await Trousseau.CreateSecretAsync("app/one", SecretType.Opaque, new Dictionary<string, string> { ["k"] = "v" });
        var damaged = await Store.CreateAsync("app/two", Encoding.UTF8.GetBytes("not a record"));
        await Store.CreateAsync("app/Not A Name", Encoding.UTF8.GetBytes("x"));

        for (var poll = 0; poll < 3; poll++)
        {
            Assert.Equal(["app/one"], await Trousseau.ListSecretsAsync("app/").Select(s => s.Name).ToListAsync());
            Assert.Equal(["app/one"], (await Trousseau.ListSecretsPageAsync("app/")).Items.Select(s => s.Name));
        }

        Assert.Equal(1, Warnings(DamagedRecordEvent, "app/two"));
        Assert.Equal(1, Warnings(ForeignKeyEvent, "app/Not A Name"));

        await Store.UpdateAsync("app/two", Encoding.UTF8.GetBytes("still not a record"), damaged);
        await Trousseau.ListSecretsPageAsync("app/");
        await Trousseau.ListSecretsPageAsync("app/");

        Assert.Equal(2, Warnings(DamagedRecordEvent, "app/two"));
        Assert.Equal(1, Warnings(ForeignKeyEvent, "app/Not A Name"));
    }

    private int Warnings(int eventId, string name) =>
        _services.GetFakeLogCollector().GetSnapshot().Count(r => r.Id.Id == eventId && r.Message.Contains(name, StringComparison.Ordinal));
}
