using System.CommandLine;
using Google.Protobuf;
using Trousseau.Kms.Grpc;
using V2 = Trousseau.Kms.V2;

namespace Trousseau.Cli;

/// <summary><c>clectl kms status|encrypt|decrypt --socket PATH</c>: talk to any KMS v2 plugin as kube-apiserver does.</summary>
internal static class KmsCommands
{
    private const string Service = "/v2.KeyManagementService/";

    private static readonly Option<string> Socket = new("--socket")
    {
        Description = "The KMS plugin's Unix socket, for example /var/run/kmsplugin/socket.sock.",
        Required = true,
    };

    private static readonly Option<string?> KeyId = new("--key-id")
    {
        Description = "The key id that Encrypt returned with the ciphertext.",
        Required = true,
    };

    private static readonly Option<double> Timeout = new("--timeout")
    {
        Description = "Seconds to wait for the plugin (kube-apiserver allows 3).",
        DefaultValueFactory = _ => 3,
    };

    public static Command Create(CliConsole console)
    {
        var kms = new Command("kms", "Call a Kubernetes KMS v2 plugin over its Unix socket.");

        var status = new Command("status", "Show the plugin's version, health and current key id; exit 6 unless healthy.") { Socket, Timeout };
        CliAction.Set(status, console, async (parse, ct) =>
        {
            using var client = Client(parse);
            var response = await client.CallAsync(Service + "Status", new V2.StatusRequest(), V2.StatusResponse.Parser, ct);
            await (parse.GetValue(GlobalOptions.Output) == OutputFormat.Json
                ? Output.JsonAsync(console.Out, json =>
                {
                    json.WriteStartObject();
                    json.WriteString("version", response.Version);
                    json.WriteString("healthz", response.Healthz);
                    json.WriteString("keyId", response.KeyId);
                    json.WriteEndObject();
                })
                : Output.TableAsync(console.Out, ["VERSION", "HEALTHZ", "KEY ID"], [[response.Version, response.Healthz, response.KeyId]]));
            return response.Healthz == "ok" ? ExitCodes.Ok : ExitCodes.Unavailable;
        });

        var encrypt = new Command("encrypt", "Encrypt the bytes read from stdin; print the key id and the base64 ciphertext.") { Socket, Timeout };
        CliAction.Set(encrypt, console, async (parse, ct) =>
        {
            var plaintext = await ReadStdinAsync(ct);
            using var client = Client(parse);
            var response = await client.CallAsync(Service + "Encrypt", new V2.EncryptRequest { Plaintext = ByteString.CopyFrom(plaintext), Uid = Guid.NewGuid().ToString() }, V2.EncryptResponse.Parser, ct);
            var ciphertext = response.Ciphertext.ToBase64();
            await (parse.GetValue(GlobalOptions.Output) == OutputFormat.Json
                ? Output.JsonAsync(console.Out, json =>
                {
                    json.WriteStartObject();
                    json.WriteString("keyId", response.KeyId);
                    json.WriteString("ciphertext", ciphertext);
                    json.WriteEndObject();
                })
                : Output.TableAsync(console.Out, ["KEY ID", "CIPHERTEXT"], [[response.KeyId, ciphertext]]));
            return ExitCodes.Ok;
        });

        var decrypt = new Command("decrypt", "Decrypt the base64 ciphertext read from stdin; write the plaintext bytes to stdout.") { Socket, KeyId, Timeout };
        CliAction.Set(decrypt, console, async (parse, ct) =>
        {
            var text = System.Text.Encoding.ASCII.GetString(await ReadStdinAsync(ct)).Trim();
            byte[] ciphertext;
            try
            {
                ciphertext = Convert.FromBase64String(text);
            }
            catch (FormatException)
            {
                throw new CliUsageException("The ciphertext on stdin is not base64.");
            }

            using var client = Client(parse);
            var response = await client.CallAsync(Service + "Decrypt", new V2.DecryptRequest { Ciphertext = ByteString.CopyFrom(ciphertext), KeyId = parse.GetValue(KeyId)!, Uid = Guid.NewGuid().ToString() }, V2.DecryptResponse.Parser, ct);
            await console.Out.FlushAsync(ct);
            await using var stdout = Console.OpenStandardOutput();
            await stdout.WriteAsync(response.Plaintext.Memory, ct);
            return ExitCodes.Ok;
        });

        kms.Subcommands.Add(status);
        kms.Subcommands.Add(encrypt);
        kms.Subcommands.Add(decrypt);
        return kms;
    }

    private static UnaryGrpcClient Client(ParseResult parse)
    {
        var seconds = parse.GetValue(Timeout);
        if (seconds is <= 0 or > 300)
        {
            throw new CliUsageException("--timeout takes seconds between 0 and 300.");
        }

        return new UnaryGrpcClient(parse.GetValue(Socket)!, TimeSpan.FromSeconds(seconds));
    }

    /// <summary>Reads stdin as bytes (a DEK is binary), at most 64 KiB.</summary>
    private static async Task<byte[]> ReadStdinAsync(CancellationToken cancellationToken)
    {
        await using var stdin = Console.OpenStandardInput();
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
