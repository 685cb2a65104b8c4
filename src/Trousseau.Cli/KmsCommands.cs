using System.CommandLine;
using System.Net.Sockets;
using Google.Protobuf;
using Grpc.Core;
using Grpc.Net.Client;
using YamlDotNet.Core;
using YamlDotNet.Core.Events;
using V2 = Trousseau.Kms.V2;

namespace Trousseau.Cli;

/// <summary>
/// <c>clectl kms status|encrypt|decrypt [--socket PATH]</c>: talk to any KMS v2 plugin as kube-apiserver does.
/// <c>encrypt</c> prints one line, <c>KEY-ID CIPHERTEXT</c>, that <c>decrypt</c> reads back from stdin. Calls go
/// through Grpc.Net.Client over the Unix socket, with <c>--timeout</c> as the call's deadline.
/// </summary>
internal static class KmsCommands
{
    /// <summary>What <c>kms decrypt</c> says of input that is none of the forms it reads.</summary>
    private const string NotEncrypted =
        "stdin is not what kms encrypt prints: give its line KEY-ID CIPHERTEXT, its -o json or -o yaml object with keyId and ciphertext, "
        + "or a bare base64 ciphertext with --key-id.";

    // sun_path holds 108 bytes, the last of them the terminating zero.
    private const int MaxSocketPathBytes = 107;

    private static readonly Option<string?> Socket = new("--socket")
    {
        Description = $"The KMS plugin's Unix socket (default: kms.sock in trousseaud's data directory, {DataDirectory.Rule}).",
        HelpName = "path",
    };

    private static readonly Option<string?> KeyId = new("--key-id")
    {
        Description = "The key id Encrypt returned with the ciphertext (default: the one on stdin, as kms encrypt prints it).",
    };

    private static readonly Option<double> Timeout = new("--timeout")
    {
        Description = "Seconds to wait for the plugin (kube-apiserver allows 3).",
        DefaultValueFactory = _ => 3,
        CustomParser = result => NumberOptions.Seconds(result, 300, 3, "kube-apiserver allows 3"),
    };

    public static Command Create(CliConsole console)
    {
        var kms = new Command("kms", "Call a Kubernetes KMS v2 plugin over its Unix socket (trousseaud's, or any other with --socket).");

        var status = new Command("status", "Show the plugin's version, health and current key id; exit 6 unless healthy.") { Socket, Timeout };
        CliAction.Set(status, console, async (parse, ct) =>
        {
            var response = await CallAsync(parse, (client, options) => client.StatusAsync(new V2.StatusRequest(), options), ct);
            await Output.WriteAsync(
                console.Out,
                parse.GetValue(GlobalOptions.Output),
                json =>
                {
                    json.WriteStartObject();
                    json.WriteString("version", response.Version);
                    json.WriteString("healthz", response.Healthz);
                    json.WriteString("keyId", response.KeyId);
                    json.WriteEndObject();
                },
                w => Output.TableAsync(w, ["VERSION", "HEALTHZ", "KEY ID"], [[response.Version, response.Healthz, response.KeyId]]));
            return response.Healthz == "ok" ? ExitCodes.Ok : ExitCodes.Unavailable;
        });

        var encrypt = new Command(
            "encrypt",
            "Encrypt the bytes read from stdin; print one line, KEY-ID CIPHERTEXT (base64), that kms decrypt reads (-o json|yaml: an object with keyId and ciphertext).")
        {
            Socket, Timeout,
        };
        CliAction.Set(encrypt, console, async (parse, ct) =>
        {
            var plaintext = await ReadStdinAsync(ct);
            var request = new V2.EncryptRequest { Plaintext = ByteString.CopyFrom(plaintext), Uid = Guid.NewGuid().ToString() };
            var response = await CallAsync(parse, (client, options) => client.EncryptAsync(request, options), ct);
            var ciphertext = response.Ciphertext.ToBase64();
            await Output.WriteAsync(
                console.Out,
                parse.GetValue(GlobalOptions.Output),
                json =>
                {
                    json.WriteStartObject();
                    json.WriteString("keyId", response.KeyId);
                    json.WriteString("ciphertext", ciphertext);
                    json.WriteEndObject();
                },
                w => w.WriteLineAsync($"{response.KeyId} {ciphertext}"));
            return ExitCodes.Ok;
        });

        var decrypt = new Command(
            "decrypt",
            "Decrypt what kms encrypt printed (its line, JSON or YAML), or a bare base64 ciphertext with --key-id, read from stdin; write the plaintext bytes to stdout.")
        {
            Socket, KeyId, Timeout,
        };
        CliAction.Set(decrypt, console, async (parse, ct) =>
        {
            var (keyId, ciphertext) = ParseEncrypted(System.Text.Encoding.UTF8.GetString(await ReadStdinAsync(ct)).Trim(), parse.GetValue(KeyId));
            var request = new V2.DecryptRequest { Ciphertext = ByteString.CopyFrom(ciphertext), KeyId = keyId, Uid = Guid.NewGuid().ToString() };
            var response = await CallAsync(parse, (client, options) => client.DecryptAsync(request, options), ct);
            await console.Out.FlushAsync(ct);
            await using var stdout = StandardOutput.Open();
            await stdout.WriteAsync(response.Plaintext.Memory, ct);
            return ExitCodes.Ok;
        });

        kms.Subcommands.Add(status);
        kms.Subcommands.Add(encrypt);
        kms.Subcommands.Add(decrypt);
        return kms;
    }

