using System.Net;
using Trousseau.Tests.Integration.Infrastructure;
using Trousseau.Tests.StoreContract;

namespace Trousseau.Tests.Integration.Etcd;

/// <summary>etcd's refusals, as trousseaud's API answers them.</summary>
public sealed class EtcdAnswerTests : IDisposable
{
    /// <summary>Read by <see cref="StoreFactAttribute"/>: skip when etcd is missing outside CI.</summary>
    public static string? SkipReason => EtcdProcess.SkipReason;

    private readonly TempDirectory _temp = new();

    public void Dispose() => _temp.Dispose();

    [StoreFact]
    public async Task A_secret_larger_than_etcd_accepts_is_a_413_naming_etcds_refusal_not_a_503()
    {
        await using var etcd = await EtcdProcess.StartAsync("--max-request-bytes", "16384");
        var dataDir = _temp.Combine("data");
        await using var server = await TrousseauServerProcess.StartAsync(dataDir, ["--Trousseau:Store=etcd", $"--Trousseau:Etcd:Endpoints:0={etcd.ClientUrl}"]);
        using var http = await BearerClient.FromTokenFileAsync(server.BaseAddress, Path.Combine(dataDir, "api.token"));

        using var small = await http.PostAsync(new Uri("v1/secrets", UriKind.Relative), JsonBody.Of("""{"name":"etcd/small","data":{"k":"v"}}"""));
        using var large = await http.PostAsync(new Uri("v1/secrets", UriKind.Relative), JsonBody.Of($$$"""{"name":"etcd/large","data":{"k":"{{{new string('x', 64 * 1024)}}}"}}"""));
        var problem = await Problems.AssertAsync(large, HttpStatusCode.RequestEntityTooLarge);
        using var ready = await http.GetAsync(new Uri("readyz", UriKind.Relative));

        Assert.Equal(HttpStatusCode.Created, small.StatusCode);
        Assert.Equal("urn:trousseau:problem:too-large", problem.GetProperty("type").GetString());
        Assert.Contains("request is too large", problem.GetProperty("detail").GetString(), StringComparison.Ordinal);
        Assert.Equal(HttpStatusCode.OK, ready.StatusCode);
    }
}
