using System.Security.Cryptography.X509Certificates;
using System.Text.Json;
using Microsoft.AspNetCore.Http;
using Trousseau.Remote;
using Trousseau.Tests.Integration.Infrastructure;

namespace Trousseau.Tests.Integration.Cli;

/// <summary>
/// Two trousseauds over HTTPS with certificates of a CA made for the class: one with TLS alone, one that requires a
/// client certificate issued under that CA (mutual TLS).
/// </summary>
public sealed class TlsServersFixture : IAsyncLifetime, IDisposable
{
    private readonly TempDirectory _temp = new();
    private readonly TestCertificateAuthority _ca = TestCertificateAuthority.Create("trousseau test CA");
    private readonly TestCertificateAuthority _other = TestCertificateAuthority.Create("another CA");

    internal TrousseauServerProcess Tls { get; private set; } = null!;

    internal TrousseauServerProcess Mutual { get; private set; } = null!;

    internal string Directory => _temp.Path;

    internal string CaFile => _temp.Combine("ca.pem");

    internal string OtherCaFile => _temp.Combine("other-ca.pem");

    internal string ClientCert => _temp.Combine("client.pem");

    internal string ClientKey => _temp.Combine("client-key.pem");

    internal string OtherClientCert => _temp.Combine("other-client.pem");

    internal string OtherClientKey => _temp.Combine("other-client-key.pem");

    internal string SubjectlessClientCert => _temp.Combine("subjectless-client.pem");

    internal string SubjectlessClientKey => _temp.Combine("subjectless-client-key.pem");

    internal string TlsDataDir => _temp.Combine("tls-data");

    internal string MutualDataDir => _temp.Combine("mutual-data");

    public async Task InitializeAsync()
    {
        _ca.WriteCertificate(CaFile);
        _other.WriteCertificate(OtherCaFile);
        _ca.IssueServer().WriteTo(_temp.Combine("server.pem"), _temp.Combine("server-key.pem"));
        _ca.IssueClient("CN=deployer").WriteTo(ClientCert, ClientKey);
        _other.IssueClient("CN=deployer").WriteTo(OtherClientCert, OtherClientKey);
        _ca.IssueClient("").WriteTo(SubjectlessClientCert, SubjectlessClientKey);
        string[] tls = [$"--Trousseau:Api:Tls:CertFile={_temp.Combine("server.pem")}", $"--Trousseau:Api:Tls:KeyFile={_temp.Combine("server-key.pem")}", "--Trousseau:Kms:Enabled=false"];

        Tls = await TrousseauServerProcess.StartAsync(TlsDataDir, tls, listener: ServerListener.Https(() => Handler(withClientCertificate: false)));
        Mutual = await TrousseauServerProcess.StartAsync(
            MutualDataDir, [.. tls, $"--Trousseau:Api:Tls:ClientCaFile={CaFile}"], listener: ServerListener.Https(() => Handler(withClientCertificate: true)));
    }

    public async Task DisposeAsync()
    {
        await Tls.DisposeAsync();
        await Mutual.DisposeAsync();
    }

    public void Dispose()
    {
        _ca.Dispose();
        _other.Dispose();
        _temp.Dispose();
    }

    private HttpMessageHandler Handler(bool withClientCertificate) => TrousseauHttpHandler.Create(withClientCertificate
        ? new TrousseauClientTlsOptions { CaFile = CaFile, CertFile = ClientCert, KeyFile = ClientKey }
        : new TrousseauClientTlsOptions { CaFile = CaFile });
}

/// <summary>clectl over HTTPS: <c>--ca-file</c>, <c>--cert</c> and <c>--key</c>, and contexts that keep them.</summary>
public sealed class CliTlsTests(TlsServersFixture servers) : IClassFixture<TlsServersFixture>, IDisposable
{
    private readonly TempDirectory _temp = new();

    public void Dispose() => _temp.Dispose();

    [Fact]
    public async Task With_the_ca_file_clectl_writes_reads_and_checks_health_over_https()
    {
        var clectl = ClectlRunner.For(servers.Tls, servers.TlsDataDir, _temp.Path);

        ClectlAssert.Ok(await clectl.RunAsync("secret", "create", "tls/one", "--from-literal", "k=over-tls", "--ca-file", servers.CaFile));
        var read = await clectl.RunAsync("--ca-file", servers.CaFile, "secret", "get", "tls/one", "--key", "k");
        var health = await clectl.RunAsync("health", "--ca-file", servers.CaFile);

        Assert.Equal("over-tls", read.Stdout);
        Assert.True(health.ExitCode == 0, health.Stderr);
    }

