using System.Net;
using System.Text.Json;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;
using Trousseau.Vault.Internal;

namespace Trousseau.Vault;

/// <summary>
/// Reads the KV v2 secret named by <c>Trousseau:Vault:ConfigPath</c> (for example
/// <c>secret/data/trousseau/config</c>) so that its <c>data</c> can be laid over local configuration. Keys are
/// relative to the <c>Trousseau</c> section (<c>"Worker": {"Interval": "00:01:00"}</c> sets
/// <c>Trousseau:Worker:Interval</c>); nested objects and arrays flatten the usual way. The overlay may tune what
/// trousseaud does, never whom it trusts, which key wraps its data keys, where its secrets and files go or who may
/// reach them, or whoever may write that KV path could take the broker over. These settings, and every key below
/// them, stay local: Vault's address, CA and login (<c>Vault:Address</c>, <c>Vault:CaFile</c>, <c>Vault:Auth</c>);
/// the Transit key (<c>Vault:Namespace</c>, <c>Vault:TransitMount</c>, <c>Vault:KeyName</c>); the overlay's own path
/// (<c>Vault:ConfigPath</c>); the key provider (<c>KeyProvider</c>, <c>KeyProviders</c>) and the local key ring
/// (<c>Local</c>); the store and where it keeps records (<c>Store</c>, <c>Sqlite:Path</c>, <c>Etcd</c>: endpoints,
/// TLS files, prefix and login); the data directory (<c>DataDir</c>); whether the KMS plugin runs, its socket and
/// what it unwraps (<c>Kms:Enabled</c>, <c>Kms:Socket</c>, <c>Kms:AcceptLegacyCiphertext</c>); the HTTP API
/// (<c>Api</c>: whether it is served, addresses, authentication, TLS, policies); the audit trail (<c>Audit</c>).
/// Reading the path takes a Vault login; <see cref="HandLoginTo"/> gives it to the Vault key provider, so that the
/// host logs in once (an AppRole secret id may be good for one login only). A login not handed over is revoked when
/// the overlay is disposed.
/// </summary>
public sealed class VaultConfigOverlay : IAsyncDisposable
{
    private static readonly string[] LocalOnlySettings =
    [
        "Vault:Address", "Vault:CaFile", "Vault:Auth",
        "Vault:Namespace", "Vault:TransitMount", "Vault:KeyName", "Vault:ConfigPath",
        "KeyProvider", "KeyProviders", "Local",
        "Store", "Sqlite:Path", "Etcd", "DataDir",
        "Kms:Enabled", "Kms:Socket", "Kms:AcceptLegacyCiphertext",
        "Api", "Audit",
    ];

    private readonly ServiceProvider? _vault;
    private VaultTokenSource.Lease? _login;

    private VaultConfigOverlay(IReadOnlyDictionary<string, string?> values, ServiceProvider? vault, VaultTokenSource.Lease? login)
    {
        Values = values;
        _vault = vault;
        _login = login;
    }

    /// <summary>Full configuration keys (under the section's path) and their values; empty without a ConfigPath.</summary>
    public IReadOnlyDictionary<string, string?> Values { get; }

    /// <summary>Fetches the overlay with the Vault address and auth of <paramref name="section"/>.</summary>
    /// <param name="section">The <c>Trousseau</c> configuration section, holding <c>Vault:*</c>.</param>
    /// <param name="cancellationToken">Cancels the call.</param>
    /// <returns>The overlay, holding the Vault login it made until <see cref="HandLoginTo"/> or disposal.</returns>
    /// <exception cref="VaultConfigPathException">
    /// The path is missing, Vault forbids reading it, or its data sets a setting that must stay local.
    /// </exception>
    /// <exception cref="DependencyUnavailableException">Vault cannot be reached or refuses Trousseau's credentials.</exception>
    public static async Task<VaultConfigOverlay> LoadAsync(IConfigurationSection section, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(section);
        var path = section["Vault:ConfigPath"];
        if (string.IsNullOrWhiteSpace(path))
        {
            return new VaultConfigOverlay(new Dictionary<string, string?>(), null, null);
        }

        var services = new ServiceCollection();
        services.AddTrousseau(section).UseVaultTransit();
        var provider = services.BuildServiceProvider();
        var tokens = provider.GetRequiredService<VaultTokenSource>();
        try
        {
            var token = await tokens.GetTokenAsync(cancellationToken).ConfigureAwait(false);
            var values = await ReadAsync(provider, section, path, token, cancellationToken).ConfigureAwait(false);
            return new VaultConfigOverlay(values, provider, tokens.TakeLease());
        }
        catch
        {
            await ReleaseAsync(provider, tokens.TakeLease()).ConfigureAwait(false);
            throw;
        }
    }

    /// <summary>
    /// Gives the Vault login made to read the overlay to the Vault key provider registered in
    /// <paramref name="services"/> (<c>UseVaultTransit</c>), so that it does not log in again. The overlay cannot
    /// change where that login belongs: Vault's address, namespace and login settings stay local.
    /// </summary>
    /// <param name="services">The host's services, where <c>UseVaultTransit</c> registers the key provider.</param>
    public void HandLoginTo(IServiceCollection services)
    {
        ArgumentNullException.ThrowIfNull(services);
        if (_login is { } login)
        {
            services.AddSingleton(new VaultLoginHandOver(login));
            _login = null;
        }
    }

