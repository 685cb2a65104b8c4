using System.Text.Json;
using Microsoft.AspNetCore.Http;
using Trousseau.Tests.Integration.Infrastructure;

namespace Trousseau.Tests.Integration.Cli;

/// <summary>
/// <c>--server URL,URL</c>: clectl sends each request to the first server it can connect to, in order, and never sends
/// a request on to the next server once one may have received it.
/// </summary>
[Collection(ClectlAgainstOneServer.Name)]
public sealed class CliFailoverTests(ClectlFixture fixture)
{
    private const string DefaultServer = "http://127.0.0.1:8787";

    private string Live => fixture.Server.BaseAddress.ToString();

    [Theory]
    [InlineData("refused")]
    [InlineData("unresolvable")]
    public async Task A_first_server_that_cannot_be_reached_is_skipped_for_create_get_and_list(string fault)
    {
        // A name under .invalid never resolves (RFC 6761); no proxy of the environment is to resolve it instead.
        var servers = $"{(fault == "refused" ? Dead() : "https://trousseaud.invalid:8787/")},{Live}";
        var name = $"failover/flag-{fault}";
        var clectl = fixture.Clectl.With(("HTTP_PROXY", null), ("http_proxy", null), ("ALL_PROXY", null), ("all_proxy", null));

        var create = await clectl.RunAsync("--server", servers, "secret", "create", name, "--from-literal", "k=created-past-a-dead-server");
        var get = await clectl.RunAsync("--server", servers, "secret", "get", name, "--key", "k");
        var list = await clectl.RunAsync("--server", servers, "secret", "list", "--prefix", "failover/");

        ClectlAssert.Ok(create);
        ClectlAssert.Ok(get);
        Assert.Equal("created-past-a-dead-server", get.Stdout);
        ClectlAssert.Ok(list);
        Assert.Contains(name, list.Stdout, StringComparison.Ordinal);
    }

    [Fact]
    public async Task TROUSSEAU_SERVER_takes_a_list_with_spaces_around_the_commas()
    {
        ClectlAssert.Ok(await fixture.Clectl.RunAsync("secret", "create", "failover/environment", "--from-literal", "k=from-the-environment-list"));
        var clectl = fixture.Clectl.With(("TROUSSEAU_SERVER", $"{Dead()} , {Dead()} ,{Live}"));

        var get = await clectl.RunAsync("secret", "get", "failover/environment", "--key", "k");

        ClectlAssert.Ok(get);
        Assert.Equal("from-the-environment-list", get.Stdout);
    }

    [Fact]
    public async Task A_context_keeps_the_list_sends_its_token_to_the_server_that_answers_and_lists_it()
    {
        ClectlAssert.Ok(await fixture.Clectl.RunAsync("secret", "create", "failover/context", "--from-literal", "k=through-a-context"));
        var clectl = fixture.Clectl.In(fixture.NewDirectory()).With(("TROUSSEAU_SERVER", null), ("TROUSSEAU_TOKEN", null), ("TROUSSEAU_HOME", null), ("XDG_CONFIG_HOME", fixture.NewDirectory()));
        var servers = $"{Dead()},{Live}";
        ClectlAssert.Ok(await clectl.RunAsync("context", "set", "pair", "--server", servers, "--token-file", Path.Combine(fixture.DataDir, "api.token")));

        var get = await clectl.RunAsync("secret", "get", "failover/context", "--key", "k");
        var table = await clectl.RunAsync("context", "list");
        var json = await clectl.RunAsync("context", "list", "-o", "json");

        ClectlAssert.Ok(get);
        Assert.Equal("through-a-context", get.Stdout);
        Assert.Contains(servers, table.Stdout, StringComparison.Ordinal);
        using var contexts = JsonDocument.Parse(json.Stdout);
        Assert.Equal(servers, contexts.RootElement.GetProperty("contexts")[0].GetProperty("server").GetString());
    }

