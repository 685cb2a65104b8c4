using System.Globalization;
using System.Net;
using System.Text;
using Trousseau.Tests.Integration.Infrastructure;

namespace Trousseau.Tests.Integration.Server;

/// <summary>
/// trousseaud exports traces and metrics over OTLP/HTTP when OTEL_EXPORTER_OTLP_ENDPOINT is set (or only traces with
/// OTEL_EXPORTER_OTLP_TRACES_ENDPOINT): its own, ASP.NET Core's and HttpClient's, with no secret value and no secret
/// name (request spans carry the route, not the path).
/// </summary>
public sealed class OtlpExportTests : IDisposable
{
    private readonly TempDirectory _temp = new();

    public void Dispose() => _temp.Dispose();

    [Fact]
    public async Task Traces_and_metrics_reach_the_collector_without_secret_values()
    {
        const string Value = "otlp-canary-77ab2e";
        await using var collector = await OtlpCollector.StartAsync();
        var endpoint = collector.Endpoint;

        var dataDir = _temp.Combine("data");
        var socket = _temp.Combine("run", "kms.sock");
        await using var server = await TrousseauServerProcess.StartAsync(dataDir, ["--kms-socket", socket], environment: new Dictionary<string, string?>
        {
            ["OTEL_EXPORTER_OTLP_ENDPOINT"] = endpoint,
            ["OTEL_EXPORTER_OTLP_PROTOCOL"] = "http/protobuf",
            ["OTEL_METRIC_EXPORT_INTERVAL"] = "500",
            ["OTEL_BSP_SCHEDULE_DELAY"] = "200",
        });
        var clectl = ClectlRunner.For(server, dataDir, _temp.Path);
        Assert.Equal(0, (await clectl.RunAsync("secret", "create", "otlp/db", "--from-literal", $"password={Value}")).ExitCode);
        Assert.Equal(0, (await clectl.RunAsync("secret", "get", "otlp/db")).ExitCode);
        await using (var peer = KmsPeer.Start(socket))
        {
            var dek = Convert.ToBase64String(Encoding.ASCII.GetBytes(Value.PadRight(32, '-')));
            Assert.Equal("OK", (await peer.CallAsync("/v2.KeyManagementService/Encrypt", new { plaintext = dek, uid = "uid-1" })).GetProperty("code").GetString());
        }

        Assert.Equal(0, await server.StopAsync());
        Assert.DoesNotContain("did not finish within 2 s of the stop", server.Log, StringComparison.Ordinal);

        var received = collector.Received;
        var paths = received.Select(r => r.Path).ToHashSet();
        Assert.Contains("/v1/traces", paths);
        Assert.Contains("/v1/metrics", paths);
        var everything = string.Concat(received.Select(r => Encoding.Latin1.GetString(r.Body)));
        Assert.Contains("trousseau.secret.create", everything, StringComparison.Ordinal);
        Assert.Contains("trousseau.store.create", everything, StringComparison.Ordinal);
        Assert.Contains("trousseau.keyprovider.wrap", everything, StringComparison.Ordinal);
        Assert.Contains("trousseau.kms.request", everything, StringComparison.Ordinal);
        Assert.Contains("v2.KeyManagementService/Encrypt", everything, StringComparison.Ordinal);
        Assert.Contains("trousseau.operation.duration", everything, StringComparison.Ordinal);
        Assert.Contains("/v1/secrets/{**name}", everything, StringComparison.Ordinal);
        Assert.Contains("http.server.request.duration", everything, StringComparison.Ordinal);
        Assert.DoesNotContain(Value, everything, StringComparison.Ordinal);
        Assert.DoesNotContain("otlp/db", everything, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_traces_endpoint_alone_exports_traces_and_no_metrics()
    {
        await using var collector = await OtlpCollector.StartAsync();
        var dataDir = _temp.Combine("data");
        await using var server = await TrousseauServerProcess.StartAsync(dataDir, [], environment: new Dictionary<string, string?>
        {
            ["OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"] = collector.Endpoint + "/v1/traces",
            ["OTEL_EXPORTER_OTLP_PROTOCOL"] = "http/protobuf",
            ["OTEL_METRIC_EXPORT_INTERVAL"] = "200",
            ["OTEL_BSP_SCHEDULE_DELAY"] = "200",
        });
        var clectl = ClectlRunner.For(server, dataDir, _temp.Path);
        Assert.Equal(0, (await clectl.RunAsync("secret", "create", "otlp/traces", "--from-literal", "k=v")).ExitCode);
        Assert.Equal(0, await server.StopAsync());

        var paths = collector.Received.Select(r => r.Path).ToList();
        Assert.Contains("/v1/traces", paths);
        Assert.DoesNotContain("/v1/metrics", paths);
        Assert.Contains("trousseau.secret.create", string.Concat(collector.Received.Select(r => Encoding.Latin1.GetString(r.Body))), StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_kms_call_is_traced_as_the_kms_span_under_asp_net_cores_span_for_the_request_on_the_socket()
    {
        await using var collector = await OtlpCollector.StartAsync();
        var dataDir = _temp.Combine("data");
        var socket = _temp.Combine("run", "kms.sock");
        await using var server = await TrousseauServerProcess.StartAsync(dataDir, ["--kms-socket", socket], environment: new Dictionary<string, string?>
        {
            ["OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"] = collector.Endpoint + "/v1/traces",
            ["OTEL_EXPORTER_OTLP_PROTOCOL"] = "http/protobuf",
            ["OTEL_BSP_SCHEDULE_DELAY"] = "200",
        });
        await using (var peer = KmsPeer.Start(socket))
        {
            var dek = Convert.ToBase64String(new byte[32]);
            Assert.Equal("OK", (await peer.CallAsync("/v2.KeyManagementService/Encrypt", new { plaintext = dek, uid = "uid-1" })).GetProperty("code").GetString());
        }

        Assert.Equal(0, await server.StopAsync());

        var kms = Assert.Single(collector.Spans, s => s.Name == "trousseau.kms.request");
        var request = Assert.Single(collector.Spans, s => s.SpanId == kms.ParentSpanId);
        Assert.Equal(
            ("POST /v2.KeyManagementService/Encrypt", OtlpSpan.ServerKind, kms.TraceId, ""),
            (request.Name, request.Kind, request.TraceId, request.ParentSpanId));
        Assert.Equal(
            ("/v2.KeyManagementService/Encrypt", "/v2.KeyManagementService/Encrypt"),
            (request.Attributes.GetValueOrDefault("grpc.method"), request.Attributes.GetValueOrDefault("http.route")));
        Assert.Equal(("v2.KeyManagementService", "Encrypt"), (kms.Attributes.GetValueOrDefault("rpc.service"), kms.Attributes.GetValueOrDefault("rpc.method")));
    }

    [Theory]
    [InlineData("OTEL_EXPORTER_OTLP_ENDPOINT", "collector:4318")]
    [InlineData("OTEL_EXPORTER_OTLP_ENDPOINT", "grpc://collector:4317")]
    [InlineData("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "collector:4318/v1/traces")]
    [InlineData("OTEL_EXPORTER_OTLP_METRICS_ENDPOINT", "/v1/metrics")]
    public async Task An_otlp_endpoint_that_is_not_an_http_url_stops_the_start_with_one_line_naming_it(string variable, string value)
    {
        var dataDir = _temp.Combine("data");

        var result = await TrousseauServerProcess.RunToExitAsync(dataDir, environment: new Dictionary<string, string?> { [variable] = value });

        Assert.Equal(2, result.ExitCode);
        var line = Assert.Single(result.Stderr.Split('\n', StringSplitOptions.RemoveEmptyEntries));
        Assert.Contains($"{variable} is '{value}'; it must be an http:// or https:// URL", line, StringComparison.Ordinal);
        Assert.False(File.Exists(Path.Combine(dataDir, "api.token")));
    }

    /// <summary>
    /// An OTLP endpoint with a user name and password in it: the exporter would never send them (every export refused
    /// by a collector that wants them, unsaid), and a refused start used to print the URL, password and all.
    /// </summary>
    [Theory]
    [InlineData("OTEL_EXPORTER_OTLP_ENDPOINT", "http://otel:{0}@collector:4318", "OTEL_EXPORTER_OTLP_ENDPOINT has a user name or password, which the exporter never sends; give the collector's credentials in OTEL_EXPORTER_OTLP_HEADERS")]
    [InlineData("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "grpcs://otel:{0}@collector:4317", "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT (not shown, as it may hold a password) must be an http:// or https:// URL")]
    public async Task An_otlp_endpoint_with_a_password_in_it_stops_the_start_with_one_line_that_does_not_show_it(string variable, string value, string expected)
    {
        var dataDir = _temp.Combine("data");
        var password = $"otlp-password-{Guid.NewGuid():N}";

        var result = await TrousseauServerProcess.RunToExitAsync(dataDir, environment: new Dictionary<string, string?>
        {
            [variable] = string.Format(CultureInfo.InvariantCulture, value, password),
        });

        Assert.Equal(2, result.ExitCode);
        var line = Assert.Single(result.Stderr.Split('\n', StringSplitOptions.RemoveEmptyEntries));
        Assert.Contains(expected, line, StringComparison.Ordinal);
        Assert.DoesNotContain(password, result.Stdout + result.Stderr, StringComparison.Ordinal);
        Assert.False(File.Exists(Path.Combine(dataDir, "api.token")));
    }

    /// <summary>
    /// An operator who writes a header as HTTP shows it (<c>Authorization: Bearer TOKEN</c>), names one twice (or names
    /// the exporter's own <c>User-Agent</c>), or gives one a name HTTP does not allow: the start stops with one line
    /// naming the variable and the entry, never its value, where trousseaud used to abort with the exporter's stack
    /// trace, or start and drop every export unsaid.
    /// </summary>
    [Theory]
    [InlineData("Authorization: Bearer {0}", "its entry 1 has no '='")]
    [InlineData("x-tenant=blue,Authorization=Bearer {0},x-tenant=green", "its entry 3 names a header entry 1 names already")]
    [InlineData("x-tenant=blue,Authorization Bearer={0}", "the name of its entry 2 is not an HTTP request header name")]
    [InlineData("Authorization=Bearer {0},User-Agent=probe", "its entry 2 names User-Agent, which the exporter sends itself")]
    public async Task Otlp_headers_that_are_not_a_list_of_name_value_pairs_stop_the_start_with_one_line_that_shows_no_value(string headers, string why)
    {
        var dataDir = _temp.Combine("data");
        var token = $"otlp-bearer-{Guid.NewGuid():N}";

        var result = await TrousseauServerProcess.RunToExitAsync(dataDir, environment: new Dictionary<string, string?>
        {
            ["OTEL_EXPORTER_OTLP_ENDPOINT"] = "http://127.0.0.1:9",
            ["OTEL_EXPORTER_OTLP_HEADERS"] = string.Format(CultureInfo.InvariantCulture, headers, token),
        });

        Assert.Equal(2, result.ExitCode);
        var line = Assert.Single(result.Stderr.Split('\n', StringSplitOptions.RemoveEmptyEntries));
        Assert.Contains($"trousseaud: invalid configuration: OTEL_EXPORTER_OTLP_HEADERS is not a list of name=value pairs separated by commas: {why}", line, StringComparison.Ordinal);
        Assert.DoesNotContain(token, result.Stdout + result.Stderr, StringComparison.Ordinal);
        Assert.False(File.Exists(Path.Combine(dataDir, "api.token")));
    }

    [Fact]
    public async Task A_request_that_matches_no_route_is_traced_without_its_path()
    {
        const string Name = "otlp-unrouted-canary";
        await using var collector = await OtlpCollector.StartAsync();
        var dataDir = _temp.Combine("data");
        await using var server = await TrousseauServerProcess.StartAsync(dataDir, [], environment: TracesTo(collector));
        var requests = new[]
        {
            (Method: HttpMethod.Options, Path: $"v1/secrets/{Name}/options", Status: HttpStatusCode.MethodNotAllowed),
            (Method: new HttpMethod("PROPFIND"), Path: $"v1/secrets/{Name}/propfind", Status: HttpStatusCode.MethodNotAllowed),
            (Method: HttpMethod.Get, Path: $"v1/secret/{Name}/misspelt", Status: HttpStatusCode.NotFound),
        };
        foreach (var (method, path, status) in requests)
        {
            using var request = new HttpRequestMessage(method, new Uri(server.BaseAddress, path));
            using var response = await server.Http.SendAsync(request);
            Assert.Equal(status, response.StatusCode);
        }

        Assert.Equal(0, await server.StopAsync());

        var traces = string.Concat(collector.Received.Where(r => r.Path == "/v1/traces").Select(r => Encoding.Latin1.GetString(r.Body)));
        Assert.Contains("OPTIONS", traces, StringComparison.Ordinal);
        Assert.Contains("PROPFIND", traces, StringComparison.Ordinal);
        Assert.DoesNotContain(Name, traces, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_request_the_exception_handler_answers_is_traced_with_its_route_and_without_the_secret_name()
    {
        const string Name = "otlp-failed-canary";
        await using var collector = await OtlpCollector.StartAsync();
        var dataDir = _temp.Combine("data");
        var environment = TracesTo(collector);
        environment[StartupHook.ModeVariable] = StartupHook.FailingAnswerMode;
        await using var server = await TrousseauServerProcess.StartHostAsync(
            RepositoryPaths.ServerDll, _temp.Path, ["--data-dir", dataDir], "healthz", environment, prepare: info => StartupHook.Enable(info, _temp.Path));
        using var http = await BearerClient.FromTokenFileAsync(server.BaseAddress, Path.Combine(dataDir, "api.token"));
        using var request = new HttpRequestMessage(HttpMethod.Get, new Uri($"v1/secrets/{Name}", UriKind.Relative));
        request.Headers.Add(StartupHook.FailingAnswerHeader, "1");

        using var response = await http.SendAsync(request);
        Assert.Equal(HttpStatusCode.InternalServerError, response.StatusCode);
        Assert.Equal(0, await server.StopAsync());

        var span = Assert.Single(collector.Spans, s => s.Kind == OtlpSpan.ServerKind && s.Attributes.GetValueOrDefault("http.response.status_code") is 500L);
        Assert.Equal("/v1/secrets/{**name}", span.Attributes["url.path"]);
        Assert.DoesNotContain(Name, collector.Traces, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_request_span_names_the_address_that_took_the_call_not_the_host_header_the_client_made_up()
    {
        const string MadeUp = "otlp-host-canary.example";
        await using var collector = await OtlpCollector.StartAsync();
        var dataDir = _temp.Combine("data");
        await using var server = await TrousseauServerProcess.StartAsync(dataDir, [], environment: TracesTo(collector));
        using var http = await BearerClient.FromTokenFileAsync(server.BaseAddress, Path.Combine(dataDir, "api.token"));
        var requests = new[] { (Path: "healthz", Status: HttpStatusCode.OK), (Path: "v1/secrets", Status: HttpStatusCode.MisdirectedRequest) };
        foreach (var (path, status) in requests)
        {
            using var request = new HttpRequestMessage(HttpMethod.Get, new Uri(path, UriKind.Relative));
            request.Headers.Host = $"{MadeUp}:4444";
            using var response = await http.SendAsync(request);
            Assert.Equal(status, response.StatusCode);
        }

        Assert.Equal(0, await server.StopAsync());

        // The start's own calls to /healthz are among them.
        var spans = collector.Spans.Where(s => s.Kind == OtlpSpan.ServerKind).ToList();
        Assert.Contains(spans, s => s.Attributes.GetValueOrDefault("http.response.status_code") is 421L);
        Assert.All(spans, span =>
        {
            Assert.Equal("127.0.0.1", span.Attributes["server.address"]);
            Assert.Equal((long)server.BaseAddress.Port, span.Attributes["server.port"]);
        });
        Assert.DoesNotContain(MadeUp, collector.Traces, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_collector_that_takes_the_exports_and_never_answers_holds_up_neither_the_calls_nor_the_stop()
    {
        using var collector = TcpStandIn.Silent();
        var dataDir = _temp.Combine("data");
        await using var server = await TrousseauServerProcess.StartAsync(dataDir, [], environment: new Dictionary<string, string?>
        {
            ["OTEL_EXPORTER_OTLP_ENDPOINT"] = collector.BaseAddress.ToString().TrimEnd('/'),
            ["OTEL_EXPORTER_OTLP_PROTOCOL"] = "http/protobuf",

            // Each export waits ten minutes for the collector's answer: a stop that waited for the exports under way
            // would outlast the test's wait for the process to exit.
            ["OTEL_EXPORTER_OTLP_TIMEOUT"] = "600000",
            ["OTEL_METRIC_EXPORT_INTERVAL"] = "200",
            ["OTEL_BSP_SCHEDULE_DELAY"] = "200",
        });
        var clectl = ClectlRunner.For(server, dataDir, _temp.Path);

        Assert.Equal(0, (await clectl.RunAsync("secret", "create", "otlp/silent", "--from-literal", "k=v")).ExitCode);
        await Eventually.HoldsAsync(() => collector.Connections >= 2, () => $"{collector.Connections} connections");
        Assert.Equal(0, (await clectl.RunAsync("secret", "get", "otlp/silent")).ExitCode);

        Assert.Equal(0, await server.StopAsync());
    }

    [Fact]
    public async Task A_stop_gives_the_exports_to_a_collector_that_never_answers_two_seconds_and_says_what_it_dropped()
    {
        using var collector = TcpStandIn.Silent();
        var dataDir = _temp.Combine("data");
        await using var server = await TrousseauServerProcess.StartAsync(dataDir, [], environment: new Dictionary<string, string?>
        {
            ["OTEL_EXPORTER_OTLP_ENDPOINT"] = collector.BaseAddress.ToString().TrimEnd('/'),
            ["OTEL_EXPORTER_OTLP_PROTOCOL"] = "http/protobuf",
            ["OTEL_METRIC_EXPORT_INTERVAL"] = "200",
            ["OTEL_BSP_SCHEDULE_DELAY"] = "200",
        });
        var clectl = ClectlRunner.For(server, dataDir, _temp.Path);
        Assert.Equal(0, (await clectl.RunAsync("secret", "create", "otlp/stop", "--from-literal", "k=v")).ExitCode);
        await Eventually.HoldsAsync(() => collector.Connections >= 2, () => $"{collector.Connections} connections");

        Assert.Equal(0, await server.StopAsync());

        // The metrics' last export, made at the stop, waits for the collector's answer: metrics at least are named.
        var dropped = server.Log.Split('\n').SingleOrDefault(l => l.Contains("did not finish within 2 s of the stop", StringComparison.Ordinal));
        Assert.True(dropped is not null, server.Log);
        Assert.Matches(@"The OpenTelemetry export of (traces and )?metrics to the OTLP endpoint did not finish within 2 s of the stop; what it still held is dropped", dropped);
    }

    [Fact]
    public async Task A_refused_start_gives_the_exports_to_a_collector_that_never_answers_the_same_two_seconds_and_says_what_it_dropped()
    {
        using var collector = TcpStandIn.Silent();
        var dataDir = _temp.Combine("data");
        var tokenFile = Path.Combine(dataDir, "api.token");
        Directory.CreateDirectory(dataDir);
        await File.WriteAllTextAsync(tokenFile, "a-token-others-may-read\n");
        File.SetUnixFileMode(tokenFile, (UnixFileMode)Convert.ToInt32("0644", 8));

        var result = await TrousseauServerProcess.RunToExitAsync(dataDir, [], new Dictionary<string, string?>
        {
            ["OTEL_EXPORTER_OTLP_ENDPOINT"] = collector.BaseAddress.ToString().TrimEnd('/'),
            ["OTEL_EXPORTER_OTLP_PROTOCOL"] = "http/protobuf",
        });

        Assert.Equal(1, result.ExitCode);
        Assert.Contains($"trousseaud: cannot start: The API token file {tokenFile} has mode 0644", result.Stderr, StringComparison.Ordinal);
        var output = result.Stdout + result.Stderr;
        var dropped = output.Split('\n').SingleOrDefault(l => l.Contains("did not finish within 2 s of the stop", StringComparison.Ordinal));
        Assert.True(dropped is not null, output);
        Assert.Matches(@"The OpenTelemetry export of (traces and )?metrics to the OTLP endpoint did not finish within 2 s of the stop; what it still held is dropped", dropped);
    }

    /// <summary>The environment that sends trousseaud's spans to <paramref name="collector"/> over OTLP/HTTP, exported every 200 ms.</summary>
    private static Dictionary<string, string?> TracesTo(OtlpCollector collector) => new()
    {
        ["OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"] = collector.Endpoint + "/v1/traces",
        ["OTEL_EXPORTER_OTLP_PROTOCOL"] = "http/protobuf",
        ["OTEL_BSP_SCHEDULE_DELAY"] = "200",
    };
}
