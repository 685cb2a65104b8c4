using System.Net;
using System.Net.Http.Headers;
using System.Text.Json;
using Trousseau.Tests.Integration.Infrastructure;
using Trousseau.Tests.StoreContract;

namespace Trousseau.Tests.Integration.Etcd;

/// <summary>
/// A write whose transaction an etcd member received but did not answer: trousseaud reads back whether it landed, but
/// a member that holds the request may still apply it once it runs again, after the read back found nothing (the chaos
/// soak saw such a write land). Its 503 must say that the write may or may not have been applied, so that its caller
/// reads the secret again rather than take the write as not made.
/// </summary>
public sealed class EtcdUnansweredWriteTests : IDisposable
{
    /// <summary>Enough secrets that, with trousseaud's calls spread over three members, updates of them reach the frozen one.</summary>
    private const int Secrets = 20;

    /// <summary>The update stops once this many were refused.</summary>
    private const int Refusals = 2;

    private readonly TempDirectory _temp = new();

    /// <summary>Read by <see cref="StoreFactAttribute"/>: skip when etcd is missing outside CI.</summary>
    public static string? SkipReason => EtcdProcess.SkipReason;

    public void Dispose() => _temp.Dispose();

    [StoreFact]
    public async Task An_update_sent_to_a_frozen_member_is_a_503_saying_it_may_or_may_not_have_been_applied()
    {
        var members = await EtcdProcess.StartClusterAsync(3);
        try
        {
            var dataDir = _temp.Combine("data");
            await using var server = await TrousseauServerProcess.StartAsync(
                dataDir,
                ["--Trousseau:Store=etcd", "--Trousseau:Kms:Enabled=false", .. members.Select((member, i) => $"--Trousseau:Etcd:Endpoints:{i}={member.ClientUrl}")]);
            using var http = await BearerClient.FromTokenFileAsync(server.BaseAddress, Path.Combine(dataDir, "api.token"));
            var revisions = new long[Secrets];
            for (var i = 0; i < Secrets; i++)
            {
                using var created = await http.PostAsync(new Uri("v1/secrets", UriKind.Relative), JsonBody.Of("{\"name\":\"held/" + i + "\",\"data\":{\"k\":\"before\"}}"));
                Assert.Equal(HttpStatusCode.Created, created.StatusCode);
                revisions[i] = JsonDocument.Parse(await created.Content.ReadAsStringAsync()).RootElement.GetProperty("revision").GetInt64();
            }

            // trousseaud spreads its calls over the members: some of these updates go to the frozen one.
            var follower = await EtcdProcess.FollowerAsync(members);
            await follower.FreezeAsync();
            var unanswered = new List<string>();
            try
            {
                for (var i = 0; i < Secrets && unanswered.Count < Refusals; i++)
                {
                    using var update = new HttpRequestMessage(HttpMethod.Put, new Uri($"v1/secrets/held/{i}", UriKind.Relative)) { Content = JsonBody.Of("""{"data":{"k":"during"}}""") };
                    update.Headers.IfMatch.Add(new EntityTagHeaderValue($"\"{revisions[i]}\""));
                    using var answer = await http.SendAsync(update);
                    if (answer.StatusCode != HttpStatusCode.OK)
                    {
                        var problem = await Problems.AssertAsync(answer, HttpStatusCode.ServiceUnavailable);
                        unanswered.Add(problem.GetProperty("detail").GetString()!);
                    }
                }
            }
            finally
            {
                await follower.ThawAsync();
            }

            Assert.NotEmpty(unanswered);
            Assert.All(unanswered, detail =>
            {
                Assert.Contains("did not answer the txn within 3 s", detail, StringComparison.Ordinal);
                Assert.Contains("may or may not have been applied", detail, StringComparison.Ordinal);
            });
        }
        finally
        {
            foreach (var member in members)
            {
                await member.DisposeAsync();
            }
        }
    }
}