    [Fact]
    public async Task When_no_server_can_be_reached_clectl_exits_6_with_one_line_naming_each()
    {
        var (first, second) = (Dead(), Dead());

        var get = await fixture.Clectl.RunAsync("--server", $"{first},{second}", "secret", "get", "failover/anything");
        var health = await fixture.Clectl.RunAsync("--server", $"{first},{second}", "health");

        foreach (var result in new[] { get, health })
        {
            var line = ClectlAssert.Fails(result, 6);
            Assert.Contains($"{first} (", line, StringComparison.Ordinal);
            Assert.Contains($"{second} (", line, StringComparison.Ordinal);
            Assert.True(line.IndexOf(first, StringComparison.Ordinal) < line.IndexOf(second, StringComparison.Ordinal), line);
        }
    }

    [Theory]
    [InlineData(StatusCodes.Status500InternalServerError)]
    [InlineData(StatusCodes.Status503ServiceUnavailable)]
    public async Task A_server_that_answers_with_an_error_status_gets_the_request_alone(int status)
    {
        await using var failing = await RecordingServer.StartAsync(_ => Results.Problem(statusCode: status, title: "Unavailable", detail: "The store cannot be reached."));
        await using var next = await RecordingServer.StartAsync(_ => Results.Json(Metadata("failover/once"), statusCode: StatusCodes.Status201Created));

        var create = await fixture.Clectl.RunAsync("--server", $"{failing.BaseAddress},{next.BaseAddress}", "secret", "create", "failover/once", "--from-literal", "k=v");

        var line = ClectlAssert.Fails(create, 6);
        Assert.Contains($"trousseaud at {failing.BaseAddress} answered {status}", line, StringComparison.Ordinal);
        Assert.Contains("The store cannot be reached.", line, StringComparison.Ordinal);
        Assert.Equal("POST", Assert.Single(failing.Requests).Method);
        Assert.Empty(next.Requests);
    }

    [Fact]
    public async Task A_proxy_error_page_is_reported_naming_the_server_with_exit_6()
    {
        using var proxy = TcpStandIn.Writing("HTTP/1.1 502 Bad Gateway\r\nContent-Type: text/html\r\nContent-Length: 13\r\n\r\n<h1>502</h1>\n");
        await using var next = await RecordingServer.StartAsync(_ => Results.Json(Metadata("failover/proxy"), statusCode: StatusCodes.Status201Created));

        var delete = await fixture.Clectl.RunAsync("--server", $"{proxy.BaseAddress},{next.BaseAddress}", "secret", "delete", "failover/proxy");

        var line = ClectlAssert.Fails(delete, 6);
        Assert.Equal($"clectl: trousseaud at {proxy.BaseAddress} answered 502 Bad Gateway.", line);
        Assert.Empty(next.Requests);
    }

    [Fact]
    public async Task A_server_that_closes_the_connection_without_answering_gets_the_request_alone()
    {
        using var closing = TcpStandIn.Closing();
        await using var next = await RecordingServer.StartAsync(_ => Results.Json(Metadata("failover/cut-off"), statusCode: StatusCodes.Status201Created));

        var create = await fixture.Clectl.RunAsync("--server", $"{closing.BaseAddress},{next.BaseAddress}", "secret", "create", "failover/cut-off", "--from-literal", "k=v");

        var line = ClectlAssert.Fails(create, 6);
        Assert.Contains(closing.BaseAddress.ToString(), line, StringComparison.Ordinal);
        Assert.Equal(1, closing.Connections);
        Assert.Empty(next.Requests);
    }

    public static TheoryData<string> Faults => ["answers 503", "closes unanswered", "cuts its answer off", "never answers"];

