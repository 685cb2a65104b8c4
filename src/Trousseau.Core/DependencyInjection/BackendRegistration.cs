namespace Trousseau;

/// <summary>A key provider or store that a builder method made available, by name.</summary>
/// <typeparam name="TBackend"><see cref="IKeyProvider"/> or <see cref="ISecretStore"/>.</typeparam>
/// <param name="Name">The name users select it by in configuration (for example <c>sqlite</c>).</param>
/// <param name="Factory">Creates the backend; called once.</param>
internal sealed record BackendRegistration<TBackend>(string Name, Func<IServiceProvider, TBackend> Factory)
    where TBackend : class;
