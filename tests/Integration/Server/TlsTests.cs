using System.Diagnostics;
using System.Net;
using System.Net.Security;
using System.Net.Sockets;
using System.Security.Cryptography.X509Certificates;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Trousseau.Hosting;
using Trousseau.Hosting.Api;
using Trousseau.Remote;
using Trousseau.Tests.Integration.Infrastructure;

namespace Trousseau.Tests.Integration.Server;

/// <summary>
/// trousseaud (and an application of its own) over HTTPS: the certificate of <c>Api:Tls</c> with its chain, replaced
/// when its files change without a restart, kept when the new files cannot be used, and the settings refused at start.
/// </summary>
public sealed class TlsTests : IDisposable
{
    private readonly TempDirectory _temp = new();
    private readonly TestCertificateAuthority _root = TestCertificateAuthority.Create("trousseau test root");
    private readonly string _caFile;

    public TlsTests() => _caFile = _root.WriteCertificate(_temp.Combine("ca.pem"));

    public void Dispose()
    {
        _root.Dispose();
        _temp.Dispose();
    }

    [Fact]
    public async Task A_renewed_certificate_swapped_in_as_a_kubernetes_secret_volume_does_is_served_without_a_restart()
    {
        // The layout kubelet gives a secret volume: tls.crt -> ..data/tls.crt, ..data -> a timestamped directory,
        // renewed by writing a new directory and renaming a new ..data link over the old one.
        var volume = Directory.CreateDirectory(_temp.Combine("tls")).FullName;
        var first = _root.IssueServer();
        await WriteVolumeAsync(volume, "..2025_01_01", first);
        File.CreateSymbolicLink(Path.Combine(volume, "tls.crt"), Path.Combine("..data", "tls.crt"));
        File.CreateSymbolicLink(Path.Combine(volume, "tls.key"), Path.Combine("..data", "tls.key"));
        await using var server = await StartAsync(Path.Combine(volume, "tls.crt"), Path.Combine(volume, "tls.key"));
        Assert.Equal(first.Thumbprint, await ServedThumbprintAsync(server.BaseAddress));

        // The renewal comes from an intermediate CA: a client that trusts the root only needs the chain sent along.
        using var intermediate = _root.CreateIntermediate("trousseau test intermediate");
        var renewed = intermediate.IssueServer();
        await WriteVolumeAsync(volume, "..2025_02_01", renewed);

        await Eventually.ReturnsAsync(() => ServedThumbprintAsync(server.BaseAddress), served => served == renewed.Thumbprint);
        using var live = await server.Http.GetAsync(new Uri(server.BaseAddress, "healthz"));
        Assert.Equal(HttpStatusCode.OK, live.StatusCode);
        Assert.Contains($"API TLS certificate CN=127.0.0.1 (thumbprint {renewed.Thumbprint}", server.Log, StringComparison.Ordinal);
    }

