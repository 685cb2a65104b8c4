using System.Net;
using System.Text;
using System.Text.Json;
using Trousseau.Tests.Integration.Infrastructure;

namespace Trousseau.Tests.Integration.Vault;

/// <summary>
/// <c>Api:Policies</c> through trousseaud in Kubernetes mode: each action allowed to the service accounts a policy
/// names and refused (403 naming the identity, the action and the secret, clectl exit 5) to others, changing nothing;
/// secret globs; listings filtered; and what <c>whoami</c> shows each caller.
/// </summary>
public sealed class ApiPolicyTests(KubernetesApiFixture fixture) : IClassFixture<KubernetesApiFixture>
{
    private const string Intruder = "system:serviceaccount:other:intruder";
    private static readonly string[] EveryAction = ["read", "list", "create", "update", "delete", "generate", "keys", "encrypt", "decrypt"];

    [VaultTestServerTheory]
    [InlineData("read")]
    [InlineData("list")]
    [InlineData("create")]
    [InlineData("update")]
    [InlineData("delete")]
    [InlineData("generate")]
    [InlineData("keys")]
    [InlineData("encrypt")]
    [InlineData("decrypt")]
    public async Task Each_action_is_allowed_to_the_identities_a_policy_names_and_refused_to_others_changing_nothing(string action)
    {
        using var orders = fixture.Client(KubernetesApiFixture.OrdersJwt);
        using var intruder = fixture.Client(KubernetesApiFixture.IntruderJwt);
        var name = $"payments/{action}-{Guid.NewGuid():N}";
        if (action is "read" or "update" or "delete")
        {
            await CreateAsync(orders, name, "before");
        }

        var ciphertext = action == "decrypt" ? await EncryptAsync(orders) : null;

        using var denied = await SendAsync(intruder, action, name, ciphertext);
        var problem = await Problems.AssertAsync(denied, HttpStatusCode.Forbidden);
        Assert.Equal("urn:trousseau:problem:forbidden", problem.GetProperty("type").GetString());
        var detail = problem.GetProperty("detail").GetString()!;
        Assert.Contains(Intruder, detail, StringComparison.Ordinal);
        Assert.Contains($"'{action}'", detail, StringComparison.Ordinal);
        // A caller no policy allows to create or list at all is told so before its body or the store is read; a generate
        // names its secret in the path, and the refusal names it.
        Assert.Contains(action switch { "create" or "list" => "on any secret", "keys" or "encrypt" or "decrypt" => "", _ => $"on the secret '{name}'" }, detail, StringComparison.Ordinal);
        Assert.Contains("Trousseau:Api:Policies", detail, StringComparison.Ordinal);
        await AssertUnchangedAsync(orders, action, name);

        using var allowed = await SendAsync(orders, action, name, ciphertext);
        Assert.True(allowed.IsSuccessStatusCode, $"{action}: {(int)allowed.StatusCode} {await allowed.Content.ReadAsStringAsync()}");
    }

    [VaultTestServerFact]
    public async Task A_post_below_a_secret_that_is_no_route_is_404_to_a_caller_no_policy_allows_to_generate()
    {
        using var intruder = fixture.Client(KubernetesApiFixture.IntruderJwt);
        using var reader = fixture.Client(KubernetesApiFixture.ReaderJwt);

        using var json = await intruder.PostAsync(new Uri("v1/secrets/payments/a/frobnicate", UriKind.Relative), JsonBody.Of("{}"));
        using var readerJson = await reader.PostAsync(new Uri("v1/secrets/payments/a/frobnicate", UriKind.Relative), JsonBody.Of("{}"));
        using var text = await intruder.PostAsync(new Uri("v1/secrets/payments/a/frobnicate", UriKind.Relative), new StringContent("x", Encoding.UTF8, "text/plain"));

        foreach (var response in new[] { json, readerJson, text })
        {
            var problem = await Problems.AssertAsync(response, HttpStatusCode.NotFound);
            Assert.Contains("is not a route", problem.GetProperty("detail").GetString(), StringComparison.Ordinal);
        }
    }

