using System.Net;
using System.Text;
using dotnet_etcd;
using Etcdserverpb;
using Google.Protobuf;
using Microsoft.Extensions.DependencyInjection;
using Trousseau.Tests.Integration.Infrastructure;
using Trousseau.Tests.StoreContract;
using Xunit.Abstractions;

namespace Trousseau.Tests.Integration.Etcd;

/// <summary>
/// What a caller of <see cref="ITrousseau"/> reads when etcd fails it, each way a user can meet with a real etcd: one
/// sentence naming etcd, the member where it is known, what failed and the likely cause, never the words of the gRPC
/// or HTTP library underneath. A test that stops, freezes, fills or reconfigures etcd starts an etcd of its own; the
/// others share the class's, each under a key prefix of its own.
/// </summary>
public sealed class EtcdFailureWordsTests(EtcdFixture shared, ITestOutputHelper output) : IClassFixture<EtcdFixture>, IDisposable
{
    /// <summary>Read by <see cref="StoreFactAttribute"/>: skip when etcd is missing outside CI.</summary>
    public static string? SkipReason => EtcdProcess.SkipReason;

    private readonly TempDirectory _temp = new();
    private readonly List<ServiceProvider> _providers = [];

    /// <summary>
    /// This test's key prefix on the shared etcd: each test has a key ring of its own, and a key ring is refused beside
    /// records another one sealed.
    /// </summary>
    private readonly string _sharedPrefix = $"/words-{Guid.NewGuid():N}/";

    public void Dispose()
    {
        foreach (var provider in _providers)
        {
            provider.Dispose();
        }

        _temp.Dispose();
    }

    [StoreFact]
    public async Task A_write_whose_connection_broke_after_etcd_took_it_names_the_member_and_the_broken_connection()
    {
        var etcd = shared.Etcd;
        await using var proxy = AnswerDroppingProxy.Start(etcd.ClientUrl);
        var secrets = Open(proxy.Url, o => o.Prefix = _sharedPrefix);
        await secrets.CreateSecretAsync("words/warm-up", SecretType.Opaque, Data("before"));

        proxy.DropAnswers();
        var write = secrets.CreateSecretAsync("words/cut", SecretType.Opaque, Data("during")).AsTask();
        await Eventually.HoldsAsync(
            async () => (await etcd.CtlAsync("get", _sharedPrefix + "words/cut", "--keys-only")).Length > 0,
            () => "etcd never applied the write sent through the proxy");
        proxy.CutAndRefuse();
        var failure = await Assert.ThrowsAsync<DependencyUnavailableException>(() => write);

        AssertWords(failure.Message, proxy.Url);
        Assert.Contains("connection", failure.Message, StringComparison.Ordinal);
        Assert.Contains("may or may not have been applied", failure.Message, StringComparison.Ordinal);
    }

    [StoreFact]
    public async Task A_read_from_a_stopped_etcd_names_the_member_it_could_not_connect_to()
    {
        await using var etcd = await EtcdProcess.StartAsync();
        var secrets = Open(etcd.ClientUrl);
        await secrets.CreateSecretAsync("words/stopped", SecretType.Opaque, Data("kept"));

        await etcd.StopAsync();
        var failure = await Assert.ThrowsAsync<DependencyUnavailableException>(async () => await secrets.GetSecretAsync("words/stopped"));

        AssertWords(failure.Message, etcd.ClientUrl);
        Assert.Contains("etcd cannot be reached", failure.Message, StringComparison.Ordinal);
    }

    [StoreFact]
    public async Task A_wrong_password_says_etcd_refused_the_credentials_and_names_the_settings_to_check()
    {
        await using var etcd = await EtcdProcess.StartAsync();
        await etcd.EnableAuthAsync("trousseau", "right-pass-1", "/trousseau/");
        await Open(etcd.ClientUrl, o => (o.Username, o.Password) = ("trousseau", "right-pass-1"))
            .CreateSecretAsync("words/auth", SecretType.Opaque, Data("kept"));
        var secrets = Open(etcd.ClientUrl, o => (o.Username, o.Password) = ("trousseau", "wrong-pass-1"));

        var failure = await Assert.ThrowsAsync<DependencyUnavailableException>(() =>
            Eventually.EndsAsync(secrets.GetSecretAsync("words/auth").AsTask(), awaited: "the read signed in with the wrong password"));

        AssertWords(failure.Message, etcd.ClientUrl);
        Assert.Contains("refused Trousseau's credentials", failure.Message, StringComparison.Ordinal);
        Assert.Contains("Etcd:Password", failure.Message, StringComparison.Ordinal);
        Assert.DoesNotContain("wrong-pass-1", failure.Message, StringComparison.Ordinal);
    }