    [Theory]
    [MemberData(nameof(Faults))]
    public async Task A_read_moves_on_past_a_server_that_took_it_but_gave_no_usable_answer(string fault)
    {
        var name = "failover/read-" + fault.Replace(' ', '-');
        ClectlAssert.Ok(await fixture.Clectl.RunAsync("secret", "create", name, "--from-literal", "k=read-past-a-fault"));
        await using var unavailable = await RecordingServer.StartAsync(_ => Results.Problem(statusCode: StatusCodes.Status503ServiceUnavailable, title: "Unavailable", detail: "The store cannot be reached."));
        using var standIn = fault switch
        {
            "closes unanswered" => TcpStandIn.Closing(),
            "cuts its answer off" => TcpStandIn.Writing("HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 300\r\n\r\n{\"name\":"),
            _ => TcpStandIn.Silent(),
        };
        var faulty = fault == "answers 503" ? unavailable.BaseAddress : standIn.BaseAddress;

        var get = await fixture.Clectl.RunAsync("--server", $"{faulty},{Live}", "--request-timeout", "1", "secret", "get", name, "--key", "k");
        var health = await fixture.Clectl.RunAsync("--server", $"{faulty},{Live}", "--request-timeout", "1", "health", "-o", "json");

        ClectlAssert.Ok(get);
        Assert.Equal("read-past-a-fault", get.Stdout);
        ClectlAssert.Ok(health);
        using var report = JsonDocument.Parse(health.Stdout);
        Assert.Equal(Live, report.RootElement.GetProperty("server").GetString());

        // Each read reached the faulty server first (.NET itself sends a GET again on a connection closed unanswered).
        var taken = fault == "answers 503" ? unavailable.Requests.Count : standIn.Connections;
        Assert.True(taken >= 2, $"the faulty server took {taken} requests or connections, not one for each of the two reads");
    }

    [Fact]
    public async Task Every_page_of_a_listing_comes_from_the_server_that_answered_the_first()
    {
        // The first server answers 503, then as though it had recovered, with a listing of its own: a later page taken
        // from it would splice another server's secrets into the listing, past a continue token it never gave.
        var asked = 0;
        await using var recovering = await RecordingServer.StartAsync(_ => Interlocked.Increment(ref asked) == 1
            ? Results.Problem(statusCode: StatusCodes.Status503ServiceUnavailable, title: "Unavailable", detail: "The store cannot be reached.")
            : Results.Json(new { items = new[] { Metadata("failover/of-the-recovered-server") } }));
        var pages = 0;
        await using var answering = await RecordingServer.StartAsync(_ => Interlocked.Increment(ref pages) == 1
            ? Results.Json(new { items = new[] { Metadata("failover/page-one") }, @continue = "c1" })
            : Results.Json(new { items = new[] { Metadata("failover/page-two") } }));

        var list = await fixture.Clectl.RunAsync("--server", $"{recovering.BaseAddress},{answering.BaseAddress}", "secret", "list");

        ClectlAssert.Ok(list);
        Assert.Equal(
            ["failover/page-one", "failover/page-two"],
            list.Stdout.Split('\n').Where(row => row.StartsWith("failover/", StringComparison.Ordinal)).Select(row => row.Split(' ')[0]));
        Assert.Single(recovering.Requests);
        Assert.Equal(2, answering.Requests.Count);
    }

    [Fact]
    public async Task A_4xx_answer_to_a_read_is_the_answer_and_the_next_server_is_not_asked()
    {
        ClectlAssert.Ok(await fixture.Clectl.RunAsync("secret", "create", "failover/only-on-live", "--from-literal", "k=v"));
        await using var empty = await RecordingServer.StartAsync(_ => Results.Problem(
            statusCode: StatusCodes.Status404NotFound, title: "Not found", detail: "No such secret.", type: "urn:trousseau:problem:not-found"));

        var get = await fixture.Clectl.RunAsync("--server", $"{empty.BaseAddress},{Live}", "secret", "get", "failover/only-on-live");

        ClectlAssert.Fails(get, 3);
        Assert.Single(empty.Requests);
    }

