using System.Buffers.Binary;
using System.Net;
using System.Net.Http.Headers;
using System.Net.Sockets;
using System.Text.Json;
using Google.Protobuf;
using Grpc.Core;
using Grpc.Health.V1;
using Grpc.Net.Client;
using Trousseau.Kms.V2;
using Trousseau.Tests.Integration.Infrastructure;

namespace Trousseau.Tests.Integration.Kms;

/// <summary>
/// One trousseaud serving its KMS socket in its data directory, with a Grpc.Net.Client channel on that socket and a
/// plain HTTP/2 client for the requests no gRPC client would send.
/// </summary>
public sealed class KmsSocketFixture : IAsyncLifetime, IDisposable
{
    private readonly TempDirectory _temp = new();
    private TrousseauServerProcess _server = null!;

    internal string Directory => _temp.Path;

    internal string Socket => _temp.Combine("data", "kms.sock");

    internal TrousseauServerProcess Server => _server;

    internal HttpClient Http { get; private set; } = null!;

    internal GrpcChannel Channel { get; private set; } = null!;

    internal KmsV2Client Kms { get; private set; } = null!;

    public async Task InitializeAsync()
    {
        _server = await TrousseauServerProcess.StartAsync(_temp.Combine("data"));
        Http = KmsSocketTests.ClientFor(Socket);
        Channel = KmsSocketTests.ChannelFor(Socket);
        Kms = new KmsV2Client(Channel.CreateCallInvoker());
    }

    public async Task DisposeAsync()
    {
        Channel.Dispose();
        Http.Dispose();
        await _server.DisposeAsync();
    }

    public void Dispose() => _temp.Dispose();
}

/// <summary>
/// clectl kms against trousseaud's socket, what the socket does with requests that are not proper gRPC, and how the
/// socket comes to be: owner-only from its first instant, in a directory nobody else may write.
/// </summary>
public sealed class KmsSocketTests(KmsSocketFixture fixture) : IClassFixture<KmsSocketFixture>
{
    private const UnixFileMode OwnerReadWrite = UnixFileMode.UserRead | UnixFileMode.UserWrite;
    private const UnixFileMode ReadableByAll = UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute
        | UnixFileMode.GroupRead | UnixFileMode.GroupExecute | UnixFileMode.OtherRead | UnixFileMode.OtherExecute;
    private static readonly TimeSpan StartTimeout = TimeSpan.FromSeconds(60);

    private static readonly byte[] Dek = Enumerable.Range(7, 32).Select(i => (byte)i).ToArray();

    private string Socket => fixture.Socket;

    private HttpClient Http => fixture.Http;

    private KmsV2Client Kms => fixture.Kms;

    /// <summary>An HTTP/2 client whose every connection goes to the Unix socket <paramref name="socket"/>, for raw frames.</summary>
    internal static HttpClient ClientFor(string socket) => new(UnixSocketHandler(socket)) { BaseAddress = new Uri("http://localhost") };

    /// <summary>
    /// A Grpc.Net.Client channel whose every connection goes to the Unix socket <paramref name="socket"/>, through
    /// <paramref name="around"/> when given.
    /// </summary>
    internal static GrpcChannel ChannelFor(string socket, DelegatingHandler? around = null)
    {
        HttpMessageHandler handler = UnixSocketHandler(socket);
        if (around is not null)
        {
            around.InnerHandler = handler;
            handler = around;
        }

        return GrpcChannel.ForAddress("http://localhost", new GrpcChannelOptions { HttpHandler = handler, DisposeHttpClient = true });
    }

    private static SocketsHttpHandler UnixSocketHandler(string socket) => new()
    {
        ConnectCallback = async (_, ct) =>
        {
            var connection = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
            await connection.ConnectAsync(new UnixDomainSocketEndPoint(socket), ct);
            return new NetworkStream(connection, ownsSocket: true);
        },
    };