    [VaultTestServerFact]
    public async Task A_star_stays_within_one_segment_of_a_name_and_two_stars_cross_segments()
    {
        using var orders = fixture.Client(KubernetesApiFixture.OrdersJwt);
        using var reader = fixture.Client(KubernetesApiFixture.ReaderJwt);
        var id = Guid.NewGuid().ToString("N")[..8];
        await CreateAsync(orders, $"payments/top-{id}", "v");
        await CreateAsync(orders, $"payments/eu/deep-{id}", "v");

        using var top = await reader.GetAsync(new Uri($"v1/secrets/payments/top-{id}", UriKind.Relative));
        using var deep = await reader.GetAsync(new Uri($"v1/secrets/payments/eu/deep-{id}", UriKind.Relative));
        using var deepByOrders = await orders.GetAsync(new Uri($"v1/secrets/payments/eu/deep-{id}", UriKind.Relative));
        using var write = await reader.PutAsync(new Uri($"v1/secrets/payments/top-{id}", UriKind.Relative), JsonBody.Of("""{"data":{"k":"w"}}"""));
        using var elsewhere = await orders.PostAsync(new Uri("v1/secrets", UriKind.Relative), JsonBody.Of($$$"""{"name":"billing/{{{id}}}","data":{"k":"v"}}"""));

        Assert.Equal(HttpStatusCode.OK, top.StatusCode);
        await Problems.AssertAsync(deep, HttpStatusCode.Forbidden);
        Assert.Equal(HttpStatusCode.OK, deepByOrders.StatusCode);
        await Problems.AssertAsync(write, HttpStatusCode.Forbidden);
        Assert.Contains($"'billing/{id}'", (await Problems.AssertAsync(elsewhere, HttpStatusCode.Forbidden)).GetProperty("detail").GetString(), StringComparison.Ordinal);
    }

    [VaultTestServerTheory]
    [InlineData("GET", "payments/spelt-{0}/")]
    [InlineData("GET", "payments//spelt-{0}")]
    [InlineData("GET", "Payments/spelt-{0}")]
    [InlineData("GET", "payments/../other/spelt-{0}")]
    [InlineData("GET", "payments/%2e%2e/other/spelt-{0}")]
    [InlineData("PUT", "payments/spelt-{0}/")]
    [InlineData("DELETE", "PAYMENTS/spelt-{0}")]
    [InlineData("POST", "payments//spelt-{0}/generate")]
    public async Task A_name_spelt_against_the_name_rule_is_400_naming_the_rule_whatever_the_policies_say_of_that_spelling(string method, string path)
    {
        using var orders = fixture.Client(KubernetesApiFixture.OrdersJwt);
        using var reader = fixture.Client(KubernetesApiFixture.ReaderJwt);
        var id = Guid.NewGuid().ToString("N")[..8];
        await CreateAsync(orders, $"payments/spelt-{id}", "before");
        var spelt = string.Format(System.Globalization.CultureInfo.InvariantCulture, path, id);

        // The reader may read payments/* and the orders service act on payments/**; neither glob matches these
        // spellings, and none of them is a valid name: the answer must say what is wrong with the name (400), not
        // that the caller lacks a right (403) over a secret that may not even be the one it named.
        foreach (var http in new[] { reader, orders })
        {
            using var request = new HttpRequestMessage(new HttpMethod(method), new Uri(http.BaseAddress + "v1/secrets/" + spelt, new UriCreationOptions { DangerousDisablePathAndQueryCanonicalization = true }))
            {
                Content = method is "GET" or "DELETE" ? null : JsonBody.Of("""{"data":{"k":"after"}}"""),
            };
            using var response = await http.SendAsync(request);
            var problem = await Problems.AssertInvalidInputAsync(response, HttpStatusCode.BadRequest);
            Assert.DoesNotContain("Trousseau:Api:Policies", problem.GetProperty("detail").GetString(), StringComparison.Ordinal);
        }

        await AssertUnchangedAsync(orders, "read", $"payments/spelt-{id}");
    }