    [StoreFact]
    public async Task A_write_to_an_etcd_whose_database_is_full_says_so_and_how_to_free_it()
    {
        await using var etcd = await EtcdProcess.StartAsync("--quota-backend-bytes=1");
        var secrets = Open(etcd.ClientUrl);

        var failure = await Assert.ThrowsAsync<DependencyUnavailableException>(async () =>
            await secrets.CreateSecretAsync("words/full", SecretType.Opaque, Data("refused")));

        AssertWords(failure.Message, etcd.ClientUrl);
        Assert.Contains("database is full", failure.Message, StringComparison.Ordinal);
        Assert.Contains("--quota-backend-bytes", failure.Message, StringComparison.Ordinal);
        Assert.Contains("etcdctl alarm disarm", failure.Message, StringComparison.Ordinal);
    }

    [StoreFact]
    public async Task A_read_from_a_frozen_etcd_names_the_member_and_the_deadline()
    {
        await using var etcd = await EtcdProcess.StartAsync();
        var secrets = Open(etcd.ClientUrl);
        await secrets.CreateSecretAsync("words/frozen", SecretType.Opaque, Data("kept"));

        await etcd.FreezeAsync();
        var failure = await Assert.ThrowsAsync<DependencyUnavailableException>(async () => await secrets.GetSecretAsync("words/frozen"));
        await etcd.ThawAsync();

        AssertWords(failure.Message, etcd.ClientUrl);
        Assert.Contains("did not answer the range within 3 s", failure.Message, StringComparison.Ordinal);
    }

    [StoreFact]
    public async Task A_member_whose_TLS_certificate_is_not_trusted_is_named_with_the_handshake_that_failed()
    {
        var tls = EtcdTlsFiles.Create(_temp.Path, "etcd");
        var other = EtcdTlsFiles.Create(_temp.Path, "other");
        await using var etcd = await EtcdProcess.StartTlsAsync(tls);
        await Open(etcd.ClientUrl, o => (o.CaFile, o.CertFile, o.KeyFile) = (tls.CaFile, tls.ClientCert, tls.ClientKey))
            .CreateSecretAsync("words/tls", SecretType.Opaque, Data("kept"));
        var secrets = Open(etcd.ClientUrl, o => (o.CaFile, o.CertFile, o.KeyFile) = (other.CaFile, tls.ClientCert, tls.ClientKey));

        var failure = await Assert.ThrowsAsync<DependencyUnavailableException>(async () => await secrets.GetSecretAsync("words/tls"));

        AssertWords(failure.Message, etcd.ClientUrl);
        Assert.Contains("TLS handshake", failure.Message, StringComparison.Ordinal);
        Assert.Contains("Etcd:CaFile", failure.Message, StringComparison.Ordinal);
    }

    [StoreFact]
    public async Task A_read_from_an_endpoint_where_no_etcd_listens_says_no_connection_to_the_member_could_be_made()
    {
        // The key ring is made beside a store that can be read, as it would have been before etcd went away.
        await Open(shared.Etcd.ClientUrl, o => o.Prefix = _sharedPrefix).CreateSecretAsync("words/elsewhere", SecretType.Opaque, Data("kept"));

        var nowhere = new Uri($"http://127.0.0.1:{FreePort.Next()}/");
        var secrets = Open(nowhere);

        var failure = await Assert.ThrowsAsync<DependencyUnavailableException>(async () => await secrets.GetSecretAsync("words/nowhere"));

        AssertWords(failure.Message, nowhere);
        Assert.Contains($"etcd cannot be reached: no connection to member {nowhere.GetLeftPart(UriPartial.Authority)} could be made within 3 s", failure.Message, StringComparison.Ordinal);
    }

    [StoreFact]
    public async Task A_write_to_a_stopped_etcd_says_it_was_not_sent_and_so_not_applied()
    {
        await using var etcd = await EtcdProcess.StartAsync();
        var secrets = Open(etcd.ClientUrl);
        await secrets.CreateSecretAsync("words/before-the-stop", SecretType.Opaque, Data("kept"));

        await etcd.StopAsync();
        await UntilNoConnectionAsync(async () => (await Record.ExceptionAsync(async () => await secrets.GetSecretAsync("words/before-the-stop")))?.Message ?? "an answer");
        var failure = await Assert.ThrowsAsync<DependencyUnavailableException>(async () =>
            await secrets.CreateSecretAsync("words/unsent", SecretType.Opaque, Data("refused")));
        await etcd.StartAgainAsync();

        AssertWords(failure.Message, etcd.ClientUrl);
        Assert.StartsWith("etcd cannot be reached: ", failure.Message, StringComparison.Ordinal);
        Assert.EndsWith("; the write was not sent to etcd, so it was not applied.", failure.Message, StringComparison.Ordinal);
        Assert.DoesNotContain("may or may not", failure.Message, StringComparison.Ordinal);
        Assert.Equal("", (await etcd.CtlAsync("get", "--prefix", "/trousseau/words/unsent", "--keys-only")).Trim());
    }

