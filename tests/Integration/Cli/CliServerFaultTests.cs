using Microsoft.AspNetCore.Http;
using Trousseau.Tests.Integration.Infrastructure;

namespace Trousseau.Tests.Integration.Cli;

/// <summary>
/// Servers that misbehave once a request reached them: clectl gives up within <c>--request-timeout</c>, exits 6 with
/// one line naming the server, sends the request to no other server, and follows no redirect.
/// </summary>
[Collection(ClectlAgainstOneServer.Name)]
public sealed class CliServerFaultTests(ClectlFixture fixture)
{
    private const string Headers = "HTTP/1.1 201 Created\r\nContent-Type: application/json\r\nContent-Length: 400\r\n\r\n";

    public static TheoryData<string> Hangs => ["silent", "headers then silent"];

    [Theory]
    [MemberData(nameof(Hangs))]
    public async Task A_server_that_stops_answering_ends_the_command_within_the_request_timeout_with_exit_6(string hang)
    {
        using var hung = hang == "silent" ? TcpStandIn.Silent() : TcpStandIn.WritingThenSilent(Headers + "{\"name\":");
        await using var next = await RecordingServer.StartAsync(_ => Results.Json(Metadata("fault/hung"), statusCode: StatusCodes.Status201Created));

        var create = await fixture.Clectl.RunAsync(
            "--server", $"{hung.BaseAddress},{next.BaseAddress}", "--request-timeout", "1", "secret", "create", "fault/hung", "--from-file", $"k={ValueFile()}");

        var line = ClectlAssert.Fails(create, 6);
        Assert.Contains($"trousseaud at {hung.BaseAddress} did not answer within 1 s", line, StringComparison.Ordinal);
        Assert.Equal(1, hung.Connections);
        Assert.Empty(next.Requests);
    }

    [Fact]
    public async Task The_request_timeout_counts_from_the_connection_so_an_answer_held_past_it_is_not_waited_for()
    {
        // The server takes the connection at once and holds its answer until clectl has exited, else for 5 s, five
        // times the timeout: clectl must give up 1 s after its request went out, with the documented line, not take
        // the answer (counted from the start of the attempt, with 5 s for connecting, it waited 6 s and took it).
        var exited = new TaskCompletionSource();
        await using var holding = await RecordingServer.StartAsync(_ => new Held(
            Task.WhenAny(exited.Task, Task.Delay(TimeSpan.FromSeconds(5))),
            Results.Json(new { items = new[] { Metadata("fault/held") } })));

        var list = await fixture.Clectl.RunAsync("--server", holding.BaseAddress.ToString(), "--request-timeout", "1", "secret", "list");
        exited.SetResult();

        Assert.Equal($"clectl: trousseaud at {holding.BaseAddress} did not answer within 1 s (--request-timeout).", ClectlAssert.Fails(list, 6));
        Assert.Single(holding.Requests);
    }