    /// <summary>Revokes the Vault login this overlay made unless <see cref="HandLoginTo"/> took it; a configured token is never revoked.</summary>
    /// <returns>A task that completes when the login is revoked (or Vault could not be asked) and the overlay's Vault client is released.</returns>
    public async ValueTask DisposeAsync()
    {
        if (_vault is not null)
        {
            var login = _login;
            _login = null;
            await ReleaseAsync(_vault, login).ConfigureAwait(false);
        }
    }

    private static async Task ReleaseAsync(ServiceProvider vault, VaultTokenSource.Lease? login)
    {
        if (login is { Revocable: true })
        {
            await vault.GetRequiredService<VaultHttp>().TryRevokeAsync(login.Token, CancellationToken.None).ConfigureAwait(false);
        }

        await vault.DisposeAsync().ConfigureAwait(false);
    }

    private static async Task<IReadOnlyDictionary<string, string?>> ReadAsync(ServiceProvider provider, IConfigurationSection section, string path, string token, CancellationToken cancellationToken)
    {
        var options = provider.GetRequiredService<IOptions<VaultOptions>>().Value;
        var http = provider.GetRequiredService<VaultHttp>();
        var key = $"{section.Path}:Vault:ConfigPath";

        VaultAnswer<JsonElement> answer;
        try
        {
            answer = await http.SendAsync<object, JsonElement>(HttpMethod.Get, "v1/" + path.Trim('/'), null, null, VaultJson.Default.JsonElement, token, cancellationToken, isAnswer: status => status == HttpStatusCode.NotFound, repeatable: true).ConfigureAwait(false);
        }
        catch (AccessForbiddenException e)
        {
            throw new VaultConfigPathException($"{key} '{path}' cannot be read: {e.Message}.");
        }

        if (answer.Status == HttpStatusCode.NotFound)
        {
            throw new VaultConfigPathException($"{key} '{path}' does not exist in Vault at {options.Address}.");
        }

        if (answer.Value.ValueKind != JsonValueKind.Object
            || !answer.Value.TryGetProperty("data", out var outer) || outer.ValueKind != JsonValueKind.Object
            || !outer.TryGetProperty("data", out var data) || data.ValueKind != JsonValueKind.Object)
        {
            throw new VaultConfigPathException($"{key} '{path}' is not a KV v2 secret (expected data.data); for KV v2 the path includes 'data/', for example secret/data/trousseau/config.");
        }

        var values = new Dictionary<string, string?>(StringComparer.OrdinalIgnoreCase);
        Flatten(data, section.Path, values);
        var refused = values.Keys.Where(k => IsLocalOnly(k[(section.Path.Length + 1)..])).Order(StringComparer.OrdinalIgnoreCase).ToList();
        if (refused.Count > 0)
        {
            var named = refused.Count == 1 ? refused[0] : $"{string.Join(", ", refused[..^1])} and {refused[^1]}";
            throw new VaultConfigPathException(
                $"{key} '{path}' sets {named}, which only local configuration may set: the overlay may not change Vault's address, CA or login, "
                + "the Transit key (namespace, mount, name), the key provider, the local key ring, the store or where it keeps records (SQLite path, etcd), "
                + "the data directory, whether the KMS plugin runs, its socket or what it accepts, the HTTP API or the audit trail. "
                + "Remove them from that secret.");
        }

        return values;
    }

    private static bool IsLocalOnly(string relativeKey) => LocalOnlySettings.Any(setting =>
        relativeKey.Equals(setting, StringComparison.OrdinalIgnoreCase)
        || relativeKey.StartsWith(setting + ConfigurationPath.KeyDelimiter, StringComparison.OrdinalIgnoreCase));

    private static void Flatten(JsonElement element, string prefix, Dictionary<string, string?> values)
    {
        switch (element.ValueKind)
        {
            case JsonValueKind.Object:
                foreach (var property in element.EnumerateObject())
                {
                    Flatten(property.Value, $"{prefix}:{property.Name}", values);
                }

                break;
            case JsonValueKind.Array:
                var index = 0;
                foreach (var item in element.EnumerateArray())
                {
                    Flatten(item, $"{prefix}:{index++}", values);
                }

                break;
            case JsonValueKind.String:
                values[prefix] = element.GetString();
                break;
            case JsonValueKind.Null:
                values[prefix] = null;
                break;
            default:
                values[prefix] = element.GetRawText();
                break;
        }
    }
}

/// <summary>
/// <c>Trousseau:Vault:ConfigPath</c> names a path that is missing, forbidden or not a KV v2 secret, or whose data sets a
/// setting that must stay local.
/// </summary>
public sealed class VaultConfigPathException : Exception
{
    /// <summary>Creates the exception.</summary>
    /// <param name="message">What is wrong, naming the key and the path (never a value).</param>
    public VaultConfigPathException(string message)
        : base(message)
    {
    }
}
