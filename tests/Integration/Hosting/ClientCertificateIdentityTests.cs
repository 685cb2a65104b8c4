using System.Net;
using System.Net.Http.Headers;
using System.Security.Claims;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using System.Text.Json;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Server.Kestrel.Https;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Trousseau.Hosting;
using Trousseau.Tests.Integration.Infrastructure;

namespace Trousseau.Tests.Integration.Hosting;

/// <summary>
/// Mutual TLS: an application serving the API on Kestrel over HTTPS that requires a client certificate issued by its
/// own CA. A request without a bearer token is the certificate's subject, to which policies apply; a bearer token,
/// when sent, is what identifies the caller; either way the caller is ASP.NET Core's <c>HttpContext.User</c>.
/// </summary>
public sealed class ClientCertificateIdentityTests(ClientCertificateIdentityTests.MutualTlsApi api) : IClassFixture<ClientCertificateIdentityTests.MutualTlsApi>
{
    private const string Subject = "CN=ci-deployer, O=Example";

    [Fact]
    public async Task Without_a_bearer_token_the_client_certificate_subject_is_the_identity_and_policies_apply_to_it()
    {
        using var http = api.Client(token: null);

        using var whoami = await http.GetAsync(new Uri("v1/auth/whoami", UriKind.Relative));
        using var created = await http.PostAsync(new Uri("v1/secrets", UriKind.Relative), JsonBody.Of("""{"name":"ci/build","data":{"k":"v"}}"""));
        using var refused = await http.PostAsync(new Uri("v1/secrets", UriKind.Relative), JsonBody.Of("""{"name":"prod/db","data":{"k":"v"}}"""));

        Assert.Equal(HttpStatusCode.OK, whoami.StatusCode);
        using (var body = JsonDocument.Parse(await whoami.Content.ReadAsStringAsync()))
        {
            Assert.Equal(Subject, body.RootElement.GetProperty("identity").GetString());
            Assert.Equal(["read", "create"], body.RootElement.GetProperty("actions").EnumerateArray().Select(a => a.GetString()));
        }

        Assert.Equal($"{Subject} (certificate)", await http.GetStringAsync(new Uri("v1/app/me", UriKind.Relative)));
        Assert.Equal(HttpStatusCode.Created, created.StatusCode);
        var problem = await Problems.AssertAsync(refused, HttpStatusCode.Forbidden);
        Assert.Contains($"The identity '{Subject}' may not do 'create' on the secret 'prod/db'", problem.GetProperty("detail").GetString(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_bearer_token_sent_with_a_certificate_identifies_the_caller_and_a_wrong_one_is_refused()
    {
        using var admin = api.Client(await BearerClient.ReadTokenAsync(api.TokenFile));
        using var wrong = api.Client("not-the-token");

        using var whoami = await admin.GetAsync(new Uri("v1/auth/whoami", UriKind.Relative));
        using var refused = await wrong.GetAsync(new Uri("v1/auth/whoami", UriKind.Relative));

        using var body = JsonDocument.Parse(await whoami.Content.ReadAsStringAsync());
        Assert.Equal("admin", body.RootElement.GetProperty("identity").GetString());
        Assert.Equal("admin (token)", await admin.GetStringAsync(new Uri("v1/app/me", UriKind.Relative)));
        await Problems.AssertAsync(refused, HttpStatusCode.Unauthorized);
    }

    [Fact]
    public async Task A_client_certificate_with_an_empty_subject_names_no_identity_and_is_refused_with_401()
    {
        using var http = api.Client(token: null, withSubject: false);

        using var whoami = await http.GetAsync(new Uri("v1/auth/whoami", UriKind.Relative));

        var problem = await Problems.AssertAsync(whoami, HttpStatusCode.Unauthorized);
        Assert.Equal(
            "The client certificate's subject is empty, so it names no identity: send a bearer token, or use a certificate whose subject names the client.",
            problem.GetProperty("detail").GetString());
    }


    /// <summary>
    /// The application, on Kestrel over HTTPS requiring a client certificate from its own test CA, with two policies:
    /// subjects <c>CN=ci-*</c> may create and read <c>ci/**</c>, <c>admin</c> may read everything.
    /// </summary>
    public sealed class MutualTlsApi : IAsyncLifetime, IDisposable
    {
        private readonly TempDirectory _temp = new();
        private readonly X509Certificate2 _ca = CreateAuthority();
        private readonly X509Certificate2 _serverCertificate;
        private readonly X509Certificate2 _clientCertificate;
        private readonly X509Certificate2 _subjectlessCertificate;
        private WebApplication? _app;

        public MutualTlsApi()
        {
            _serverCertificate = Issue(_ca, "CN=localhost", serverAuth: true);
            _clientCertificate = Issue(_ca, Subject, serverAuth: false);
            _subjectlessCertificate = Issue(_ca, "", serverAuth: false);
        }

        public string TokenFile => _temp.Combine("api.token");

        public async Task InitializeAsync()
        {
            var builder = WebApplication.CreateSlimBuilder();
            builder.Logging.ClearProviders();
            builder.WebHost.UseKestrelHttpsConfiguration();
            builder.WebHost.ConfigureKestrel(kestrel => kestrel.Listen(IPAddress.Loopback, 0, listen => listen.UseHttps(https =>
            {
                https.ServerCertificate = _serverCertificate;
                https.ClientCertificateMode = ClientCertificateMode.RequireCertificate;
                https.ClientCertificateValidation = (certificate, _, _) => IssuedByAuthority(certificate);
            })));
            builder.Services.AddTrousseau(_ => { })
                .UseLocalKeyRing(ring => ring.KeyFile = _temp.Combine("ring.json"))
                .UseInMemoryStore()
                .AddHttpApi(api =>
                {
                    api.Auth.TokenFile = TokenFile;
                    api.Policies.Add(new TrousseauApiPolicy { Subjects = { "CN=ci-*" }, Secrets = { "ci/**" }, Actions = { "create", "read" } });
                    api.Policies.Add(new TrousseauApiPolicy { Subjects = { "admin" }, Secrets = { "**" }, Actions = { "read" } });
                });
            _app = builder.Build();

            // A route of the application's own in the API's group sees the caller as ASP.NET Core's user.
            _app.MapTrousseauApi().MapGet("/app/me", (ClaimsPrincipal user) => $"{user.Identity?.Name} ({user.Identity?.AuthenticationType})");
            await _app.StartAsync();
        }

        public async Task DisposeAsync()
        {
            if (_app is not null)
            {
                await _app.DisposeAsync();
            }
        }

        public void Dispose()
        {
            _ca.Dispose();
            _serverCertificate.Dispose();
            _clientCertificate.Dispose();
            _subjectlessCertificate.Dispose();
            _temp.Dispose();
        }

        /// <summary>A client presenting the CA's certificate of <see cref="Subject"/>, or one with an empty subject.</summary>
        public HttpClient Client(string? token, bool withSubject = true)
        {
            var handler = new HttpClientHandler
            {
                ClientCertificateOptions = ClientCertificateOption.Manual,
                ServerCertificateCustomValidationCallback = (_, certificate, _, _) => certificate is not null && IssuedByAuthority(certificate),
            };
            handler.ClientCertificates.Add(withSubject ? _clientCertificate : _subjectlessCertificate);
            var address = _app!.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.Single();
            var http = new HttpClient(handler) { BaseAddress = new Uri(address + "/"), Timeout = TimeSpan.FromSeconds(30) };
            if (token is not null)
            {
                http.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", token);
            }

            return http;
        }

        private bool IssuedByAuthority(X509Certificate2 certificate)
        {
            using var chain = new X509Chain();
            chain.ChainPolicy.TrustMode = X509ChainTrustMode.CustomRootTrust;
            chain.ChainPolicy.CustomTrustStore.Add(_ca);
            chain.ChainPolicy.RevocationMode = X509RevocationMode.NoCheck;
            return chain.Build(certificate);
        }

        private static X509Certificate2 CreateAuthority()
        {
            using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
            var request = new CertificateRequest("CN=Trousseau test CA", key, HashAlgorithmName.SHA256);
            request.CertificateExtensions.Add(new X509BasicConstraintsExtension(true, false, 0, true));
            request.CertificateExtensions.Add(new X509KeyUsageExtension(X509KeyUsageFlags.KeyCertSign, true));
            return request.CreateSelfSigned(DateTimeOffset.UtcNow.AddMinutes(-5), DateTimeOffset.UtcNow.AddDays(1));
        }

        private static X509Certificate2 Issue(X509Certificate2 authority, string subject, bool serverAuth)
        {
            using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
            var request = new CertificateRequest(subject, key, HashAlgorithmName.SHA256);
            request.CertificateExtensions.Add(new X509BasicConstraintsExtension(false, false, 0, false));
            request.CertificateExtensions.Add(new X509EnhancedKeyUsageExtension(
                [serverAuth ? new Oid("1.3.6.1.5.5.7.3.1") : new Oid("1.3.6.1.5.5.7.3.2")], false));
            if (serverAuth)
            {
                var names = new SubjectAlternativeNameBuilder();
                names.AddIpAddress(IPAddress.Loopback);
                request.CertificateExtensions.Add(names.Build());
            }

            using var issued = request.Create(authority, DateTimeOffset.UtcNow.AddMinutes(-5), DateTimeOffset.UtcNow.AddHours(1), RandomNumberGenerator.GetBytes(8));
            using var withKey = issued.CopyWithPrivateKey(key);

            // A PKCS#12 round trip gives Kestrel and SslStream a key they can use on every platform.
            return X509CertificateLoader.LoadPkcs12(withKey.Export(X509ContentType.Pkcs12), null);
        }
    }
}