    [VaultTestServerFact]
    public async Task A_create_whose_name_breaks_the_name_rule_is_400_naming_the_rule_even_where_no_policy_matches_that_spelling()
    {
        using var orders = fixture.Client(KubernetesApiFixture.OrdersJwt);
        var id = Guid.NewGuid().ToString("N")[..8];

        using var created = await orders.PostAsync(new Uri("v1/secrets", UriKind.Relative), JsonBody.Of($$$"""{"name":"Payments/made-{{{id}}}","data":{"k":"v"}}"""));

        var problem = await Problems.AssertInvalidInputAsync(created, HttpStatusCode.BadRequest);
        Assert.Contains("Invalid secret name", problem.GetProperty("detail").GetString(), StringComparison.Ordinal);
        Assert.DoesNotContain($"payments/made-{id}", await ListAsync(orders, "payments/made-"));
    }

    [VaultTestServerFact]
    public async Task A_listing_shows_only_the_secrets_the_identity_may_list()
    {
        using var orders = fixture.Client(KubernetesApiFixture.OrdersJwt);
        using var reader = fixture.Client(KubernetesApiFixture.ReaderJwt);
        var prefix = $"payments/list-{Guid.NewGuid():N}"[..30];
        await CreateAsync(orders, $"{prefix}a", "v");
        await CreateAsync(orders, $"{prefix}b/nested", "v");

        var byOrders = await ListAsync(orders, prefix);
        var byReader = await ListAsync(reader, prefix);

        Assert.Equal([$"{prefix}a", $"{prefix}b/nested"], byOrders);
        Assert.Equal([$"{prefix}a"], byReader);
    }

    [VaultTestServerFact]
    public async Task A_full_page_carries_a_continue_token_only_when_a_secret_the_identity_may_list_follows()
    {
        using var orders = fixture.Client(KubernetesApiFixture.OrdersJwt);
        using var reader = fixture.Client(KubernetesApiFixture.ReaderJwt);
        var prefix = $"payments/page-{Guid.NewGuid():N}"[..30];
        await CreateAsync(orders, $"{prefix}a", "v");
        await CreateAsync(orders, $"{prefix}b", "v");
        await CreateAsync(orders, $"{prefix}c/hidden", "v");

        var first = await PageAsync(reader, prefix, null);
        var last = await PageAsync(reader, prefix, first.Continue);
        var byOrders = await PageAsync(orders, prefix, (await PageAsync(orders, prefix, null)).Continue);

        // Whether a name the reader may not list (payments/*/...) follows must not show in the answer it gets.
        Assert.Equal([$"{prefix}a"], first.Names);
        Assert.NotNull(first.Continue);
        Assert.Equal([$"{prefix}b"], last.Names);
        Assert.Null(last.Continue);
        Assert.Equal([$"{prefix}b"], byOrders.Names);
        Assert.NotNull(byOrders.Continue);

        static async Task<(List<string> Names, string? Continue)> PageAsync(HttpClient http, string prefix, string? token)
        {
            var query = $"v1/secrets?prefix={Uri.EscapeDataString(prefix)}&limit=1" + (token is null ? "" : $"&continue={Uri.EscapeDataString(token)}");
            using var list = await http.GetAsync(new Uri(query, UriKind.Relative));
            Assert.Equal(HttpStatusCode.OK, list.StatusCode);
            using var body = JsonDocument.Parse(await list.Content.ReadAsStringAsync());
            return (
                [.. body.RootElement.GetProperty("items").EnumerateArray().Select(i => i.GetProperty("name").GetString()!)],
                body.RootElement.TryGetProperty("continue", out var next) ? next.GetString() : null);
        }
    }

    [VaultTestServerFact]
    public async Task Clectl_exits_5_on_a_refused_call_naming_the_identity_the_action_and_the_secret()
    {
        var clectl = fixture.Clectl(KubernetesApiFixture.IntruderJwt);

        var read = await clectl.RunAsync("secret", "get", "payments/anything");
        var rotate = await clectl.RunAsync("key", "rotate");

        var line = ClectlAssert.Fails(read, 5);
        Assert.Contains(Intruder, line, StringComparison.Ordinal);
        Assert.Contains("'read'", line, StringComparison.Ordinal);
        Assert.Contains("'payments/anything'", line, StringComparison.Ordinal);
        Assert.Contains("'keys'", ClectlAssert.Fails(rotate, 5), StringComparison.Ordinal);
    }

