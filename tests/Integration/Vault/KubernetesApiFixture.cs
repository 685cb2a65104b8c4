using System.Globalization;
using System.Security.Cryptography;
using Trousseau.Tests.Integration.Infrastructure;

namespace Trousseau.Tests.Integration.Vault;

/// <summary>
/// One trousseaud with <c>Api:Auth:Mode=kubernetes</c>, checking callers through the in-repo Vault test server's
/// Kubernetes auth (role <see cref="Role"/>), with the <c>Api:Policies</c> of a settings file, shared by the tests of
/// a class. Service accounts: <c>payments:orders</c> (every action on <c>payments/**</c>), <c>audit:reader</c>
/// (read and list on <c>payments/*</c> only, keys) and <c>other:intruder</c> (known to Vault, named by no policy).
/// Tests that need a caller never seen before make one with <see cref="NewCaller"/>. Against a real Vault (see
/// <see cref="VaultTarget"/>) every test that uses it is skipped, and nothing is started.
/// </summary>
public sealed class KubernetesApiFixture : IAsyncLifetime, IDisposable
{
    public const string Role = "api-callers";
    public const string OrdersJwt = "eyJhbGciOiJSUzI1NiJ9.payments-orders.signature";
    public const string ReaderJwt = "eyJhbGciOiJSUzI1NiJ9.audit-reader.signature";
    public const string IntruderJwt = "eyJhbGciOiJSUzI1NiJ9.other-intruder.signature";

    /// <summary>The policies of the settings file, as <c>Trousseau:Api:Policies</c>.</summary>
    public const string Policies = """
        [
          { "Subjects": ["system:serviceaccount:payments:*"], "Secrets": ["payments/**"],
            "Actions": ["read", "list", "create", "update", "delete", "generate", "keys", "encrypt", "decrypt"] },
          { "Subjects": ["system:serviceaccount:audit:reader"], "Secrets": ["payments/*"], "Actions": ["read", "list", "keys"] }
        ]
        """;

    private readonly TempDirectory _temp = new();
    private VaultTarget? _target;

    internal VaultTestServer Vault { get; private set; } = null!;

    internal TrousseauServerProcess Server { get; private set; } = null!;

    internal string WorkingDirectory => _temp.Path;

    public async Task InitializeAsync()
    {
        if (VaultTarget.TestServerSkipReason is not null)
        {
            return;
        }

        _target = await VaultTarget.StartAsync();
        Vault = _target.RequireTestServer();
        Vault.CreateKey("trousseau");
        AddCaller(OrdersJwt, "payments", "orders");
        AddCaller(ReaderJwt, "audit", "reader");
        AddCaller(IntruderJwt, "other", "intruder");
        Server = await StartServerAsync("data");
    }

    /// <summary>Starts another trousseaud on the same Vault and policies, with <paramref name="extraArgs"/> added.</summary>
    internal async Task<TrousseauServerProcess> StartServerAsync(string dataDirName, params string[] extraArgs)
    {
        var rootToken = _temp.Combine("root-token");
        await File.WriteAllTextAsync(rootToken, Vault.RootToken);
        var settings = _temp.Combine("policies.json");
        await File.WriteAllTextAsync(settings, $$"""{ "Trousseau": { "Api": { "Policies": {{Policies}} } } }""");
        return await TrousseauServerProcess.StartAsync(_temp.Combine(dataDirName),
        [
            "--config", settings,
            "--Trousseau:KeyProvider=vault", $"--Trousseau:Vault:Address={Vault.Address}", $"--Trousseau:Vault:Auth:TokenFile={rootToken}",
            "--Trousseau:Kms:Enabled=false", "--Trousseau:Api:Auth:Mode=kubernetes", $"--Trousseau:Api:Auth:KubernetesRole={Role}",
            .. extraArgs,
        ]);
    }

    /// <summary>A service-account token Vault admits as <paramref name="namespace"/>:<paramref name="name"/>, never presented before.</summary>
    internal string NewCaller(string @namespace, string name)
    {
        var jwt = "eyJhbGciOiJSUzI1NiJ9." + Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(12)) + ".signature";
        AddCaller(jwt, @namespace, name);
        return jwt;
    }

    /// <summary>A client of the API that presents <paramref name="jwt"/> as its bearer token.</summary>
    internal HttpClient Client(string jwt, TrousseauServerProcess? server = null) => BearerClient.Create((server ?? Server).BaseAddress, jwt);

    /// <summary>A client of the API that sends <c>Authorization</c> exactly as given, or none.</summary>
    internal HttpClient RawClient(string? authorization)
    {
        var http = new HttpClient { BaseAddress = Server.BaseAddress, Timeout = TimeSpan.FromSeconds(30) };
        if (authorization is not null)
        {
            http.DefaultRequestHeaders.TryAddWithoutValidation("Authorization", authorization);
        }

        return http;
    }

    /// <summary>clectl pointed at the server, presenting <paramref name="jwt"/> through <c>$TROUSSEAU_TOKEN</c>.</summary>
    internal ClectlRunner Clectl(string jwt) => new(_temp.Path, new Dictionary<string, string?>
    {
        ["TROUSSEAU_SERVER"] = Server.BaseAddress.ToString(),
        ["TROUSSEAU_TOKEN"] = jwt,
        ["TROUSSEAU_HOME"] = _temp.Combine("no-data-dir"),
        ["XDG_CONFIG_HOME"] = _temp.Combine("config"),
    });

    /// <summary>Kubernetes logins Vault has answered so far.</summary>
    internal int Logins => Vault.Count("auth/kubernetes/login");

    /// <summary>The requests of <paramref name="method"/> trousseaud is serving now, as its <c>/metrics</c> says.</summary>
    internal async Task<int> ActiveRequestsAsync(string method, TrousseauServerProcess? server = null)
    {
        var metrics = await (server ?? Server).Http.GetStringAsync(new Uri((server ?? Server).BaseAddress, "metrics"));
        return metrics.Split('\n')
            .Where(line => line.StartsWith("http_server_active_requests{", StringComparison.Ordinal) && line.Contains($"http_request_method=\"{method}\"", StringComparison.Ordinal))
            .Sum(line => (int)double.Parse(line[(line.LastIndexOf(' ') + 1)..], CultureInfo.InvariantCulture));
    }

    public async Task DisposeAsync()
    {
        if (_target is null)
        {
            return;
        }

        await Server.DisposeAsync();
        await _target.DisposeAsync();
    }

    public void Dispose() => _temp.Dispose();

    private void AddCaller(string jwt, string @namespace, string name) =>
        Vault.AddKubernetesRole(Role, jwt, TimeSpan.FromMinutes(5), TimeSpan.FromHours(1), serviceAccountNamespace: @namespace, serviceAccountName: name);
}