    [Fact]
    public async Task A_read_whose_last_server_refuses_the_token_after_another_answered_503_exits_5_naming_both()
    {
        await using var unavailable = await RecordingServer.StartAsync(_ => Results.Problem(statusCode: StatusCodes.Status503ServiceUnavailable, title: "Unavailable", detail: "The store cannot be reached."));
        var clectl = fixture.Clectl.With(("TROUSSEAU_TOKEN", "not-the-token-of-either"));

        var get = await clectl.RunAsync("--server", $"{unavailable.BaseAddress},{Live}", "secret", "get", "failover/refused");

        // The refusal is the answer (exit 5), and the line says too why the first server did not give it.
        var line = ClectlAssert.Fails(get, 5);
        Assert.StartsWith($"clectl: trousseaud at {Live} refused the API token from $TROUSSEAU_TOKEN (", line, StringComparison.Ordinal);
        Assert.EndsWith(
            $" Before it, clectl passed over: {unavailable.BaseAddress} (answered 503 Service Unavailable: The store cannot be reached).",
            line,
            StringComparison.Ordinal);
        Assert.DoesNotContain("not-the-token-of-either", get.Stderr, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData(StatusCodes.Status503ServiceUnavailable, "The store cannot be reached.", "answered 503 Service Unavailable: The store cannot be reached", StatusCodes.Status404NotFound, 3)]
    [InlineData(StatusCodes.Status429TooManyRequests, "Slow down.", "answered 429 Too Many Requests: Slow down", StatusCodes.Status409Conflict, 4)]
    public async Task A_read_whose_last_server_fails_it_after_another_was_passed_over_keeps_its_exit_code_and_names_both(
        int passedOverStatus, string passedOverDetail, string passedOverAnswer, int lastStatus, int exitCode)
    {
        await using var passedOver = await RecordingServer.StartAsync(_ => Results.Problem(statusCode: passedOverStatus, title: "Passed over", detail: passedOverDetail));
        await using var conflicting = await RecordingServer.StartAsync(_ => Results.Problem(
            statusCode: StatusCodes.Status409Conflict, title: "Conflict", detail: "Secret 'failover/after-a-pass' already exists.", type: "urn:trousseau:problem:already-exists"));
        var last = lastStatus == StatusCodes.Status404NotFound ? Live : conflicting.BaseAddress.ToString();

        var get = await fixture.Clectl.RunAsync("--server", $"{passedOver.BaseAddress},{last}", "secret", "get", "failover/after-a-pass");

        // The answer of the last server decides the exit code; the line says too why the first did not give it.
        var line = ClectlAssert.Fails(get, exitCode);
        Assert.StartsWith("clectl: Secret 'failover/after-a-pass' ", line, StringComparison.Ordinal);
        Assert.EndsWith($" Before it, clectl passed over: {passedOver.BaseAddress} ({passedOverAnswer}).", line, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("get", 3)]
    [InlineData("create", 4)]
    public async Task A_failing_answer_after_a_server_that_refused_the_connection_names_that_server_too(string command, int exitCode)
    {
        var name = $"failover/{command}-past-a-refusal";
        if (command == "create")
        {
            ClectlAssert.Ok(await fixture.Clectl.RunAsync("secret", "create", name, "--from-literal", "k=v"));
        }

        var dead = Dead();
        string[] args = command == "get" ? ["secret", "get", name] : ["secret", "create", name, "--from-literal", "k=again"];

        var run = await fixture.Clectl.RunAsync(["--server", $"{dead},{Live}", .. args]);

        // The answer of the server reached decides the exit code; the line says too that the first refused the connection.
        var line = ClectlAssert.Fails(run, exitCode);
        Assert.EndsWith($" Before it, clectl passed over: {dead} (Connection refused (127.0.0.1:{new Uri(dead).Port})).", line, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_read_that_no_server_answers_exits_6_naming_each_and_what_it_did()
    {
        await using var unavailable = await RecordingServer.StartAsync(_ => Results.Problem(statusCode: StatusCodes.Status503ServiceUnavailable, title: "Unavailable", detail: "The store cannot be reached."));
        using var closing = TcpStandIn.Closing();
        var dead = Dead();

        var list = await fixture.Clectl.RunAsync("--server", $"{unavailable.BaseAddress},{closing.BaseAddress},{dead}", "secret", "list");

        var line = ClectlAssert.Fails(list, 6);
        Assert.StartsWith("clectl: None of the 3 trousseaud servers answered, tried in order: ", line, StringComparison.Ordinal);
        Assert.Contains($"{unavailable.BaseAddress} (answered 503 Service Unavailable: The store cannot be reached)", line, StringComparison.Ordinal);
        Assert.Contains($"{closing.BaseAddress} (", line, StringComparison.Ordinal);
        Assert.Contains($"{dead} (Connection refused", line, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("secret", "get", "failover/anywhere")]
    [InlineData("secret", "list")]
    [InlineData("key", "status")]
    public async Task A_read_whose_last_server_answers_5xx_names_each_server_tried_and_what_it_answered(params string[] command)
    {
        var dead = Dead();
        await using var unavailable = await RecordingServer.StartAsync(_ => Results.Problem(statusCode: StatusCodes.Status503ServiceUnavailable, title: "Unavailable", detail: "The store cannot be reached."));
        await using var failing = await RecordingServer.StartAsync(_ => Results.Problem(statusCode: StatusCodes.Status500InternalServerError, title: "Error", detail: "Vault is sealed\u001b[2J."));

        var read = await fixture.Clectl.RunAsync(["--server", $"{dead},{unavailable.BaseAddress},{failing.BaseAddress}", .. command]);

        var line = ClectlAssert.Fails(read, 6);
        Assert.Equal(
            "clectl: None of the 3 trousseaud servers answered, tried in order: "
            + $"{dead} (Connection refused (127.0.0.1:{new Uri(dead).Port})); "
            + $"{unavailable.BaseAddress} (answered 503 Service Unavailable: The store cannot be reached); "
            + $"{failing.BaseAddress} (answered 500 Internal Server Error: Vault is sealed\\x1b[2J).",
            line);
    }

    [Fact]
    public async Task With_a_list_each_server_gets_only_the_token_that_belongs_to_it()
    {
        await using var other = await RecordingServer.StartAsync(_ => Results.Problem(
            statusCode: StatusCodes.Status401Unauthorized,
            title: "Unauthenticated",
            detail: "A bearer token is required.",
            type: "urn:trousseau:problem:unauthenticated"));
        var workingDirectory = fixture.NewDirectory();
        Directory.CreateDirectory(Path.Combine(workingDirectory, ".trousseau"));
        await File.WriteAllTextAsync(Path.Combine(workingDirectory, ".trousseau", "api.token"), "local-token-77e1\n");
        var clectl = fixture.Clectl.In(workingDirectory).With(("TROUSSEAU_HOME", null), ("TROUSSEAU_TOKEN", null), ("TROUSSEAU_SERVER", null), ("XDG_CONFIG_HOME", fixture.NewDirectory()));
        var tokenFile = Path.Combine(fixture.NewDirectory(), "pair.token");
        await File.WriteAllTextAsync(tokenFile, "context-token-5a90\n");
        ClectlAssert.Ok(await clectl.RunAsync("context", "set", "pair", "--server", $"{Dead()},{other.BaseAddress}", "--token-file", tokenFile));

        var dataDirectoryToken = await clectl.RunAsync("--server", $"{other.BaseAddress},{DefaultServer}", "secret", "list");
        var givenAfterFailover = await clectl.RunAsync("--server", $"{Dead()},{other.BaseAddress}", "--token", "given-token-c3d2", "secret", "list");
        var givenToTheFirst = await clectl.RunAsync("--server", $"{other.BaseAddress},{Dead()}", "--token", "given-token-c3d2", "secret", "list");
        var contextServer = await clectl.RunAsync("--context", "pair", "--server", other.BaseAddress.ToString(), "secret", "list");

        var unauthenticated = ClectlAssert.Fails(dataDirectoryToken, 5);
        Assert.Contains($"trousseaud at {other.BaseAddress} wants an API token and clectl sent none", unauthenticated, StringComparison.Ordinal);
        ClectlAssert.Fails(givenAfterFailover, 5);
        ClectlAssert.Fails(givenToTheFirst, 5);
        ClectlAssert.Fails(contextServer, 5);
        Assert.Equal(
            [null, "Bearer given-token-c3d2", "Bearer given-token-c3d2", "Bearer context-token-5a90"],
            other.Requests.Select(r => r.Header("Authorization")));
    }

    [Theory]
    [InlineData("http://127.0.0.1:1,,http://127.0.0.1:2", "empty")]
    [InlineData("http://127.0.0.1:1,", "empty")]
    [InlineData("http://127.0.0.1:1, ftp://files.example.org", "'ftp://files.example.org'")]
    [InlineData("http://127.0.0.1:1,127.0.0.1:2", "'127.0.0.1:2'")]
    public async Task A_bad_entry_in_a_list_exits_2_naming_it_and_stores_nothing(string servers, string named)
    {
        var clectl = fixture.Clectl.With(("XDG_CONFIG_HOME", fixture.NewDirectory()));

        var flag = await clectl.RunAsync("--server", servers, "secret", "list");
        var environment = await clectl.With(("TROUSSEAU_SERVER", servers)).RunAsync("secret", "list");
        var context = await clectl.RunAsync("context", "set", "bad", "--server", servers);
        var contexts = await clectl.RunAsync("context", "list", "-o", "json");

        Assert.Contains(named, ClectlAssert.Fails(flag, 2), StringComparison.Ordinal);
        Assert.Contains(named, ClectlAssert.Fails(environment, 2), StringComparison.Ordinal);
        Assert.Contains("TROUSSEAU_SERVER", ClectlAssert.Fails(environment, 2), StringComparison.Ordinal);
        Assert.Contains(named, ClectlAssert.Fails(context, 2), StringComparison.Ordinal);
        using var stored = JsonDocument.Parse(contexts.Stdout);
        Assert.Empty(stored.RootElement.GetProperty("contexts").EnumerateArray());
    }

    [Fact]
    public async Task A_server_url_with_a_password_exits_2_without_showing_it_and_stores_nothing()
    {
        var clectl = fixture.Clectl.With(("XDG_CONFIG_HOME", fixture.NewDirectory()));
        var servers = $"{Live},http://deployer:pw-9f1c@127.0.0.1:{FreePort.Next()}/";

        var flag = await clectl.RunAsync("--server", servers, "secret", "list");
        var environment = await clectl.With(("TROUSSEAU_SERVER", servers)).RunAsync("secret", "list");
        var context = await clectl.RunAsync("context", "set", "with-password", "--server", servers);
        var contexts = await clectl.RunAsync("context", "list", "-o", "json");

        foreach (var result in new[] { flag, environment, context })
        {
            var line = ClectlAssert.Fails(result, 2);
            Assert.Contains("entry 2", line, StringComparison.Ordinal);
            Assert.DoesNotContain("pw-9f1c", line, StringComparison.Ordinal);
        }

        using var stored = JsonDocument.Parse(contexts.Stdout);
        Assert.Empty(stored.RootElement.GetProperty("contexts").EnumerateArray());
    }

    [Fact]
    public async Task Health_names_the_server_that_answered()
    {
        var servers = $"{Dead()},{Live}";

        var table = await fixture.Clectl.RunAsync("--server", servers, "health");
        var json = await fixture.Clectl.RunAsync("--server", servers, "health", "-o", "json");

        ClectlAssert.Ok(table);
        Assert.Contains(Live, table.Stdout, StringComparison.Ordinal);
        ClectlAssert.Ok(json);
        using var report = JsonDocument.Parse(json.Stdout);
        Assert.Equal("healthy", report.RootElement.GetProperty("status").GetString());
        Assert.Equal(Live, report.RootElement.GetProperty("server").GetString());
    }

    /// <summary>A loopback URL with nothing listening on its port.</summary>
    private static string Dead() => $"http://127.0.0.1:{FreePort.Next()}/";

    private static object Metadata(string name) =>
        new { name, type = "opaque", revision = 1, createdAt = "2025-01-01T00:00:00.000+00:00", updatedAt = "2025-01-01T00:00:00.000+00:00" };
}