    [VaultTestServerFact]
    public async Task The_audit_trail_holds_an_allowed_read_a_refused_read_and_a_rotation_with_each_callers_identity()
    {
        using var orders = fixture.Client(KubernetesApiFixture.OrdersJwt);
        using var intruder = fixture.Client(KubernetesApiFixture.IntruderJwt);
        var name = $"payments/audited-{Guid.NewGuid():N}";
        await CreateAsync(orders, name, "audited-value-4f1e");
        using var read = await orders.GetAsync(new Uri($"v1/secrets/{name}", UriKind.Relative));
        using var refused = await intruder.GetAsync(new Uri($"v1/secrets/{name}", UriKind.Relative));
        using var rotated = await orders.PostAsync(new Uri("v1/keys/rotate", UriKind.Relative), new StringContent("{}", Encoding.UTF8, "application/json"));
        Assert.Equal(HttpStatusCode.OK, read.StatusCode);
        Assert.Equal(HttpStatusCode.Forbidden, refused.StatusCode);
        Assert.Equal(HttpStatusCode.OK, rotated.StatusCode);

        var text = await File.ReadAllTextAsync(Path.Combine(fixture.WorkingDirectory, "data", "audit.log"));
        var lines = text.Split('\n', StringSplitOptions.RemoveEmptyEntries).Select(line => JsonDocument.Parse(line).RootElement).ToList();
        var aboutSecret = lines.Where(line => line.GetProperty("secret").GetString() == name && line.GetProperty("action").GetString() == "read").ToList();
        Assert.Contains(aboutSecret, line => Fields(line) == ("system:serviceaccount:payments:orders", "ok", 200));
        Assert.Contains(aboutSecret, line => Fields(line) == (Intruder, "denied", 403));
        Assert.Contains(lines, line => line.GetProperty("action").GetString() == "keys" && Fields(line) == ("system:serviceaccount:payments:orders", "ok", 200));
        Assert.DoesNotContain("audited-value-4f1e", text, StringComparison.Ordinal);
        Assert.DoesNotContain(KubernetesApiFixture.OrdersJwt, text, StringComparison.Ordinal);

        static (string?, string?, int) Fields(JsonElement line) =>
            (line.GetProperty("identity").GetString(), line.GetProperty("outcome").GetString(), line.GetProperty("httpStatus").GetInt32());
    }

    [VaultTestServerFact]
    public async Task Whoami_shows_each_service_account_and_the_policies_that_name_it()
    {
        var orders = await fixture.Clectl(KubernetesApiFixture.OrdersJwt).RunAsync("auth", "whoami", "-o", "json");
        var reader = await fixture.Clectl(KubernetesApiFixture.ReaderJwt).RunAsync("auth", "whoami", "-o", "json");
        using var http = fixture.Client(KubernetesApiFixture.IntruderJwt);
        using var intruder = await http.GetAsync(new Uri("v1/auth/whoami", UriKind.Relative));
        var table = await fixture.Clectl(KubernetesApiFixture.ReaderJwt).RunAsync("auth", "whoami");

        ClectlAssert.Ok(orders);
        using (var body = JsonDocument.Parse(orders.Stdout))
        {
            Assert.Equal("system:serviceaccount:payments:orders", body.RootElement.GetProperty("identity").GetString());
            Assert.Equal(EveryAction, Strings(body.RootElement.GetProperty("actions")));
            var policy = Assert.Single(body.RootElement.GetProperty("policies").EnumerateArray());
            Assert.Equal(["payments/**"], Strings(policy.GetProperty("secrets")));
        }

        ClectlAssert.Ok(reader);
        using (var body = JsonDocument.Parse(reader.Stdout))
        {
            Assert.Equal("system:serviceaccount:audit:reader", body.RootElement.GetProperty("identity").GetString());
            Assert.Equal(["read", "list", "keys"], Strings(body.RootElement.GetProperty("actions")));
            var policy = Assert.Single(body.RootElement.GetProperty("policies").EnumerateArray());
            Assert.Equal(["payments/*"], Strings(policy.GetProperty("secrets")));
        }

        Assert.Equal(HttpStatusCode.OK, intruder.StatusCode);
        using (var body = JsonDocument.Parse(await intruder.Content.ReadAsStringAsync()))
        {
            Assert.Equal(Intruder, body.RootElement.GetProperty("identity").GetString());
            Assert.Empty(Strings(body.RootElement.GetProperty("actions")));
            Assert.Empty(body.RootElement.GetProperty("policies").EnumerateArray());
        }

        ClectlAssert.Ok(table);
        Assert.Contains("system:serviceaccount:audit:reader", table.Stdout, StringComparison.Ordinal);
        Assert.Contains(table.Stdout.Split('\n'), l => l.StartsWith("read,list,keys", StringComparison.Ordinal) && l.EndsWith("payments/*", StringComparison.Ordinal));
    }

