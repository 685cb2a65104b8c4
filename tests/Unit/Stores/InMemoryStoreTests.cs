using Trousseau.Tests.StoreContract;

namespace Trousseau.Tests.Unit.Stores;

public sealed class InMemoryStoreTests : SecretStoreContract
{
    protected override ISecretStore OpenStore() => new InMemorySecretStore();
}