    [Fact]
    public async Task An_appsettings_json_in_the_working_directory_does_not_open_the_plugin_on_a_tcp_port()
    {
        // An ASP.NET Core project's own settings, where a developer might start trousseaud: its Kestrel endpoint must
        // not serve kube-apiserver's Encrypt and Decrypt to the network beside the owner-only socket.
        using var temp = new TempDirectory();
        var port = FreePort.Next();
        await File.WriteAllTextAsync(temp.Combine("appsettings.json"), $$$"""{"Kestrel":{"Endpoints":{"App":{"Url":"http://127.0.0.1:{{{port}}}","Protocols":"Http2"} } } }""");
        await using var server = await TrousseauServerProcess.StartAsync(temp.Combine("data"), ["--Trousseau:Store=memory"]);

        var status = await new ClectlRunner(temp.Path, new Dictionary<string, string?>()).RunAsync("kms", "status", "--socket", temp.Combine("data", "kms.sock"));
        Assert.True(status.ExitCode == 0, status.Stderr);
        using var tcp = new TcpClient();
        var refused = await Assert.ThrowsAsync<SocketException>(() => tcp.ConnectAsync(IPAddress.Loopback, port));
        Assert.Equal(SocketError.ConnectionRefused, refused.SocketErrorCode);
    }