    private static Task<HttpResponseMessage> SendAsync(HttpClient http, string action, string name, string? ciphertext) => action switch
    {
        "read" => http.GetAsync(new Uri($"v1/secrets/{name}", UriKind.Relative)),
        "list" => http.GetAsync(new Uri("v1/secrets?prefix=payments/", UriKind.Relative)),
        "create" => http.PostAsync(new Uri("v1/secrets", UriKind.Relative), JsonBody.Of($$$"""{"name":"{{{name}}}","data":{"k":"created"}}""")),
        "update" => http.PutAsync(new Uri($"v1/secrets/{name}", UriKind.Relative), JsonBody.Of("""{"data":{"k":"after"}}""")),
        "delete" => http.DeleteAsync(new Uri($"v1/secrets/{name}", UriKind.Relative)),
        "generate" => http.PostAsync(new Uri($"v1/secrets/{name}/generate", UriKind.Relative), JsonBody.Of("{}")),
        "keys" => http.GetAsync(new Uri("v1/keys", UriKind.Relative)),
        "encrypt" => http.PostAsync(new Uri("v1/encrypt", UriKind.Relative), JsonBody.Of("""{"plaintext":"aGk="}""")),
        "decrypt" => http.PostAsync(new Uri("v1/decrypt", UriKind.Relative), JsonBody.Of($$"""{"ciphertext":"{{ciphertext}}"}""")),
        _ => throw new ArgumentOutOfRangeException(nameof(action), action, "not an action"),
    };

    /// <summary>What a refused call must have left as it was: the secret absent, or present with its data.</summary>
    private static async Task AssertUnchangedAsync(HttpClient orders, string action, string name)
    {
        using var read = await orders.GetAsync(new Uri($"v1/secrets/{name}", UriKind.Relative));
        if (action is "create" or "generate")
        {
            Assert.Equal(HttpStatusCode.NotFound, read.StatusCode);
        }
        else if (action is "read" or "update" or "delete")
        {
            Assert.Equal(HttpStatusCode.OK, read.StatusCode);
            using var secret = JsonDocument.Parse(await read.Content.ReadAsStringAsync());
            Assert.Equal("before", secret.RootElement.GetProperty("data").GetProperty("k").GetString());
        }
    }

    private static async Task CreateAsync(HttpClient http, string name, string value)
    {
        using var created = await http.PostAsync(new Uri("v1/secrets", UriKind.Relative), JsonBody.Of($$$"""{"name":"{{{name}}}","data":{"k":"{{{value}}}"}}"""));
        Assert.Equal(HttpStatusCode.Created, created.StatusCode);
    }

    private static async Task<string> EncryptAsync(HttpClient http)
    {
        using var encrypted = await http.PostAsync(new Uri("v1/encrypt", UriKind.Relative), JsonBody.Of("""{"plaintext":"aGk="}"""));
        Assert.Equal(HttpStatusCode.OK, encrypted.StatusCode);
        using var body = JsonDocument.Parse(await encrypted.Content.ReadAsStringAsync());
        return body.RootElement.GetProperty("ciphertext").GetString()!;
    }

    private static async Task<List<string>> ListAsync(HttpClient http, string prefix)
    {
        using var list = await http.GetAsync(new Uri($"v1/secrets?prefix={Uri.EscapeDataString(prefix)}", UriKind.Relative));
        Assert.Equal(HttpStatusCode.OK, list.StatusCode);
        using var body = JsonDocument.Parse(await list.Content.ReadAsStringAsync());
        return [.. body.RootElement.GetProperty("items").EnumerateArray().Select(i => i.GetProperty("name").GetString()!)];
    }

    private static List<string?> Strings(JsonElement array) => [.. array.EnumerateArray().Select(e => e.GetString())];
}