    /// <summary>
    /// One call on a channel to the socket, within <c>--timeout</c>. A failure becomes a <see cref="KmsCallException"/>
    /// that says whether the socket could not be reached or what the plugin answered.
    /// </summary>
    private static async Task<TResponse> CallAsync<TResponse>(
        ParseResult parse,
        Func<V2.KeyManagementService.KeyManagementServiceClient, CallOptions, AsyncUnaryCall<TResponse>> call,
        CancellationToken cancellationToken)
    {
        var seconds = parse.GetValue(Timeout);
        var socket = SocketPath(parse);
        using var channel = Channel(socket);
        var client = new V2.KeyManagementService.KeyManagementServiceClient(channel);
        try
        {
            var deadline = TimeProvider.System.GetUtcNow().UtcDateTime.AddSeconds(seconds);
            return await call(client, new CallOptions(deadline: deadline, cancellationToken: cancellationToken));
        }
        catch (RpcException e) when (e.StatusCode == StatusCode.Unavailable && e.Status.DebugException is { } failure)
        {
            var reason = !File.Exists(socket) ? "no such socket" : SocketError(failure)?.Message ?? failure.Message;
            throw new KmsCallException(StatusCode.Unavailable, $"cannot reach the KMS socket {socket}: {reason}");
        }
        catch (RpcException e) when (e.StatusCode == StatusCode.DeadlineExceeded)
        {
            throw new KmsCallException(e.StatusCode, $"the KMS plugin on {socket} did not answer within {seconds} s.");
        }
        catch (RpcException e)
        {
            throw new KmsCallException(e.StatusCode, $"the KMS plugin answered {e.StatusCode}: {e.Status.Detail}");
        }
    }

    /// <summary>
    /// The socket <c>--socket</c> names, or trousseaud's in the data directory; a <see cref="CliUsageException"/> for a
    /// path longer than a Unix socket address holds (107 bytes, in UTF-8), which no connection could reach.
    /// </summary>
    private static string SocketPath(ParseResult parse)
    {
        var socket = parse.GetValue(Socket) ?? DataDirectory.KmsSocket;
        var bytes = System.Text.Encoding.UTF8.GetByteCount(socket);
        return bytes <= MaxSocketPathBytes ? socket : throw new CliUsageException(
            $"the KMS socket path {socket} is {bytes} bytes long, more than the {MaxSocketPathBytes} a Unix socket address holds; give a shorter path (a symbolic link to its directory, say).");
    }

