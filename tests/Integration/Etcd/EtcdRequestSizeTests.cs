using System.Net;
using System.Text;
using System.Text.Json;
using Trousseau.Tests.Integration.Infrastructure;
using Trousseau.Tests.StoreContract;

namespace Trousseau.Tests.Integration.Etcd;

/// <summary>
/// Secrets within the 1 MiB data limit whose stored record is larger than etcd takes in one request (1.5 MiB by
/// default): each data key adds a length prefix to the record, so a secret of many short keys grows past it. The
/// write must be refused as too large, and change nothing, not answered with etcd's own error as a 503 or a 400.
/// </summary>
public sealed class EtcdRequestSizeTests(EtcdServerFixture shared) : IClassFixture<EtcdServerFixture>
{
    /// <summary>Read by <see cref="StoreFactAttribute"/>: skip when etcd is missing outside CI.</summary>
    public static string? SkipReason => EtcdProcess.SkipReason;

    [StoreFact]
    public async Task A_secret_of_many_short_keys_whose_record_is_over_etcds_message_limit_is_refused_as_too_large_and_not_stored()
    {
        // 250,000 keys of 3 characters and empty values: 750,000 bytes of data, a record of about 2.75 MB, past the
        // 2 MiB that etcd's gRPC server reads of one message.
        var body = ManyKeys("size/over-message", 250_000, "");

        await AssertRefusedAsync("size/over-message", body);
    }

    [StoreFact]
    public async Task A_secret_of_many_short_keys_whose_record_is_over_etcds_request_limit_is_refused_as_too_large_and_not_stored()
    {
        // 100,000 keys of 3 characters with values of 5: 800,000 bytes of data, a record of about 1.6 MB, between
        // etcd's 1.5 MiB request limit and the 2 MiB of one gRPC message.
        var body = ManyKeys("size/over-request", 100_000, "yyyyy");

        await AssertRefusedAsync("size/over-request", body);
    }

    private async Task AssertRefusedAsync(string name, string body)
    {
        using var http = await BearerClient.FromTokenFileAsync(shared.Server.BaseAddress, Path.Combine(shared.DataDir, "api.token"));

        using var created = await http.PostAsync(new Uri("v1/secrets", UriKind.Relative), new StringContent(body, Encoding.UTF8, "application/json"));
        var problem = await Problems.AssertAsync(created, HttpStatusCode.RequestEntityTooLarge);
        using var read = await http.GetAsync(new Uri($"v1/secrets/{name}", UriKind.Relative));

        Assert.Equal("urn:trousseau:problem:too-large", problem.GetProperty("type").GetString());
        Assert.Contains("more than etcd takes in one request", problem.GetProperty("detail").GetString(), StringComparison.Ordinal);
        Assert.Equal(HttpStatusCode.NotFound, read.StatusCode);
    }

    /// <summary>A create body of <paramref name="count"/> distinct keys of three characters, each holding <paramref name="value"/>.</summary>
    private static string ManyKeys(string name, int count, string value)
    {
        const string Alphabet = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._";
        var data = new Dictionary<string, string>(count, StringComparer.Ordinal);
        for (var i = 0; i < count; i++)
        {
            var key = string.Concat(Alphabet[i / (64 * 64) % 64], Alphabet[i / 64 % 64], Alphabet[i % 64]);
            data[key] = value;
        }

        return JsonSerializer.Serialize(new Dictionary<string, object> { ["name"] = name, ["type"] = "opaque", ["data"] = data });
    }
}