    [StoreFact]
    public async Task Through_trousseaud_a_write_to_a_stopped_etcd_is_a_503_unavailable_saying_it_was_not_applied()
    {
        await using var etcd = await EtcdProcess.StartAsync();
        var dataDir = _temp.Combine("server");
        await using var server = await EtcdServerTests.StartServerAsync(etcd, dataDir);
        using var http = await BearerClient.FromTokenFileAsync(server.BaseAddress, Path.Combine(dataDir, "api.token"));

        await etcd.StopAsync();
        await UntilNoConnectionAsync(async () =>
        {
            using var read = await http.GetAsync(new Uri("v1/secrets/words/before-the-stop", UriKind.Relative));
            return await read.Content.ReadAsStringAsync();
        });
        using var write = await http.PostAsync(
            new Uri("v1/secrets", UriKind.Relative),
            new StringContent("""{"name":"words/unsent-over-http","data":{"k":"v"}}""", Encoding.UTF8, "application/json"));

        var problem = await Problems.AssertAsync(write, HttpStatusCode.ServiceUnavailable);
        Assert.Equal("urn:trousseau:problem:unavailable", problem.GetProperty("type").GetString());
        var detail = problem.GetProperty("detail").GetString()!;
        AssertWords(detail, etcd.ClientUrl);
        Assert.EndsWith("; the write was not sent to etcd, so it was not applied.", detail, StringComparison.Ordinal);
    }

    [StoreFact]
    public async Task A_cluster_with_two_of_three_members_stopped_says_it_has_no_leader_for_a_read_and_a_write()
    {
        var members = await EtcdProcess.StartClusterAsync(3);
        try
        {
            // Only the member that stays up is configured, so each call goes to it rather than to a member being stopped.
            var secrets = Open(members[0].ClientUrl);
            await secrets.CreateSecretAsync("words/leaderless", SecretType.Opaque, Data("kept"));

            await members[1].StopAsync();
            await members[2].StopAsync();
            var read = await Assert.ThrowsAsync<DependencyUnavailableException>(async () => await secrets.GetSecretAsync("words/leaderless"));
            var write = await Assert.ThrowsAsync<DependencyUnavailableException>(async () =>
                await secrets.CreateSecretAsync("words/leaderless-write", SecretType.Opaque, Data("during")));

            var member = $"member {members[0].ClientUrl.GetLeftPart(UriPartial.Authority)}";
            AssertWords(read.Message, members[0].ClientUrl);
            Assert.StartsWith($"etcd cannot serve the range at {member}: ", read.Message, StringComparison.Ordinal);
            Assert.Contains("the cluster has no leader (etcdserver: no leader)", read.Message, StringComparison.Ordinal);
            AssertWords(write.Message, members[0].ClientUrl);
            Assert.StartsWith($"etcd cannot serve the txn at {member}: ", write.Message, StringComparison.Ordinal);
            Assert.Contains("the cluster has no leader (etcdserver: no leader)", write.Message, StringComparison.Ordinal);
            Assert.EndsWith("so the write may or may not have been applied: read it again before you repeat it.", write.Message, StringComparison.Ordinal);
        }
        finally
        {
            foreach (var member in members)
            {
                await member.DisposeAsync();
            }
        }
    }