    /// <summary>A gRPC channel whose every connection goes to the Unix socket at <paramref name="socket"/>.</summary>
    private static GrpcChannel Channel(string socket) => GrpcChannel.ForAddress("http://localhost", new GrpcChannelOptions
    {
        HttpHandler = new SocketsHttpHandler
        {
            ConnectCallback = async (_, cancellationToken) =>
            {
                var connection = new System.Net.Sockets.Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
                try
                {
                    await connection.ConnectAsync(new UnixDomainSocketEndPoint(socket), cancellationToken);
                    return new NetworkStream(connection, ownsSocket: true);
                }
                catch
                {
                    connection.Dispose();
                    throw;
                }
            },
        },
        DisposeHttpClient = true,
    });

    private static SocketException? SocketError(Exception? exception)
    {
        for (; exception is not null; exception = exception.InnerException)
        {
            if (exception is SocketException socketError)
            {
                return socketError;
            }
        }

        return null;
    }

    /// <summary>
    /// Reads what <c>kms encrypt</c> printed: its line <c>KEY-ID CIPHERTEXT</c>, or its <c>-o json</c> or
    /// <c>-o yaml</c> object (JSON is YAML too), or a bare ciphertext; <c>--key-id</c>, when given, names the key.
    /// </summary>
    private static (string KeyId, byte[] Ciphertext) ParseEncrypted(string text, string? keyIdOption)
    {
        string? keyId;
        string ciphertext;
        if (text.StartsWith('{') || text.Contains('\n', StringComparison.Ordinal))
        {
            var fields = ReadMapping(text);
            fields.TryGetValue("keyId", out keyId);
            ciphertext = fields.TryGetValue("ciphertext", out var value) ? value : throw new CliUsageException("The object on stdin has no 'ciphertext'; pipe in what kms encrypt prints.");
        }
        else
        {
            var space = text.LastIndexOfAny([' ', '\t']);
            (keyId, ciphertext) = space < 0 ? (null, text) : (text[..space].Trim(), text[(space + 1)..]);
        }

        keyId = keyIdOption ?? keyId;
        if (string.IsNullOrEmpty(keyId))
        {
            throw new CliUsageException("stdin holds a ciphertext without its key id: pass --key-id, or pipe in the line kms encrypt prints.");
        }

        try
        {
            return (keyId, Convert.FromBase64String(ciphertext));
        }
        catch (FormatException)
        {
            throw new CliUsageException("The ciphertext on stdin is not base64.");
        }
    }

    private static Dictionary<string, string> ReadMapping(string text)
    {
        var fields = new Dictionary<string, string>(StringComparer.Ordinal);
        try
        {
            var parser = new Parser(new StringReader(text));
            parser.Consume<StreamStart>();
            parser.Consume<DocumentStart>();
            parser.Consume<MappingStart>();
            while (!parser.TryConsume<MappingEnd>(out _))
            {
                var key = parser.Consume<Scalar>().Value;
                if (parser.TryConsume<Scalar>(out var value))
                {
                    fields[key] = value.Value;
                }
                else
                {
                    parser.SkipThisAndNestedEvents();
                }
            }
        }
        catch (YamlException)
        {
            // The parser's words (which event it expected) say nothing to whoever piped the wrong thing in.
            throw new CliUsageException(NotEncrypted);
        }

        return fields;
    }

    /// <summary>Reads stdin as bytes (a DEK is binary), at most 64 KiB, until Ctrl-C (see <see cref="StandardInput.ReadAsync"/>).</summary>
    private static Task<byte[]> ReadStdinAsync(CancellationToken cancellationToken) => StandardInput.ReadAsync(ReadAllStdinAsync, cancellationToken);

    private static async Task<byte[]> ReadAllStdinAsync(CancellationToken cancellationToken)
    {
        await using var stdin = StandardInput.Open();
        using var buffer = new MemoryStream();
        var chunk = new byte[8192];
        int read;
        while ((read = await stdin.ReadAsync(chunk, cancellationToken)) > 0)
        {
            buffer.Write(chunk, 0, read);
            if (buffer.Length > 64 * 1024)
            {
                throw new CliUsageException("stdin holds more than 64 KiB; KMS messages are small.");
            }
        }

        if (buffer.Length == 0)
        {
            throw new CliUsageException("Nothing on stdin to send.");
        }

        return buffer.ToArray();
    }
}