    [Theory]
    [InlineData("silent", "secret", "create", "fault/unknown-outcome", "POST v1/secrets")]
    [InlineData("cut off", "secret", "delete", "fault/unknown-outcome", "DELETE v1/secrets/fault/unknown-outcome")]
    [InlineData("silent", "key", "rotate", "", "POST v1/keys/rotate")]
    public async Task A_write_left_without_a_whole_answer_says_it_may_or_may_not_have_been_applied_on_that_server(string fault, string group, string command, string name, string request)
    {
        using var server = fault == "silent" ? TcpStandIn.Silent() : TcpStandIn.Writing("HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 10\r\n\r\n{");
        string[] args = (group, name) switch
        {
            ("key", _) => [group, command],
            (_, _) when command == "create" => [group, command, name, "--from-file", $"k={ValueFile()}"],
            _ => [group, command, name],
        };

        var result = await fixture.Clectl.RunAsync(["--server", server.BaseAddress.ToString(), "--request-timeout", "1", .. args]);

        Assert.EndsWith(
            $" The {request} may or may not have been applied at {server.BaseAddress}: check (clectl secret get, secret list, key status) before you repeat it.",
            ClectlAssert.Fails(result, 6),
            StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("secret", "get", "fault/elsewhere")]
    [InlineData("secret", "delete", "fault/elsewhere")]
    public async Task A_404_without_trousseauds_problem_details_is_not_taken_for_a_missing_secret(params string[] command)
    {
        // A web server or proxy at the address given (a wrong path prefix, another service): its 404 is its own.
        using var other = TcpStandIn.Writing("HTTP/1.1 404 Not Found\r\nContent-Type: text/html\r\nContent-Length: 14\r\n\r\n<h1>404</h1>\r\n");

        var result = await fixture.Clectl.RunAsync(["--server", other.BaseAddress.ToString(), .. command]);

        Assert.Equal(
            $"clectl: trousseaud at {other.BaseAddress} answered 404 Not Found without trousseaud's problem details: "
            + "is this the address trousseaud serves its API on?",
            ClectlAssert.Fails(result, 6));
    }

    [Fact]
    public async Task A_server_that_never_completes_the_tls_handshake_is_skipped_since_the_request_was_not_sent()
    {
        using var hung = TcpStandIn.Silent();
        var silentTls = new UriBuilder(hung.BaseAddress) { Scheme = Uri.UriSchemeHttps }.Uri;
        var servers = $"{silentTls},{fixture.Server.BaseAddress}";

        // A write too: it never went out on that connection, so it cannot have been applied there.
        var create = await fixture.Clectl.RunAsync("--server", servers, "secret", "create", "fault/past-tls", "--from-file", $"k={ValueFile()}");
        var get = await fixture.Clectl.RunAsync("--server", servers, "secret", "get", "fault/past-tls", "--key", "k");

        ClectlAssert.Ok(create);
        ClectlAssert.Ok(get);
        Assert.Equal("fault-value-4c1e", get.Stdout);
        Assert.Equal(2, hung.Connections);
    }

    [Fact]
    public async Task An_answer_cut_off_after_its_headers_exits_6_naming_the_server()
    {
        using var cut = TcpStandIn.Writing(Headers + "{\"name\":\"fault/cut\",");
        await using var next = await RecordingServer.StartAsync(_ => Results.Json(Metadata("fault/cut"), statusCode: StatusCodes.Status201Created));

        var create = await fixture.Clectl.RunAsync("--server", $"{cut.BaseAddress},{next.BaseAddress}", "secret", "create", "fault/cut", "--from-file", $"k={ValueFile()}");

        var line = ClectlAssert.Fails(create, 6);
        Assert.Contains($"The answer of trousseaud at {cut.BaseAddress} was cut off", line, StringComparison.Ordinal);
        Assert.Empty(next.Requests);
    }

    [Fact]
    public async Task A_rate_limit_of_a_proxy_in_front_exits_6_naming_the_server_and_the_wait_it_asks()
    {
        await using var limited = await RecordingServer.StartAsync(_ => new RateLimited());
        await using var next = await RecordingServer.StartAsync(_ => Results.Json(Metadata("fault/limited"), statusCode: StatusCodes.Status201Created));

        var create = await fixture.Clectl.RunAsync("--server", $"{limited.BaseAddress},{next.BaseAddress}", "secret", "create", "fault/limited", "--from-file", $"k={ValueFile()}");

        var line = ClectlAssert.Fails(create, 6);
        Assert.Contains($"trousseaud at {limited.BaseAddress} answered 429 Too Many Requests", line, StringComparison.Ordinal);
        Assert.Contains("30 s", line, StringComparison.Ordinal);
        Assert.Empty(next.Requests);
    }

    [Theory]
    [InlineData("secret", "get", "fault/guarded")]
    [InlineData("secret", "delete", "fault/guarded")]
    public async Task A_403_of_a_proxy_in_front_without_problem_details_exits_5_naming_the_server_and_the_next_is_not_asked(params string[] command)
    {
        // A proxy or firewall in front that refuses the caller: a refusal (exit 5), not a request clectl got wrong (exit 2).
        using var guard = TcpStandIn.Writing("HTTP/1.1 403 Forbidden\r\nContent-Type: text/html\r\nContent-Length: 14\r\n\r\n<h1>403</h1>\r\n");
        await using var next = await RecordingServer.StartAsync(_ => Results.Ok());

        var result = await fixture.Clectl.RunAsync(["--server", $"{guard.BaseAddress},{next.BaseAddress}", .. command]);

        Assert.Equal($"clectl: trousseaud at {guard.BaseAddress} answered 403 Forbidden.", ClectlAssert.Fails(result, 5));
        Assert.Empty(next.Requests);
    }

    [Fact]
    public async Task A_read_rate_limited_by_its_last_server_after_others_were_passed_over_names_each_server_and_what_it_answered()
    {
        var dead = $"http://127.0.0.1:{FreePort.Next()}/";
        await using var limited = await RecordingServer.StartAsync(_ => new RateLimited());

        var get = await fixture.Clectl.RunAsync("--server", $"{dead},{limited.BaseAddress}", "secret", "get", "fault/limited-last");

        var line = ClectlAssert.Fails(get, 6);
        Assert.StartsWith("clectl: None of the 2 trousseaud servers answered, tried in order: ", line, StringComparison.Ordinal);
        Assert.Contains($"{dead} (", line, StringComparison.Ordinal);
        Assert.EndsWith($"{limited.BaseAddress} (answered 429 Too Many Requests; it asks to wait 30 s before trying again).", line, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_read_that_every_server_answers_503_names_the_wait_each_retry_after_asks_as_for_a_429()
    {
        // trousseaud sends Retry-After with every 503 (the wait its store or key provider asked for, else 1 s).
        await using var first = await RecordingServer.StartAsync(_ => new Unavailable("7"));
        await using var second = await RecordingServer.StartAsync(_ => new Unavailable("12"));

        var get = await fixture.Clectl.RunAsync("--server", $"{first.BaseAddress},{second.BaseAddress}", "secret", "get", "fault/unavailable");

        Assert.Equal(
            "clectl: None of the 2 trousseaud servers answered, tried in order: "
            + $"{first.BaseAddress} (answered 503 Service Unavailable: The store cannot be reached; it asks to wait 7 s before trying again); "
            + $"{second.BaseAddress} (answered 503 Service Unavailable: The store cannot be reached; it asks to wait 12 s before trying again).",
            ClectlAssert.Fails(get, 6));
        Assert.Single(first.Requests);
        Assert.Single(second.Requests);
    }

    [Theory]
    [InlineData("secret", "get", "fault/unavailable-alone")]
    [InlineData("secret", "create", "fault/unavailable-alone", "--from-literal", "k=v")]
    [InlineData("key", "status")]
    public async Task A_503_of_the_only_server_names_the_wait_its_retry_after_asks_as_with_several_servers(params string[] command)
    {
        await using var unavailable = await RecordingServer.StartAsync(_ => new Unavailable("7"));

        var run = await fixture.Clectl.RunAsync(["--server", unavailable.BaseAddress.ToString(), .. command]);

        Assert.Equal(
            $"clectl: trousseaud at {unavailable.BaseAddress} answered 503 Service Unavailable: The store cannot be reached; it asks to wait 7 s before trying again.",
            ClectlAssert.Fails(run, 6));
        Assert.Single(unavailable.Requests);
    }

    [Fact]
    public async Task A_read_moves_on_past_a_rate_limited_server_as_past_a_5xx()
    {
        ClectlAssert.Ok(await fixture.Clectl.RunAsync("secret", "create", "fault/limited-first", "--from-file", $"k={ValueFile()}"));
        await using var limited = await RecordingServer.StartAsync(_ => new RateLimited());

        var get = await fixture.Clectl.RunAsync("--server", $"{limited.BaseAddress},{fixture.Server.BaseAddress}", "secret", "get", "fault/limited-first", "--key", "k");

        ClectlAssert.Ok(get);
        Assert.Equal("fault-value-4c1e", get.Stdout);
        Assert.Single(limited.Requests);
    }

    [Theory]
    [InlineData("200 OK", "get")]
    [InlineData("500 Internal Server Error", "get")]
    [InlineData("201 Created", "create")]
    public async Task An_answer_that_never_ends_is_read_to_16_MiB_and_no_further_and_exits_6_naming_the_server(string status, string command)
    {
        using var endless = TcpStandIn.Endless(status);
        string[] args = command == "get" ? ["secret", "get", "fault/endless"] : ["secret", "create", "fault/endless", "--from-file", $"k={ValueFile()}"];

        // A heap limit far below what an unbounded read reaches, far above what 16 MiB takes.
        var result = await fixture.Clectl.With(("DOTNET_GCHeapHardLimit", "0x10000000")).RunAsync(["--server", endless.BaseAddress.ToString(), .. args]);

        Assert.Equal(
            $"clectl: The answer of trousseaud at {endless.BaseAddress} runs past 16 MiB, more than trousseaud ever sends; "
            + "it was not read further: is this the address trousseaud serves its API on?"
            + (command == "create" ? $" The POST v1/secrets may or may not have been applied at {endless.BaseAddress}: check (clectl secret get, secret list, key status) before you repeat it." : ""),
            ClectlAssert.Fails(result, 6));
    }

    [Fact]
    public async Task An_answer_that_is_not_trousseauds_json_exits_6_naming_the_server()
    {
        await using var stranger = await RecordingServer.StartAsync(_ => Results.Text("<html>welcome</html>", "text/html", statusCode: StatusCodes.Status201Created));

        var create = await fixture.Clectl.RunAsync("--server", stranger.BaseAddress.ToString(), "secret", "create", "fault/stranger", "--from-file", $"k={ValueFile()}");

        var line = ClectlAssert.Fails(create, 6);
        Assert.Contains($"trousseaud at {stranger.BaseAddress} answered POST v1/secrets with a body that is not the expected JSON", line, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_redirect_is_not_followed_so_the_values_go_to_no_address_but_the_one_given()
    {
        await using var elsewhere = await RecordingServer.StartAsync(_ => Results.Json(Metadata("fault/redirected"), statusCode: StatusCodes.Status201Created));
        var location = new Uri(elsewhere.BaseAddress, "v1/secrets");
        await using var redirecting = await RecordingServer.StartAsync(_ => Results.Redirect(location.AbsoluteUri, permanent: false, preserveMethod: true));

        var create = await fixture.Clectl.RunAsync("--server", redirecting.BaseAddress.ToString(), "secret", "create", "fault/redirected", "--from-file", $"k={ValueFile()}");

        var line = ClectlAssert.Fails(create, 2);
        Assert.Contains($"trousseaud at {redirecting.BaseAddress} answered 307", line, StringComparison.Ordinal);
        Assert.Contains(location.AbsoluteUri, line, StringComparison.Ordinal);
        Assert.Single(redirecting.Requests);
        Assert.Empty(elsewhere.Requests);
    }

    public static TheoryData<string, int, string> HostileWords => new()
    {
        {
            "HTTP/1.1 503 Service Unavailable\r\nContent-Type: application/problem+json\r\nConnection: close\r\n\r\n"
            + "{\"type\":\"urn:x\",\"title\":\"t\",\"status\":503,\"detail\":\"down\\u001b]0;owned\\u0007\\u001b[2J\\u009b31mall fine\\u0000\"}",
            6,
            @"answered 503 Service Unavailable: down\x1b]0;owned\x07\x1b[2J\u009b31mall fine\x00"
        },
        {
            "HTTP/1.1 502 Bad\u001b[2J\u001b]0;owned\u0007Gateway\r\nContent-Type: text/html\r\nContent-Length: 4\r\n\r\n<p/>",
            6,
            @"answered 502 Bad\x1b[2J\x1b]0;owned\x07Gateway."
        },
        {
            "HTTP/1.1 302 Found\r\nLocation: http://elsewhere.example/\u001b[2Jx\r\nContent-Length: 0\r\n\r\n",
            2,
            @"a redirect to http://elsewhere.example/\x1b[2Jx, which is not followed"
        },
    };

    [Theory]
    [MemberData(nameof(HostileWords))]
    public async Task Control_characters_in_a_servers_answer_reach_stderr_escaped_so_they_cannot_drive_the_terminal(string reply, int exitCode, string escaped)
    {
        using var hostile = TcpStandIn.Writing(reply);

        var get = await fixture.Clectl.RunAsync("--server", hostile.BaseAddress.ToString(), "secret", "get", "fault/words");

        var line = ClectlAssert.Fails(get, exitCode);
        Assert.DoesNotContain(line, char.IsControl);
        Assert.Contains(escaped, line, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("application/json", "{}", "get")]
    [InlineData("application/json", "{\"name\":null,\"type\":\"opaque\",\"data\":null,\"revision\":1,\"createdAt\":\"2025-01-01T00:00:00Z\",\"updatedAt\":\"2025-01-01T00:00:00Z\"}", "get")]
    [InlineData("application/json; charset=no-such-charset", "{\"name\":\"fault/shape\",\"type\":\"opaque\",\"data\":{},\"revision\":1,\"createdAt\":\"2025-01-01T00:00:00Z\",\"updatedAt\":\"2025-01-01T00:00:00Z\"}", "get")]
    [InlineData("application/json", "{}", "list")]
    [InlineData("application/json", "{\"name\":\"fault/shape\"}", "create")]
    [InlineData("application/json", "{\"items\":[null]}", "list")]
    [InlineData("application/json", "{\"items\":[{\"name\":\"fault/shape\",\"type\":\"\",\"revision\":1,\"updatedAt\":\"2025-01-01T00:00:00Z\",\"createdAt\":\"2025-01-01T00:00:00Z\"}]}", "list")]
    [InlineData("application/json", "{\"name\":\"fault/shape\",\"type\":\"\",\"data\":{},\"revision\":1,\"createdAt\":\"2025-01-01T00:00:00Z\",\"updatedAt\":\"2025-01-01T00:00:00Z\"}", "get")]
    public async Task A_json_answer_that_is_not_trousseauds_exits_6_naming_the_server_and_prints_nothing(string contentType, string body, string command)
    {
        using var stranger = TcpStandIn.Writing($"HTTP/1.1 200 OK\r\nContent-Type: {contentType}\r\nConnection: close\r\n\r\n{body}");
        string[] args = command switch
        {
            "get" => ["secret", "get", "fault/shape"],
            "list" => ["secret", "list", "-o", "json"],
            _ => ["secret", "create", "fault/shape", "--from-file", $"k={ValueFile()}"],
        };

        var result = await fixture.Clectl.RunAsync(["--server", stranger.BaseAddress.ToString(), .. args]);

        var line = ClectlAssert.Fails(result, 6);
        Assert.StartsWith($"clectl: trousseaud at {stranger.BaseAddress} answered ", line, StringComparison.Ordinal);
        Assert.EndsWith(" with a body that is not the expected JSON.", line, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("{\"items\":[],\"continue\":\"c1\"}", 1)]
    [InlineData("{\"items\":[{\"name\":\"fault/loop\",\"type\":\"opaque\",\"revision\":1,\"updatedAt\":\"2025-01-01T00:00:00Z\",\"createdAt\":\"2025-01-01T00:00:00Z\"}],\"continue\":\"c1\"}", 2)]
    public async Task A_listing_whose_continue_token_leads_nowhere_stops_with_exit_6_naming_the_server(string page, int requests)
    {
        using var looping = TcpStandIn.Writing($"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nConnection: close\r\n\r\n{page}");

        var list = await fixture.Clectl.RunAsync("--server", looping.BaseAddress.ToString(), "secret", "list");

        Assert.True(list.ExitCode == 6, $"expected exit 6, got {list.ExitCode}: {list.Stderr}");
        var line = Assert.Single(list.Stderr.Split('\n', StringSplitOptions.RemoveEmptyEntries));
        Assert.StartsWith($"clectl: trousseaud at {looping.BaseAddress} answered page {requests} of the listing with", line, StringComparison.Ordinal);
        Assert.Equal(requests, looping.Connections);
        Assert.Equal(requests - 1, list.Stdout.Split('\n').Count(row => row.StartsWith("fault/loop ", StringComparison.Ordinal)));
    }

    public static TheoryData<string, string> LaterPageFaults => new()
    {
        { "answers 503", "json" }, { "answers 503", "yaml" }, { "answers 503", "table" },
        { "closes the connection", "json" }, { "closes the connection", "yaml" }, { "closes the connection", "table" },
        { "answers html", "json" }, { "answers html", "yaml" }, { "answers html", "table" },
    };

    [Theory]
    [MemberData(nameof(LaterPageFaults))]
    public async Task A_listing_whose_second_page_fails_prints_no_part_of_a_json_or_yaml_document_and_exits_6(string fault, string format)
    {
        var asked = 0;
        await using var server = await RecordingServer.StartAsync(_ => Interlocked.Increment(ref asked) == 1
            ? Results.Json(new { items = new[] { Metadata("fault/page-one") }, @continue = "c1" })
            : fault switch
            {
                "answers 503" => Results.Problem(statusCode: StatusCodes.Status503ServiceUnavailable, title: "Unavailable", detail: "The store cannot be reached."),
                "closes the connection" => new Aborted(),
                _ => Results.Text("<html>maintenance</html>", "text/html"),
            });

        var list = await fixture.Clectl.RunAsync("--server", server.BaseAddress.ToString(), "secret", "list", "-o", format);

        Assert.True(list.ExitCode == 6, $"expected exit 6, got {list.ExitCode}: {list.Stderr}");
        var line = Assert.Single(list.Stderr.Split('\n', StringSplitOptions.RemoveEmptyEntries));
        Assert.StartsWith("clectl: ", line, StringComparison.Ordinal);
        Assert.Contains(server.BaseAddress.ToString(), line, StringComparison.Ordinal);
        if (format == "table")
        {
            // A table is for people and is printed as pages come: the rows so far stay, the exit code says it is cut.
            Assert.Contains("fault/page-one", list.Stdout, StringComparison.Ordinal);
        }
        else
        {
            Assert.Empty(list.Stdout);
        }
    }

    [Theory]
    [InlineData("[]", "table")]
    [InlineData("[]", "json")]
    [InlineData("{\"status\":\"healthy\"}", "table")]
    [InlineData("{\"status\":\"healthy\",\"checks\":[]}", "table")]
    [InlineData("{\"status\":\"healthy\",\"checks\":{\"store\":{\"status\":1}}}", "table")]
    public async Task Health_from_a_server_whose_answer_is_json_but_no_health_report_exits_6_naming_it(string body, string format)
    {
        using var stranger = TcpStandIn.Writing($"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nConnection: close\r\n\r\n{body}");

        var health = await fixture.Clectl.RunAsync("--server", stranger.BaseAddress.ToString(), "health", "-o", format);

        Assert.Equal($"clectl: {stranger.BaseAddress}readyz did not answer with a health report.", ClectlAssert.Fails(health, 6));
    }

    [Theory]
    [InlineData("health", "{\"status\":\"healthy\",\"checks\":{\"store\\u001b[2J\":{\"status\":\"healthy\",\"description\":\"ok\\u001b]0;owned\\u0007\\u009b\"}}}", @"store\x1b[2J  healthy  ok\x1b]0;owned\x07\u009b")]
    [InlineData("secret list", "{\"items\":[{\"name\":\"fault/\\u001b[2Jx\",\"type\":\"opaque\\r\",\"revision\":1,\"updatedAt\":\"2025-01-01T00:00:00Z\",\"createdAt\":\"2025-01-01T00:00:00Z\"}]}", @"fault/\x1b[2Jx  opaque\r  1")]
    public async Task A_table_shows_the_control_characters_of_a_servers_answer_escaped(string command, string body, string row)
    {
        using var hostile = TcpStandIn.Writing($"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nConnection: close\r\n\r\n{body}");

        var result = await fixture.Clectl.RunAsync(["--server", hostile.BaseAddress.ToString(), .. command.Split(' ')]);

        ClectlAssert.Ok(result);
        Assert.DoesNotContain(result.Stdout, c => char.IsControl(c) && c != '\n');
        Assert.Contains(row, result.Stdout, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("0")]
    [InlineData("-1")]
    [InlineData("3601")]
    [InlineData("soon")]
    public async Task A_request_timeout_out_of_range_exits_2_naming_the_option_and_what_is_valid(string value)
    {
        var list = await fixture.Clectl.RunAsync("--request-timeout", value, "secret", "list");

        var line = ClectlAssert.Fails(list, 2);
        Assert.Contains("--request-timeout", line, StringComparison.Ordinal);
        Assert.Contains("3600", line, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_request_timeout_in_range_leaves_a_live_server_answering()
    {
        var list = await fixture.Clectl.RunAsync("--request-timeout", "2.5", "secret", "list");

        ClectlAssert.Ok(list);
    }

    /// <summary>A file holding a secret value, so that the command line holds none (and clectl warns of none).</summary>
    private string ValueFile()
    {
        var path = Path.Combine(fixture.NewDirectory(), "value");
        File.WriteAllText(path, "fault-value-4c1e");
        return path;
    }

    /// <summary>What a rate-limiting proxy answers: 429 with <c>Retry-After</c> and a page of its own.</summary>
    private sealed class RateLimited : IResult
    {
        public Task ExecuteAsync(HttpContext httpContext)
        {
            httpContext.Response.StatusCode = StatusCodes.Status429TooManyRequests;
            httpContext.Response.Headers.RetryAfter = "30";
            httpContext.Response.ContentType = "text/html";
            return httpContext.Response.WriteAsync("<h1>429 Too Many Requests</h1>");
        }
    }

    /// <summary>What trousseaud answers when its store cannot be reached: 503 problem details with <c>Retry-After</c>.</summary>
    private sealed class Unavailable(string retryAfter) : IResult
    {
        public Task ExecuteAsync(HttpContext httpContext)
        {
            httpContext.Response.StatusCode = StatusCodes.Status503ServiceUnavailable;
            httpContext.Response.Headers.RetryAfter = retryAfter;
            httpContext.Response.ContentType = "application/problem+json";
            return httpContext.Response.WriteAsync(
                "{\"type\":\"urn:trousseau:problem:unavailable\",\"title\":\"Dependency unavailable\",\"status\":503,\"detail\":\"The store cannot be reached.\"}");
        }
    }

    /// <summary>An answer given only once <paramref name="release"/> completes, as a server that hangs while answering.</summary>
    private sealed class Held(Task release, IResult answer) : IResult
    {
        public async Task ExecuteAsync(HttpContext httpContext)
        {
            await release;
            await answer.ExecuteAsync(httpContext);
        }
    }

    /// <summary>What a server that goes down while answering does: it closes the connection without an answer.</summary>
    private sealed class Aborted : IResult
    {
        public Task ExecuteAsync(HttpContext httpContext)
        {
            httpContext.Abort();
            return Task.CompletedTask;
        }
    }

    private static object Metadata(string name) =>
        new { name, type = "opaque", revision = 1, createdAt = "2025-01-01T00:00:00.000+00:00", updatedAt = "2025-01-01T00:00:00.000+00:00" };
}