    [StoreFact]
    public async Task A_user_whose_role_does_not_cover_the_prefix_is_told_which_settings_to_grant_for_a_read_and_a_write()
    {
        await using var etcd = await EtcdProcess.StartAsync();
        await Open(etcd.ClientUrl).CreateSecretAsync("words/before-auth", SecretType.Opaque, Data("kept"));
        await etcd.EnableAuthAsync("trousseau", "right-pass-1", "/elsewhere/");
        var secrets = Open(etcd.ClientUrl, o => (o.Username, o.Password) = ("trousseau", "right-pass-1"));

        var read = await Assert.ThrowsAsync<DependencyUnavailableException>(async () => await secrets.GetSecretAsync("words/denied"));
        var write = await Assert.ThrowsAsync<DependencyUnavailableException>(async () =>
            await secrets.CreateSecretAsync("words/denied", SecretType.Opaque, Data("refused")));

        foreach (var (failure, call) in new[] { (read, "range"), (write, "txn") })
        {
            AssertWords(failure.Message, etcd.ClientUrl);
            Assert.StartsWith($"etcd denied the {call} at member {etcd.ClientUrl.GetLeftPart(UriPartial.Authority)} to the user Etcd:Username names (etcdserver: permission denied)", failure.Message, StringComparison.Ordinal);
            Assert.Contains("read-write permission on the keys under Etcd:Prefix", failure.Message, StringComparison.Ordinal);
            Assert.DoesNotContain("right-pass-1", failure.Message, StringComparison.Ordinal);
        }
    }

    [StoreFact]
    public async Task A_paged_listing_whose_revision_etcd_compacted_between_pages_lists_every_secret_once()
    {
        var etcd = shared.Etcd;
        var secrets = Open(etcd.ClientUrl, o => o.Prefix = _sharedPrefix);
        string[] names = ["words/paged-0", "words/paged-1", "words/paged-2", "words/paged-3", "words/paged-4"];
        foreach (var name in names)
        {
            await secrets.CreateSecretAsync(name, SecretType.Opaque, Data("v"));
        }

        var first = await secrets.ListSecretsPageAsync("words/paged-", null, limit: 2);
        using (var other = new EtcdClient(etcd.ClientUrl.GetLeftPart(UriPartial.Authority)))
        {
            var put = await other.PutAsync(new PutRequest { Key = ByteString.CopyFromUtf8("/compacted-between-pages"), Value = ByteString.CopyFromUtf8("c") });
            await other.CompactAsync(new CompactionRequest { Revision = put.Header.Revision });
        }

        var listed = first.Items.Select(i => i.Name).ToList();
        for (var token = first.ContinuationToken; token is not null;)
        {
            var page = await secrets.ListSecretsPageAsync("words/paged-", token, limit: 2);
            listed.AddRange(page.Items.Select(i => i.Name));
            token = page.ContinuationToken;
        }

        Assert.Equal(names, listed);
    }

    /// <summary>
    /// One sentence a user can act on: it names etcd and the member, ends with a period, and carries none of the
    /// library's own words (exception type names, grpc-dotnet's "Error starting gRPC call", stack text).
    /// </summary>
    private void AssertWords(string detail, Uri member)
    {
        output.WriteLine(detail);
        Assert.StartsWith("etcd", detail, StringComparison.Ordinal);
        Assert.Contains(member.GetLeftPart(UriPartial.Authority), detail, StringComparison.Ordinal);
        Assert.EndsWith(".", detail, StringComparison.Ordinal);
        Assert.DoesNotContain("Exception", detail, StringComparison.Ordinal);
        Assert.DoesNotContain("gRPC call", detail, StringComparison.Ordinal);
        Assert.DoesNotContain("StatusCode", detail, StringComparison.Ordinal);
        Assert.DoesNotContain('\n', detail);
    }

    private static Dictionary<string, string> Data(string value) => new(StringComparer.Ordinal) { ["k"] = value };

    /// <summary>An instance of the library on <paramref name="endpoint"/>, with this test's key ring.</summary>
    private ITrousseau Open(Uri endpoint, Action<Trousseau.Etcd.EtcdStoreOptions>? configure = null)
    {
        var services = new ServiceCollection();
        services.AddTrousseau(_ => { })
            .UseLocalKeyRing(ring => ring.KeyFile = _temp.Combine("local.keyring"))
            .UseEtcdStore(o =>
            {
                o.Endpoints.Add(endpoint);
                configure?.Invoke(o);
            });
        var provider = services.BuildServiceProvider();
        _providers.Add(provider);
        return provider.GetRequiredService<ITrousseau>();
    }

    /// <summary>
    /// Waits until a read (<paramref name="read"/>, returning its error's words) has tried a new connection to the
    /// stopped etcd, which the channel words as no connection made within the deadline while it backs off, or as a
    /// connection refused when it tries at once: a write made after it goes out on no connection, never on the one the
    /// stop cut, which went out towards etcd and is rightly worded as one that may have been applied.
    /// </summary>
    private static Task UntilNoConnectionAsync(Func<Task<string>> read) =>
        Eventually.ReturnsAsync(
            read,
            words => words.Contains("no connection to member", StringComparison.Ordinal) || words.Contains("refused the connection", StringComparison.Ordinal),
            awaited: "a read to find no connection to the stopped etcd");
}