    [Fact]
    public async Task While_a_secret_volume_update_leaves_the_files_missing_the_previous_certificate_is_served_with_one_warning_then_the_new_one()
    {
        const string Unusable = "The API TLS files changed but cannot be used";
        var first = _root.IssueServer();
        var volume = KubeletVolume.Create(_temp.Combine("tls"), UnixFileMode.UserRead | UnixFileMode.UserWrite, Pems(first));
        await using var server = await StartAsync(volume.PathOf("tls.crt"), volume.PathOf("tls.key"));
        var renewed = _root.IssueServer();

        volume.BeginUpdateWithGap(Pems(renewed));
        await Eventually.HoldsAsync(
            async () => await ServedThumbprintAsync(server.BaseAddress) == first.Thumbprint && server.Log.Contains(Unusable, StringComparison.Ordinal),
            () => server.Log);
        Assert.Equal(first.Thumbprint, await ServedThumbprintAsync(server.BaseAddress));
        volume.FinishUpdate();

        await Eventually.ReturnsAsync(() => ServedThumbprintAsync(server.BaseAddress), served => served == renewed.Thumbprint);
        Assert.Single(server.Log.Split('\n'), line => line.Contains(Unusable, StringComparison.Ordinal));
        Assert.DoesNotContain(renewed.KeyPem.Split('\n')[1], server.Log, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Files_rewritten_half_way_leave_the_previous_certificate_served_with_a_warning_until_they_are_whole()
    {
        var (certFile, keyFile) = (_temp.Combine("server.pem"), _temp.Combine("server-key.pem"));
        var first = _root.IssueServer();
        first.WriteTo(certFile, keyFile);
        await using var server = await StartAsync(certFile, keyFile);
        var renewed = _root.IssueServer();

        // The certificate half written, then whole but with the previous key: neither can be served.
        await File.WriteAllTextAsync(certFile, renewed.CertificatePem[..(renewed.CertificatePem.Length / 2)]);
        await Eventually.HoldsAsync(
            async () => await ServedThumbprintAsync(server.BaseAddress) == first.Thumbprint
                && server.Log.Contains($"Trousseau:Api:Tls:CertFile names {certFile}, which holds no PEM certificate", StringComparison.Ordinal),
            () => server.Log);
        await File.WriteAllTextAsync(certFile, renewed.CertificatePem);
        await Eventually.HoldsAsync(
            async () => await ServedThumbprintAsync(server.BaseAddress) == first.Thumbprint
                && server.Log.Contains($"Trousseau:Api:Tls:KeyFile names {keyFile}, which is not the unencrypted PEM private key of the certificate in {certFile}", StringComparison.Ordinal),
            () => server.Log);
        Assert.Contains($"Still serving CN=127.0.0.1 (thumbprint {first.Thumbprint})", server.Log, StringComparison.Ordinal);

        await File.WriteAllTextAsync(keyFile, renewed.KeyPem);

        await Eventually.ReturnsAsync(() => ServedThumbprintAsync(server.BaseAddress), served => served == renewed.Thumbprint);
        Assert.DoesNotContain("PRIVATE KEY", server.Log, StringComparison.Ordinal);
        Assert.DoesNotContain(renewed.KeyPem.Split('\n')[1], server.Log, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_key_file_replaced_by_a_directory_leaves_the_previous_certificate_served_with_a_warning_saying_it_is_a_directory()
    {
        var (certFile, keyFile) = (_temp.Combine("server.pem"), _temp.Combine("server-key.pem"));
        var first = _root.IssueServer();
        first.WriteTo(certFile, keyFile);
        await using var server = await StartAsync(certFile, keyFile);

        File.Delete(keyFile);
        Directory.CreateDirectory(keyFile);

        await Eventually.HoldsAsync(
            async () => await ServedThumbprintAsync(server.BaseAddress) == first.Thumbprint
                && server.Log.Contains($"The API TLS files changed but cannot be used: Trousseau:Api:Tls:KeyFile names {keyFile}, which is a directory, not a file. Still serving CN=127.0.0.1 (thumbprint {first.Thumbprint})", StringComparison.Ordinal),
            () => server.Log);
        Assert.DoesNotContain("does not exist", server.Log, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_certificate_and_key_rewritten_in_place_with_the_same_lengths_and_time_stamps_right_after_they_were_read_are_served()
    {
        // Both versions carry the same time stamps, as writes within one tick of a coarse file system clock (or of a file
        // server whose clock is ahead) do: here a minute ahead, so that the server reads the first version within the
        // same tick whatever the time it takes to start.
        var (certFile, keyFile) = (_temp.Combine("server.pem"), _temp.Combine("server-key.pem"));
        var first = _root.IssueServer();
        var renewed = IssueOfTheSameLengths(first);
        var stamp = DateTime.UtcNow.AddMinutes(1);
        first.WriteTo(certFile, keyFile);
        File.SetLastWriteTimeUtc(certFile, stamp);
        File.SetLastWriteTimeUtc(keyFile, stamp);
        await using var server = await StartAsync(certFile, keyFile);
        Assert.Equal(first.Thumbprint, await ServedThumbprintAsync(server.BaseAddress));

        await File.WriteAllTextAsync(certFile, renewed.CertificatePem);
        await File.WriteAllTextAsync(keyFile, renewed.KeyPem);
        File.SetLastWriteTimeUtc(certFile, stamp);
        File.SetLastWriteTimeUtc(keyFile, stamp);

        Assert.Equal(renewed.Thumbprint, await ServedThumbprintAsync(server.BaseAddress));
    }

    [Theory]
    [InlineData("cert-only", "Trousseau:Api:Tls:KeyFile is not set; with Trousseau:Api:Tls:CertFile set it must name the PEM private key of that certificate.")]
    [InlineData("key-only", "Trousseau:Api:Tls:CertFile is not set; with Trousseau:Api:Tls:KeyFile set it must name the PEM certificate of that key.")]
    [InlineData("missing-cert", "Trousseau:Api:Tls:CertFile names {dir}/absent.pem, which does not exist.")]
    [InlineData("not-pem", "Trousseau:Api:Tls:CertFile names {dir}/server.pem, which holds no PEM certificate (-----BEGIN CERTIFICATE-----).")]
    [InlineData("wrong-key", "Trousseau:Api:Tls:KeyFile names {dir}/other-key.pem, which is not the unencrypted PEM private key of the certificate in {dir}/server.pem.")]
    [InlineData("cert-directory", "Trousseau:Api:Tls:CertFile names {dir}/certs, which is a directory, not a file.")]
    [InlineData("client-cert", "Trousseau:Api:Tls:CertFile names {dir}/client.pem, whose certificate (CN=deployer) is not for servers: its extended key usage lacks serverAuth.")]
    [InlineData("missing-client-ca", "Trousseau:Api:Tls:ClientCaFile names {dir}/absent-ca.pem, which does not exist.")]
    [InlineData("client-ca-only", "Trousseau:Api:Tls:ClientCaFile is set, but client certificates are asked for only over TLS: set Trousseau:Api:Tls:CertFile and Trousseau:Api:Tls:KeyFile too.")]
    [InlineData("https-without-cert", "Trousseau:Api:Urls has 'https://127.0.0.1:{port}', which needs a certificate: set Trousseau:Api:Tls:CertFile and Trousseau:Api:Tls:KeyFile (PEM files).")]
    [InlineData("cert-without-https", "Trousseau:Api:Tls:CertFile is set, but no URL of Trousseau:Api:Urls ('http://127.0.0.1:{port}') is https://")]
    [InlineData("https-without-api", "Trousseau:Api:Urls has 'https://127.0.0.1:{port}', but with Trousseau:Api:Enabled false trousseaud serves only its probes, over plain HTTP")]
    public async Task Unusable_tls_settings_stop_the_start_with_exit_2_naming_the_key_and_the_full_path(string setup, string message)
    {
        var (certFile, keyFile) = (_temp.Combine("server.pem"), _temp.Combine("server-key.pem"));
        _root.IssueServer().WriteTo(certFile, keyFile);
        _root.IssueServer().WriteTo(_temp.Combine("other.pem"), _temp.Combine("other-key.pem"));
        var port = FreePort.Next();
        var (https, http) = ($"https://127.0.0.1:{port}", $"http://127.0.0.1:{port}");
        string[] args = setup switch
        {
            "cert-only" => ["--urls", https, $"--Trousseau:Api:Tls:CertFile={certFile}"],
            "key-only" => ["--urls", http, $"--Trousseau:Api:Tls:KeyFile={keyFile}"],
            "missing-cert" => ["--urls", https, "--Trousseau:Api:Tls:CertFile=absent.pem", $"--Trousseau:Api:Tls:KeyFile={keyFile}"],
            "not-pem" => ["--urls", https, $"--Trousseau:Api:Tls:CertFile={WriteNotPem(certFile)}", $"--Trousseau:Api:Tls:KeyFile={keyFile}"],
            "wrong-key" => ["--urls", https, $"--Trousseau:Api:Tls:CertFile={certFile}", $"--Trousseau:Api:Tls:KeyFile={_temp.Combine("other-key.pem")}"],
            "cert-directory" => ["--urls", https, $"--Trousseau:Api:Tls:CertFile={Directory.CreateDirectory(_temp.Combine("certs")).FullName}", $"--Trousseau:Api:Tls:KeyFile={keyFile}"],
            "client-cert" => ["--urls", https, $"--Trousseau:Api:Tls:CertFile={WriteClientCertificate()}", $"--Trousseau:Api:Tls:KeyFile={_temp.Combine("client-key.pem")}"],
            "missing-client-ca" => ["--urls", https, $"--Trousseau:Api:Tls:CertFile={certFile}", $"--Trousseau:Api:Tls:KeyFile={keyFile}", "--Trousseau:Api:Tls:ClientCaFile=absent-ca.pem"],
            "client-ca-only" => ["--urls", http, $"--Trousseau:Api:Tls:ClientCaFile={_caFile}"],
            "https-without-cert" => ["--urls", https],
            "cert-without-https" => ["--urls", http, $"--Trousseau:Api:Tls:CertFile={certFile}", $"--Trousseau:Api:Tls:KeyFile={keyFile}"],
            _ => ["--urls", https, "--Trousseau:Api:Enabled=false", $"--Trousseau:Api:Tls:CertFile={certFile}", $"--Trousseau:Api:Tls:KeyFile={keyFile}"],
        };

        var result = await ChildProcess.RunAsync(DotnetProcess.StartInfo(RepositoryPaths.Server, ["--data-dir", _temp.Combine("data"), .. args], _temp.Path), timeout: TimeSpan.FromSeconds(30));

        Assert.Equal(2, result.ExitCode);
        var line = Assert.Single(result.Stderr.Split('\n', StringSplitOptions.RemoveEmptyEntries));
        Assert.Contains(message.Replace("{dir}", _temp.Path, StringComparison.Ordinal).Replace("{port}", $"{port}", StringComparison.Ordinal), line, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("vault-ca-not-pem", "Trousseau:Vault:CaFile names {dir}/server.pem, which holds no PEM certificate (-----BEGIN CERTIFICATE-----).")]
    [InlineData("etcd-ca-not-pem", "Trousseau:Etcd:CaFile names {dir}/server.pem, which holds no PEM certificate (-----BEGIN CERTIFICATE-----).")]
    [InlineData("etcd-cert-not-pem", "Trousseau:Etcd:CertFile names {dir}/server.pem, which holds no PEM certificate (-----BEGIN CERTIFICATE-----).")]
    [InlineData("etcd-wrong-key", "Trousseau:Etcd:KeyFile names {dir}/other-key.pem, which is not the unencrypted PEM private key of the certificate in {dir}/server.pem.")]
    public async Task Unusable_tls_files_for_vault_and_etcd_stop_the_start_with_exit_2_naming_the_key_and_the_full_path(string setup, string message)
    {
        var (certFile, keyFile) = (_temp.Combine("server.pem"), _temp.Combine("server-key.pem"));
        _root.IssueServer().WriteTo(certFile, keyFile);
        _root.IssueServer().WriteTo(_temp.Combine("other.pem"), _temp.Combine("other-key.pem"));
        string[] vault = ["--Trousseau:KeyProvider=vault", "--Trousseau:Vault:Address=https://127.0.0.1:1", "--Trousseau:Vault:Auth:Token=unused"];
        string[] etcd = ["--Trousseau:Store=etcd", "--Trousseau:Etcd:Endpoints:0=https://127.0.0.1:1"];
        string[] args = setup switch
        {
            "vault-ca-not-pem" => [.. vault, $"--Trousseau:Vault:CaFile={WriteNotPem(certFile)}"],
            "etcd-ca-not-pem" => [.. etcd, $"--Trousseau:Etcd:CaFile={WriteNotPem(certFile)}"],
            "etcd-cert-not-pem" => [.. etcd, $"--Trousseau:Etcd:CertFile={WriteNotPem(certFile)}", $"--Trousseau:Etcd:KeyFile={keyFile}"],
            _ => [.. etcd, $"--Trousseau:Etcd:CertFile={certFile}", $"--Trousseau:Etcd:KeyFile={_temp.Combine("other-key.pem")}"],
        };

        var result = await TrousseauServerProcess.RunToExitAsync(_temp.Combine("data"), args);

        Assert.Equal(2, result.ExitCode);
        Assert.Equal(
            $"trousseaud: invalid configuration: {message.Replace("{dir}", _temp.Path, StringComparison.Ordinal)}",
            Assert.Single(result.Stderr.Split('\n', StringSplitOptions.RemoveEmptyEntries)));
    }

    [Fact]
    public async Task An_application_serves_the_api_over_https_with_UseTrousseauApiTls_and_the_client_checks_the_ca()
    {
        await using var app = await StartApplicationAsync(clientCaFile: null);
        var address = AddressOf(app);

        using var trusting = new HttpClient(TrousseauHttpHandler.Create(new TrousseauClientTlsOptions { CaFile = _caFile })) { BaseAddress = address };
        var status = await new TrousseauClient(trusting).GetKeyStatusAsync();

        using var other = TestCertificateAuthority.Create("another CA");
        var otherCa = other.WriteCertificate(_temp.Combine("other-ca.pem"));
        using var distrusting = new HttpClient(TrousseauHttpHandler.Create(new TrousseauClientTlsOptions { CaFile = otherCa })) { BaseAddress = address };
        var refused = await Assert.ThrowsAsync<DependencyUnavailableException>(async () => await new TrousseauClient(distrusting).GetKeyStatusAsync());

        Assert.Equal("local", status.Provider);
        Assert.Contains($"does not chain to a CA in {otherCa}", refused.Message, StringComparison.Ordinal);
        Assert.Contains("issued by CN=trousseau test root", refused.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task With_a_client_ca_only_a_client_certificate_it_issued_gets_through_and_reaches_the_request()
    {
        await using var app = await StartApplicationAsync(clientCaFile: _caFile);
        var address = AddressOf(app);
        _root.IssueClient("CN=deployer").WriteTo(_temp.Combine("client.pem"), _temp.Combine("client-key.pem"));
        using var other = TestCertificateAuthority.Create("another CA");
        other.IssueClient("CN=deployer").WriteTo(_temp.Combine("other-client.pem"), _temp.Combine("other-client-key.pem"));

        using var withCertificate = new HttpClient(TrousseauHttpHandler.Create(new TrousseauClientTlsOptions
        {
            CaFile = _caFile, CertFile = _temp.Combine("client.pem"), KeyFile = _temp.Combine("client-key.pem"),
        })) { BaseAddress = address };
        using var withOther = new HttpClient(TrousseauHttpHandler.Create(new TrousseauClientTlsOptions
        {
            CaFile = _caFile, CertFile = _temp.Combine("other-client.pem"), KeyFile = _temp.Combine("other-client-key.pem"),
        })) { BaseAddress = address };
        using var without = new HttpClient(TrousseauHttpHandler.Create(new TrousseauClientTlsOptions { CaFile = _caFile })) { BaseAddress = address };

        Assert.Equal("CN=deployer", await withCertificate.GetStringAsync(new Uri("client-certificate", UriKind.Relative)));
        await Assert.ThrowsAsync<HttpRequestException>(() => withOther.GetStringAsync(new Uri("client-certificate", UriKind.Relative)));
        await Assert.ThrowsAsync<HttpRequestException>(() => without.GetStringAsync(new Uri("client-certificate", UriKind.Relative)));
    }

    [Fact]
    public async Task With_a_client_ca_a_certificate_of_its_intermediate_sent_with_its_chain_gets_through_and_one_not_for_clients_does_not()
    {
        await using var app = await StartApplicationAsync(clientCaFile: _caFile);
        var address = AddressOf(app);
        using var intermediate = _root.CreateIntermediate("trousseau test client intermediate");
        intermediate.IssueClient("CN=chained-deployer").WriteTo(_temp.Combine("chained.pem"), _temp.Combine("chained-key.pem"));
        _root.IssueServer().WriteTo(_temp.Combine("server-usage.pem"), _temp.Combine("server-usage-key.pem"));
        using var chained = ClientWith(address, "chained");
        using var serverUsage = ClientWith(address, "server-usage");

        // The client CA file holds the root alone: the intermediate comes with the client's certificate.
        Assert.Equal("CN=chained-deployer", await chained.GetStringAsync(new Uri("client-certificate", UriKind.Relative)));

        // Issued by the client CA, but for servers only (its extended key usage lacks clientAuth).
        await Assert.ThrowsAsync<HttpRequestException>(() => serverUsage.GetStringAsync(new Uri("client-certificate", UriKind.Relative)));
    }

    [Fact]
    public async Task With_a_client_ca_a_certificate_of_it_whose_validity_has_ended_is_refused_at_the_handshake()
    {
        await using var app = await StartApplicationAsync(clientCaFile: _caFile);
        var address = AddressOf(app);
        _root.IssueExpiredClient("CN=lapsed-deployer").WriteTo(_temp.Combine("lapsed.pem"), _temp.Combine("lapsed-key.pem"));
        _root.IssueClient("CN=current-deployer").WriteTo(_temp.Combine("current.pem"), _temp.Combine("current-key.pem"));
        using var lapsed = ClientWith(address, "lapsed");
        using var current = ClientWith(address, "current");

        // The same CA and usage: only the dates differ.
        await Assert.ThrowsAsync<HttpRequestException>(() => lapsed.GetStringAsync(new Uri("client-certificate", UriKind.Relative)));
        Assert.Equal("CN=current-deployer", await current.GetStringAsync(new Uri("client-certificate", UriKind.Relative)));
    }

    [Fact]
    public async Task A_certificate_a_renewal_replaced_is_disposed_once_no_connection_uses_it_and_a_handshake_begun_before_completes()
    {
        await using var app = await StartApplicationAsync(clientCaFile: null);
        var address = AddressOf(app);
        var replaced = app.Services.GetRequiredService<ApiTlsCertificate>().Current.Certificate;

        // A connection Kestrel took before the renewal, whose client has not sent its hello yet.
        using var pending = new TcpClient();
        await pending.ConnectAsync(address.Host, address.Port);

        var renewed = _root.IssueServer();
        renewed.WriteTo(_temp.Combine("server.pem"), _temp.Combine("server-key.pem"));
        await Eventually.ReturnsAsync(() => ServedThumbprintAsync(address), served => served == renewed.Thumbprint);
        await using (var handshake = new SslStream(pending.GetStream()))
        {
            await handshake.AuthenticateAsClientAsync(new SslClientAuthenticationOptions
            {
                TargetHost = "127.0.0.1",
                RemoteCertificateValidationCallback = (_, certificate, _, _) => certificate is not null,
            });
        }

        // Its native handle goes with the connections that used it, not with a finalizer some day.
        await Eventually.HoldsAsync(() => replaced.Handle == IntPtr.Zero, () => "the certificate served before the renewal is still open");
    }

    /// <summary>
    /// An application of its own on Kestrel with the API over HTTPS through <c>UseTrousseauApiTls</c>, and a route that
    /// answers the subject of the connection's client certificate.
    /// </summary>
    private async Task<WebApplication> StartApplicationAsync(string? clientCaFile)
    {
        var (certFile, keyFile) = (_temp.Combine("server.pem"), _temp.Combine("server-key.pem"));
        _root.IssueServer().WriteTo(certFile, keyFile);
        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        builder.WebHost.UseKestrelHttpsConfiguration().UseUrls("https://127.0.0.1:0").ConfigureKestrel(kestrel => kestrel.UseTrousseauApiTls());
        builder.Services.AddTrousseau(_ => { })
            .UseLocalKeyRing(ring => ring.KeyFile = _temp.Combine("local.keyring"))
            .UseInMemoryStore()
            .AddHttpApi(api =>
            {
                api.Auth.Mode = TrousseauApiAuthMode.None;
                api.Tls.CertFile = certFile;
                api.Tls.KeyFile = keyFile;
                api.Tls.ClientCaFile = clientCaFile;
            });
        var app = builder.Build();
        app.MapTrousseauApi();
        app.MapGet("/client-certificate", (HttpContext context) => context.Connection.ClientCertificate?.Subject ?? "none");
        await app.StartAsync();
        return app;
    }

    /// <summary>A client of <paramref name="address"/> that trusts the test CA and presents <c>NAME.pem</c> with <c>NAME-key.pem</c>.</summary>
    private HttpClient ClientWith(Uri address, string name) =>
        new(TrousseauHttpHandler.Create(new TrousseauClientTlsOptions
        {
            CaFile = _caFile, CertFile = _temp.Combine($"{name}.pem"), KeyFile = _temp.Combine($"{name}-key.pem"),
        })) { BaseAddress = address };

    private static Uri AddressOf(WebApplication app) =>
        new(app.Services.GetRequiredService<IServer>().Features.GetRequiredFeature<IServerAddressesFeature>().Addresses.Single());

    private Task<TrousseauServerProcess> StartAsync(string certFile, string keyFile) =>
        TrousseauServerProcess.StartAsync(
            _temp.Combine("data"),
            [$"--Trousseau:Api:Tls:CertFile={certFile}", $"--Trousseau:Api:Tls:KeyFile={keyFile}", "--Trousseau:Kms:Enabled=false"],
            listener: ServerListener.Https(() => TrousseauHttpHandler.Create(new TrousseauClientTlsOptions { CaFile = _caFile })));

    private static Dictionary<string, string> Pems(IssuedCertificate certificate) => new()
    {
        ["tls.crt"] = certificate.CertificatePem,
        ["tls.key"] = certificate.KeyPem,
    };

    /// <summary>Writes the certificate in a new directory of the volume and points <c>..data</c> at it in one rename, as kubelet does.</summary>
    private static async Task WriteVolumeAsync(string volume, string version, IssuedCertificate certificate)
    {
        var directory = Directory.CreateDirectory(Path.Combine(volume, version)).FullName;
        certificate.WriteTo(Path.Combine(directory, "tls.crt"), Path.Combine(directory, "tls.key"));
        var link = Path.Combine(volume, "..data_tmp");
        File.CreateSymbolicLink(link, version);
        var rename = await ChildProcess.RunAsync(new ProcessStartInfo("mv", ["-T", link, Path.Combine(volume, "..data")]));
        Assert.True(rename.ExitCode == 0, rename.Stderr);
    }

    /// <summary>
    /// The thumbprint of the certificate a new TLS connection to <paramref name="address"/> is served, which must chain
    /// to the root CA, through the intermediates sent with it.
    /// </summary>
    private async Task<string> ServedThumbprintAsync(Uri address)
    {
        using var root = X509Certificate2.CreateFromPem(_root.CertificatePem);
        var trust = new X509ChainPolicy { TrustMode = X509ChainTrustMode.CustomRootTrust, RevocationMode = X509RevocationMode.NoCheck, DisableCertificateDownloads = true };
        trust.CustomTrustStore.Add(root);
        using var tcp = new TcpClient();
        await tcp.ConnectAsync(address.Host, address.Port);
        await using var tls = new SslStream(tcp.GetStream());
        await tls.AuthenticateAsClientAsync(new SslClientAuthenticationOptions { TargetHost = address.Host, CertificateChainPolicy = trust });
        return tls.RemoteCertificate!.GetCertHashString();
    }

    /// <summary>Another certificate and key whose PEM texts have the lengths of <paramref name="first"/>'s (the signature's length varies).</summary>
    private IssuedCertificate IssueOfTheSameLengths(IssuedCertificate first)
    {
        for (var attempt = 0; attempt < 200; attempt++)
        {
            var other = _root.IssueServer();
            if (other.CertificatePem.Length == first.CertificatePem.Length && other.KeyPem.Length == first.KeyPem.Length)
            {
                return other;
            }
        }

        throw new InvalidOperationException("No certificate of the same length was issued in 200 attempts.");
    }

    private static string WriteNotPem(string path)
    {
        File.WriteAllText(path, "not a certificate\n");
        return path;
    }

    /// <summary>Writes a client certificate of the test CA (extended key usage clientAuth alone) and its key; returns the certificate's path.</summary>
    private string WriteClientCertificate()
    {
        _root.IssueClient("CN=deployer").WriteTo(_temp.Combine("client.pem"), _temp.Combine("client-key.pem"));
        return _temp.Combine("client.pem");
    }
}