    [Fact]
    public async Task Clectl_kms_reports_status_and_round_trips_binary_bytes()
    {
        var clectl = new ClectlRunner(fixture.Directory, new Dictionary<string, string?>());
        var status = await clectl.RunAsync("kms", "status", "--socket", Socket, "-o", "json");
        Assert.True(status.ExitCode == 0, status.Stderr);
        using var statusJson = JsonDocument.Parse(status.Stdout);
        Assert.Equal("ok", statusJson.RootElement.GetProperty("healthz").GetString());

        // Every byte value a DEK may hold, NUL, newline and bytes that are not UTF-8 among them.
        var dek = Enumerable.Range(0, 256).Select(i => (byte)(255 - i)).ToArray();
        await File.WriteAllBytesAsync(Path.Combine(fixture.Directory, "dek.bin"), dek);
        var piped = await clectl.ShellAsync("bash", $"set -o pipefail; clectl kms encrypt --socket '{Socket}' < dek.bin | tee encrypted.txt | clectl kms decrypt --socket '{Socket}' > decrypted.bin");
        Assert.True(piped.ExitCode == 0, piped.Stderr);
        var (keyId, ciphertext) = (File.ReadAllText(Path.Combine(fixture.Directory, "encrypted.txt")).Trim().Split(' ') is [var id, var text] ? (id, text) : throw new InvalidOperationException("kms encrypt printed no KEY-ID CIPHERTEXT line."));

        var decrypted = await clectl.RunWithInputAsync(ciphertext, "kms", "decrypt", "--socket", Socket, "--key-id", keyId);
        var wrongKey = await clectl.RunWithInputAsync(ciphertext, "kms", "decrypt", "--socket", Socket, "--key-id", "not-issued");
        var noSocket = await clectl.RunAsync("kms", "status", "--socket", Path.Combine(fixture.Directory, "absent.sock"));

        Assert.Equal(dek, await File.ReadAllBytesAsync(Path.Combine(fixture.Directory, "decrypted.bin")));
        Assert.True(decrypted.ExitCode == 0, decrypted.Stderr);
        Assert.Equal(statusJson.RootElement.GetProperty("keyId").GetString(), keyId);
        Assert.Equal(2, wrongKey.ExitCode);
        Assert.Contains("InvalidArgument", wrongKey.Stderr, StringComparison.Ordinal);
        Assert.Equal(6, noSocket.ExitCode);
        Assert.Contains("no such socket", noSocket.Stderr, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_message_compressed_with_an_algorithm_the_plugin_lacks_is_unimplemented_gzip_is_served_and_a_compressed_flag_without_an_encoding_is_internal()
    {
        // Grpc.Net.Client compresses every request message with the algorithm this header names.
        var gzip = new CallOptions(new Metadata { { "grpc-internal-encoding-request", "gzip" } });

        var encrypted = await Kms.EncryptAsync(new EncryptRequest { Plaintext = ByteString.CopyFrom(Dek) }, gzip);
        var decrypted = await Kms.DecryptAsync(new DecryptRequest { Ciphertext = encrypted.Ciphertext, KeyId = encrypted.KeyId }, gzip);

        Assert.Equal(Dek, decrypted.Plaintext.ToByteArray());
        Assert.Equal("12", (await CallAsync(Http, "/v2.KeyManagementService/Status", RawHttp2Connection.GrpcMessage([0x01], compressed: true), encoding: "x-lzma")).Status);
        Assert.Equal("13", (await CallAsync(Http, "/v2.KeyManagementService/Status", RawHttp2Connection.GrpcMessage([], compressed: true))).Status);
    }

    [Fact]
    public async Task A_truncated_or_missing_message_is_internal_one_that_is_not_protobuf_is_refused_and_the_plugin_keeps_serving()
    {
        var truncated = RawHttp2Connection.GrpcMessage(new byte[10])[..8];
        var notProtobuf = RawHttp2Connection.GrpcMessage([0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF]);

        Assert.Equal("13", (await CallAsync(Http, "/v2.KeyManagementService/Encrypt", truncated)).Status);
        Assert.Equal("13", (await CallAsync(Http, "/v2.KeyManagementService/Encrypt", [])).Status);

        // grpc-dotnet answers UNKNOWN for a request message it cannot parse.
        Assert.Equal("2", (await CallAsync(Http, "/v2.KeyManagementService/Encrypt", notProtobuf)).Status);
        Assert.Equal("ok", (await Kms.StatusAsync()).Healthz);
    }

    [Fact]
    public async Task A_message_over_the_size_limit_is_resource_exhausted()
    {
        var header = new byte[5];
        BinaryPrimitives.WriteUInt32BigEndian(header.AsSpan(1), 512 * 1024 * 1024);

        Assert.Equal("8", (await CallAsync(Http, "/v2.KeyManagementService/Encrypt", header)).Status);
    }

    [Fact]
    public async Task A_malformed_deadline_is_ignored_and_the_largest_one_the_header_can_carry_is_honoured()
    {
        // 99999999H is over 11,000 years; a timer of that length cannot be armed at once, and must not fail the call.
        Assert.Equal("0", (await CallAsync(Http, "/v2.KeyManagementService/Status", RawHttp2Connection.GrpcMessage([]), timeout: "soon")).Status);
        Assert.Equal("0", (await CallAsync(Http, "/v2.KeyManagementService/Status", RawHttp2Connection.GrpcMessage([]), timeout: "99999999H")).Status);

        // Grpc.Net.Client sends a deadline decades away as its own largest timeout, 99999999S (over three years).
        var decadesAway = await Kms.EncryptAsync(new EncryptRequest { Plaintext = ByteString.CopyFrom(Dek) }, new CallOptions(deadline: DateTime.UtcNow.AddYears(30)));
        var inTwoSeconds = await Kms.StatusAsync(new CallOptions(deadline: DateTime.UtcNow.AddSeconds(2)));

        Assert.Equal(inTwoSeconds.KeyId, decadesAway.KeyId);
        Assert.Equal("ok", inTwoSeconds.Healthz);
    }

    [Fact]
    public async Task Requests_that_are_not_grpc_get_plain_http_errors_and_the_plugin_keeps_serving()
    {
        using var wrongType = new HttpRequestMessage(HttpMethod.Post, "/v2.KeyManagementService/Status") { Version = HttpVersion.Version20, VersionPolicy = HttpVersionPolicy.RequestVersionExact, Content = new ByteArrayContent(RawHttp2Connection.GrpcMessage([])) };
        wrongType.Content.Headers.ContentType = new MediaTypeHeaderValue("application/json");
        using var get = new HttpRequestMessage(HttpMethod.Get, "/v1/secrets") { Version = HttpVersion.Version20, VersionPolicy = HttpVersionPolicy.RequestVersionExact };

        using var wrongTypeResponse = await Http.SendAsync(wrongType);
        using var getResponse = await Http.SendAsync(get);

        Assert.Equal(HttpStatusCode.UnsupportedMediaType, wrongTypeResponse.StatusCode);
        Assert.Equal(HttpStatusCode.NotFound, getResponse.StatusCode);
        Assert.Equal("ok", (await Kms.StatusAsync()).Healthz);
    }

    [Fact]
    public async Task The_standard_grpc_health_service_on_the_socket_reports_serving()
    {
        using var channel = ChannelFor(Socket);
        var health = new Health.HealthClient(channel);

        var overall = await health.CheckAsync(new HealthCheckRequest(), deadline: DateTime.UtcNow.AddSeconds(10));
        var unknown = await Assert.ThrowsAsync<RpcException>(() => health.CheckAsync(new HealthCheckRequest { Service = "no.such.Service" }).ResponseAsync);

        Assert.Equal(HealthCheckResponse.Types.ServingStatus.Serving, overall.Status);
        Assert.Equal(StatusCode.NotFound, unknown.StatusCode);
    }

    [Fact]
    public async Task Under_a_permissive_umask_the_socket_is_owner_only_from_the_instant_it_appears_in_a_shared_directory()
    {
        using var temp = new TempDirectory();
        var directory = temp.Combine("run");
        Directory.CreateDirectory(directory);
        File.SetUnixFileMode(directory, ReadableByAll);
        var socket = Path.Combine(directory, "kms.sock");
        var firstSight = ModeAtFirstSight(socket);

        // With umask 000 a socket bound in place is born srwxrwxrwx: connectable by anyone until it is chmod'ed.
        await using var server = ShellScript.Start(
            $"umask 000\nexec {DotnetProcess.ShellCommand(RepositoryPaths.Server)} --urls http://127.0.0.1:{FreePort.Next()} --data-dir '{temp.Combine("data")}' --kms-socket '{socket}'\n",
            temp.Path,
            temp.Path,
            new Dictionary<string, string?>());
        var mode = await firstSight;
        Assert.True(mode is not null, $"{socket} did not appear within {StartTimeout.TotalSeconds} s:\n{server.Stdout}\n{server.Stderr}");
        using var channel = ChannelFor(socket);

        Assert.Equal(OwnerReadWrite, mode);
        Assert.Equal("ok", (await new KmsV2Client(channel.CreateCallInvoker()).StatusAsync()).Healthz);
        Assert.Equal(ReadableByAll, File.GetUnixFileMode(directory));
        Assert.Equal(["kms.sock"], Directory.GetFileSystemEntries(directory).Select(Path.GetFileName));
    }

    [Theory]
    [InlineData("0770")]
    [InlineData("0757")]
    [InlineData("1777")]
    public async Task A_socket_directory_that_group_or_others_may_write_is_refused_naming_it_and_its_mode(string octal)
    {
        using var temp = new TempDirectory();
        var directory = temp.Combine("run");
        Directory.CreateDirectory(directory);
        var mode = (UnixFileMode)Convert.ToInt32(octal, 8);
        File.SetUnixFileMode(directory, mode);

        var result = await TrousseauServerProcess.RunToExitAsync(temp.Combine("data"), ["--kms-socket", Path.Combine(directory, "kms.sock")]);

        Assert.Equal(1, result.ExitCode);
        Assert.Equal(
            $"trousseaud: cannot start: The KMS socket directory {directory} is writable by group or others (mode {octal}), who could replace the socket; remove that access (chmod go-w {directory}) or put the socket in another directory.",
            result.Stderr.Trim());
        Assert.Equal(mode, File.GetUnixFileMode(directory));
        Assert.Empty(Directory.GetFileSystemEntries(directory));
    }

    [Fact]
    public async Task A_live_socket_whose_backlog_is_full_is_not_taken_over_and_the_start_says_it_is_in_use()
    {
        using var temp = new TempDirectory();
        var socket = temp.Combine("run", "kms.sock");
        Directory.CreateDirectory(Path.GetDirectoryName(socket)!);
        var endPoint = new UnixDomainSocketEndPoint(socket);
        using var live = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        live.Bind(endPoint);
        live.Listen(1);

        // A plugin that accepts no connection for now: connections wait in its backlog until it is full.
        var waiting = new List<Socket>();
        try
        {
            while (waiting.Count < 100)
            {
                var client = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified) { Blocking = false };
                try
                {
                    client.Connect(endPoint);
                    waiting.Add(client);
                }
                catch (SocketException e) when (e.SocketErrorCode == SocketError.WouldBlock)
                {
                    client.Dispose();
                    break;
                }
            }

            var result = await TrousseauServerProcess.RunToExitAsync(temp.Combine("data"), ["--kms-socket", socket]);

            Assert.Equal(1, result.ExitCode);
            Assert.Equal(
                $"trousseaud: cannot start: The KMS socket {socket} is in use by another process, which accepts no connection for now (its backlog of connections waiting to be accepted is full).",
                result.Stderr.Trim());
            using var accepted = live.Accept();
            Assert.True(File.Exists(socket), $"{socket}, a live plugin's socket, was removed");
        }
        finally
        {
            waiting.ForEach(c => c.Dispose());
        }
    }

    [Fact]
    public async Task A_plugin_stopping_after_another_took_over_its_removed_socket_path_leaves_the_new_socket_in_place()
    {
        using var temp = new TempDirectory();
        var socket = temp.Combine("run", "kms.sock");
        await using var first = await TrousseauServerProcess.StartAsync(temp.Combine("first"), ["--kms-socket", socket]);
        await Eventually.HoldsAsync(() => File.Exists(socket));

        // Someone removed the first plugin's socket file while it ran; a second plugin then started on the path.
        File.Delete(socket);
        await using var second = await TrousseauServerProcess.StartAsync(temp.Combine("second"), ["--kms-socket", socket]);
        await Eventually.HoldsAsync(() => File.Exists(socket));

        Assert.Equal(0, await first.StopAsync());

        Assert.True(File.Exists(socket), $"the first plugin removed {socket}, the second plugin's socket, as it stopped");
        using var channel = ChannelFor(socket);
        Assert.Equal("ok", (await new KmsV2Client(channel.CreateCallInvoker()).StatusAsync()).Healthz);
        Assert.Equal(0, await second.StopAsync());
        Assert.False(File.Exists(socket), $"the second plugin left {socket} behind as it stopped");
    }

    [Fact]
    public async Task A_socket_path_that_is_a_symbolic_link_is_not_followed_and_no_socket_appears_where_it_points()
    {
        using var temp = new TempDirectory();
        var directory = temp.Combine("run");
        var elsewhere = temp.Combine("elsewhere");
        Directory.CreateDirectory(directory, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
        Directory.CreateDirectory(elsewhere, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
        var socket = Path.Combine(directory, "kms.sock");
        var target = Path.Combine(elsewhere, "kms.sock");
        File.CreateSymbolicLink(socket, target);

        var result = await TrousseauServerProcess.RunToExitAsync(temp.Combine("data"), ["--kms-socket", socket]);

        Assert.Equal(1, result.ExitCode);
        Assert.Equal(
            $"trousseaud: cannot start: The KMS socket path {socket} is a symbolic link (to {target}), not a socket; refusing to follow or replace it.",
            result.Stderr.Trim());
        Assert.Equal(target, new FileInfo(socket).LinkTarget);
        Assert.Empty(Directory.GetFileSystemEntries(elsewhere));
        Assert.Equal([socket], Directory.GetFileSystemEntries(directory));
    }

    [Fact]
    public async Task A_socket_directory_too_long_for_the_socket_to_be_bound_in_is_refused_naming_the_path()
    {
        using var temp = new TempDirectory();
        var directory = temp.Combine(new string('d', 94 - temp.Path.Length - 1));
        var socket = Path.Combine(directory, "kms.sock");

        var result = await TrousseauServerProcess.RunToExitAsync(temp.Combine("data"), ["--kms-socket", socket]);

        Assert.Equal(1, result.ExitCode);
        Assert.Equal($"trousseaud: cannot start: The KMS socket path {socket} is too long for a Unix socket address; choose a shorter path.", result.Stderr.Trim());
        Assert.False(Directory.Exists(directory), $"the refused start created {directory}");
    }

    /// <summary>
    /// Watches for <paramref name="path"/> on a thread of its own, looking as often as it can, and gives its mode at
    /// the first sight of it (<see langword="null"/> if it does not appear in time).
    /// </summary>
    private static Task<UnixFileMode?> ModeAtFirstSight(string path)
    {
        var seen = new TaskCompletionSource<UnixFileMode?>(TaskCreationOptions.RunContinuationsAsynchronously);
        var watcher = new Thread(() =>
        {
            var deadline = DateTime.UtcNow + StartTimeout;
            while (DateTime.UtcNow < deadline)
            {
                try
                {
                    if (File.Exists(path))
                    {
                        seen.SetResult(File.GetUnixFileMode(path));
                        return;
                    }
                }
                catch (FileNotFoundException)
                {
                    // Gone again between the two looks: keep watching.
                }
            }

            seen.SetResult(null);
        })
        { IsBackground = true };
        watcher.Start();
        return seen.Task;
    }

    /// <summary>One call sent as raw frames; the status and message are the plugin's own trailers.</summary>
    /// <remarks>
    /// Raw frames (this and <see cref="RawHttp2Connection.GrpcMessage"/>) stay only for what no gRPC client library
    /// sends: a compressed flag with no encoding, or with one the client has no codec for; a truncated frame; a length
    /// prefix past the size limit; bytes that are not protobuf; a grpc-timeout that is malformed or longer than a client
    /// writes (99999999H); a content type that is not gRPC. Every well-formed call goes through Grpc.Net.Client
    /// (<see cref="KmsV2Client"/>), deadlines included.
    /// </remarks>
    private static async Task<(string? Status, string? Message)> CallAsync(HttpClient http, string path, byte[] body, string? timeout = null, string? encoding = null)
    {
        using var request = new HttpRequestMessage(HttpMethod.Post, path)
        {
            Version = HttpVersion.Version20,
            VersionPolicy = HttpVersionPolicy.RequestVersionExact,
            Content = new ByteArrayContent(body),
        };
        request.Content.Headers.ContentType = new MediaTypeHeaderValue("application/grpc");
        request.Headers.TryAddWithoutValidation("te", "trailers");
        if (timeout is not null)
        {
            request.Headers.TryAddWithoutValidation("grpc-timeout", timeout);
        }

        if (encoding is not null)
        {
            request.Headers.TryAddWithoutValidation("grpc-encoding", encoding);
        }

        using var response = await http.SendAsync(request);
        await response.Content.ReadAsByteArrayAsync();
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        return (Trailer(response, "grpc-status"), Trailer(response, "grpc-message"));
    }

    private static string? Trailer(HttpResponseMessage response, string name) =>
        response.TrailingHeaders.TryGetValues(name, out var values) || response.Headers.TryGetValues(name, out values) ? values.First() : null;
}