    [Fact]
    public async Task A_server_certificate_that_does_not_chain_to_the_ca_file_is_refused_with_exit_6_saying_why()
    {
        var clectl = ClectlRunner.For(servers.Tls, servers.TlsDataDir, _temp.Path);

        var otherCa = await clectl.RunAsync("secret", "list", "--ca-file", servers.OtherCaFile);
        var systemCas = await clectl.RunAsync("secret", "list");
        var health = await clectl.RunAsync("health", "--ca-file", servers.OtherCaFile);

        Assert.Contains(
            $"the TLS handshake failed: the TLS certificate of trousseaud at 127.0.0.1 (CN=127.0.0.1, issued by CN=trousseau test CA) does not chain to a CA in {servers.OtherCaFile}",
            ClectlAssert.Fails(otherCa, 6),
            StringComparison.Ordinal);
        Assert.Contains("is not trusted by this system's CAs", ClectlAssert.Fails(systemCas, 6), StringComparison.Ordinal);
        Assert.Contains($"does not chain to a CA in {servers.OtherCaFile}", ClectlAssert.Fails(health, 6), StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_server_whose_certificate_fails_verification_gets_neither_request_nor_token_and_the_next_one_answers()
    {
        using var rogueCa = TestCertificateAuthority.Create("rogue CA");
        var issued = rogueCa.IssueServer();
        using var certificate = X509Certificate2.CreateFromPem(issued.CertificatePem, issued.KeyPem);
        await using var impostor = await RecordingServer.StartAsync(_ => Results.Ok(), certificate);
        var clectl = ClectlRunner.For(servers.Tls, servers.TlsDataDir, _temp.Path);
        var valueFile = Path.Combine(_temp.Path, "impostor-value");
        await File.WriteAllTextAsync(valueFile, "past-the-impostor");
        var list = $"{impostor.BaseAddress},{servers.Tls.BaseAddress}";

        var create = await clectl.RunAsync("--server", list, "--ca-file", servers.CaFile, "secret", "create", "tls/impostor", "--from-file", $"k={valueFile}");
        var get = await clectl.RunAsync("--server", list, "--ca-file", servers.CaFile, "secret", "get", "tls/impostor", "--key", "k");

        ClectlAssert.Ok(create);
        ClectlAssert.Ok(get);
        Assert.Equal("past-the-impostor", get.Stdout);
        Assert.StartsWith("https://", impostor.BaseAddress.AbsoluteUri, StringComparison.Ordinal);
        Assert.Empty(impostor.Requests);
    }

    [Fact]
    public async Task Mutual_tls_serves_clectl_with_a_client_certificate_of_its_ca_and_refuses_it_without_one_or_with_another()
    {
        var clectl = ClectlRunner.For(servers.Mutual, servers.MutualDataDir, _temp.Path);

        var without = await clectl.RunAsync("secret", "list", "--ca-file", servers.CaFile);
        var otherCa = await clectl.RunAsync("--ca-file", servers.CaFile, "--cert", servers.OtherClientCert, "--key", servers.OtherClientKey, "secret", "list");
        var with = await clectl.RunAsync("--ca-file", servers.CaFile, "--cert", servers.ClientCert, "--key", servers.ClientKey, "secret", "create", "mtls/one", "--from-literal", "k=v");

        Assert.Contains("requires a client certificate (mutual TLS) and none was sent: give one with --cert and --key", ClectlAssert.Fails(without, 6), StringComparison.Ordinal);
        Assert.Contains($"does not accept {servers.OtherClientCert}", ClectlAssert.Fails(otherCa, 6), StringComparison.Ordinal);
        ClectlAssert.Ok(with);
    }

    [Fact]
    public async Task Under_mutual_tls_a_caller_without_a_token_is_its_certificates_subject_and_with_the_token_admin()
    {
        var clectl = ClectlRunner.For(servers.Mutual, servers.MutualDataDir, _temp.Path);
        string[] certificate = ["--ca-file", servers.CaFile, "--cert", servers.ClientCert, "--key", servers.ClientKey];

        var bySubject = await clectl.With(("TROUSSEAU_TOKEN", null)).RunAsync([.. certificate, "auth", "whoami", "-o", "json"]);
        var byToken = await clectl.RunAsync([.. certificate, "auth", "whoami", "-o", "json"]);

        ClectlAssert.Ok(bySubject);
        ClectlAssert.Ok(byToken);
        Assert.Equal("CN=deployer", JsonDocument.Parse(bySubject.Stdout).RootElement.GetProperty("identity").GetString());
        Assert.Equal("admin", JsonDocument.Parse(byToken.Stdout).RootElement.GetProperty("identity").GetString());
    }

    [Fact]
    public async Task Under_mutual_tls_a_certificate_the_server_takes_for_no_identity_is_refused_with_exit_5_giving_the_servers_reason()
    {
        var clectl = ClectlRunner.For(servers.Mutual, servers.MutualDataDir, _temp.Path).With(("TROUSSEAU_TOKEN", null));

        var whoami = await clectl.RunAsync(
            "--ca-file", servers.CaFile, "--cert", servers.SubjectlessClientCert, "--key", servers.SubjectlessClientKey, "auth", "whoami");

        var error = ClectlAssert.Fails(whoami, 5);
        Assert.Contains($"the client certificate {servers.SubjectlessClientCert}", error, StringComparison.Ordinal);
        Assert.Contains("The client certificate's subject is empty, so it names no identity", error, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_context_keeps_the_paths_of_the_tls_files_and_uses_them()
    {
        var clectl = new ClectlRunner(_temp.Path, new Dictionary<string, string?> { ["XDG_CONFIG_HOME"] = _temp.Combine("config") });

        ClectlAssert.Ok(await clectl.RunAsync(
            "context", "set", "secure", "--server", servers.Mutual.BaseAddress.ToString(), "--token-file", Path.Combine(servers.MutualDataDir, "api.token"),
            "--ca-file", servers.CaFile, "--cert", servers.ClientCert, "--key", servers.ClientKey));
        var list = await clectl.RunAsync("context", "list", "-o", "json");
        var keys = await clectl.RunAsync("key", "status");

        ClectlAssert.Ok(keys);
        using var contexts = JsonDocument.Parse(list.Stdout);
        var secure = contexts.RootElement.GetProperty("contexts")[0];
        Assert.Equal(servers.CaFile, secure.GetProperty("caFile").GetString());
        Assert.Equal(servers.ClientCert, secure.GetProperty("certFile").GetString());
        Assert.Equal(servers.ClientKey, secure.GetProperty("keyFile").GetString());
        var stored = await File.ReadAllTextAsync(_temp.Combine("config", "trousseau", "config.json"));
        Assert.DoesNotContain("BEGIN", stored, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_missing_tls_file_or_a_certificate_without_its_key_is_a_usage_error()
    {
        var clectl = ClectlRunner.For(servers.Tls, servers.TlsDataDir, _temp.Path);

        var missing = await clectl.RunAsync("secret", "list", "--ca-file", "absent-ca.pem");
        var certOnly = await clectl.RunAsync("secret", "list", "--cert", servers.ClientCert);
        var keyAsSecretKey = await clectl.RunAsync("--cert", servers.ClientCert, "secret", "get", "tls/one", "--key", servers.ClientKey);

        Assert.Contains($"The file {_temp.Combine("absent-ca.pem")} does not exist.", ClectlAssert.Fails(missing, 2), StringComparison.Ordinal);
        Assert.Contains("--cert needs --key", ClectlAssert.Fails(certOnly, 2), StringComparison.Ordinal);
        Assert.Contains("--cert needs --key", ClectlAssert.Fails(keyAsSecretKey, 2), StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("--ca-file")]
    [InlineData("--cert")]
    [InlineData("--key")]
    public async Task A_tls_file_option_naming_a_directory_is_a_usage_error_saying_it_is_a_directory(string option)
    {
        var clectl = ClectlRunner.For(servers.Tls, servers.TlsDataDir, _temp.Path);
        var directory = _temp.Combine("tls-directory");
        Directory.CreateDirectory(directory);
        var files = new Dictionary<string, string> { ["--ca-file"] = servers.CaFile, ["--cert"] = servers.ClientCert, ["--key"] = servers.ClientKey };
        files[option] = directory;

        var result = await clectl.RunAsync("secret", "list", "--ca-file", files["--ca-file"], "--cert", files["--cert"], "--key", files["--key"]);

        Assert.Equal(
            $"clectl: The file {directory} is a directory, not a file. (from --ca-file, --cert, --key or the context)",
            ClectlAssert.Fails(result, 2).Trim());
    }
}
