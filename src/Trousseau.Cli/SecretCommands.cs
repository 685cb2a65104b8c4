using System.CommandLine;
using System.Runtime.CompilerServices;

namespace Trousseau.Cli;

/// <summary><c>clectl secret create|generate|get|update|regenerate|delete|list</c>.</summary>
internal static class SecretCommands
{
    private static readonly Argument<string> Name = new("name") { Description = "The secret's name, for example db/orders." };

    private static readonly Option<string> Type = new("--type")
    {
        Description = "Secret type: opaque (any keys) or login (username, password, endpoint).",
        HelpName = "opaque|login",
        DefaultValueFactory = _ => "opaque",
        CompletionSources = { { "opaque", "login" } },
    };

    /// <summary><c>--from-literal K=V</c>: a value on the command line, which <see cref="CommandLineExposure"/> warns about.</summary>
    public static readonly Option<string[]> FromLiteral = new("--from-literal") { Description = "A key and its value, K=V (repeatable; visible in the process list: prefer --from-file)." };

    private static readonly Option<string[]> FromFile = new("--from-file") { Description = "A key and a file holding its value, K=PATH (repeatable)." };

    private static readonly Option<string?> Username = new("--username") { Description = "The username of a login secret." };

    private static readonly Option<bool> PasswordStdin = new("--password-stdin") { Description = "Read the password of a login secret from stdin." };

    private static readonly Option<string?> Endpoint = new("--endpoint") { Description = "The endpoint (URL) of a login secret." };

    private static readonly Option<long?> IfRevision = new("--if-revision") { Description = "Only if the secret is still at this revision.", CustomParser = NumberOptions.Revision };

    private static readonly Option<string?> Key = new("--key") { Description = "Print only this key's value, as stored (escaped on a terminal unless --raw)." };

    private static readonly Option<string?> GenerateKey = new("--key") { Description = "The key that receives the generated value (opaque; default 'value')." };

    private static readonly Option<int?> Length = new("--length") { Description = "Length of the generated value (default 32).", CustomParser = NumberOptions.Length };

    private static readonly Option<string?> RegenerateKey = new("--key")
    {
        Description = "The key that receives the new value (default: a login secret's password, an opaque secret's only key).",
    };

    private static readonly Option<string[]> Remove = new("--remove") { Description = "Remove this key (repeatable)." };

    private static readonly Option<string?> Prefix = new("--prefix") { Description = "Only names starting with this prefix." };

    public static Command Create(CliConsole console)
    {
        var secret = new Command("secret", "Create, read, update, delete and list secrets.");
        secret.Subcommands.Add(CreateCommand(console));
        secret.Subcommands.Add(GenerateCommand(console));
        secret.Subcommands.Add(GetCommand(console));
        secret.Subcommands.Add(UpdateCommand(console));
        secret.Subcommands.Add(RegenerateCommand(console));
        secret.Subcommands.Add(DeleteCommand(console));
        secret.Subcommands.Add(ListCommand(console));
        return secret;
    }

    private static Command CreateCommand(CliConsole console)
    {
        var command = new Command("create", "Create a secret from values you bring.") { Name, Type, FromLiteral, FromFile, Username, PasswordStdin, Endpoint };
        CliAction.Set(command, console, async (parse, ct) =>
        {
            var type = ParseType(parse.GetValue(Type));
            var data = await ReadDataAsync(parse, console, ct);
            if (data.Count == 0)
            {
                throw new CliUsageException(
                    $"Nothing to store in '{parse.GetValue(Name)}': give --from-literal K=V or --from-file K=PATH (repeatable), " +
                    "or --username, --password-stdin and --endpoint for --type login; clectl secret generate makes a value on the server.");
            }

            return await CliAction.WithClientAsync(parse, async client =>
            {
                var metadata = await client.CreateSecretAsync(parse.GetValue(Name)!, type, data, ct);
                await Output.MetadataAsync(console.Out, parse.GetValue(GlobalOptions.Output), metadata);
                return ExitCodes.Ok;
            });
        });
        return command;
    }

    private static Command GenerateCommand(CliConsole console)
    {
        var command = new Command("generate", "Create a secret whose value the server generates; the value is not printed.")
        {
            Name, Type, GenerateKey, Length, Username, Endpoint,
        };
        CliAction.Set(command, console, async (parse, ct) =>
        {
            var options = new SecretGenerationOptions
            {
                Type = ParseType(parse.GetValue(Type)),
                Key = parse.GetValue(GenerateKey),
                Username = parse.GetValue(Username),
                Endpoint = parse.GetValue(Endpoint),
            };
            if (parse.GetValue(Length) is { } length)
            {
                options.Length = length;
            }

            return await CliAction.WithClientAsync(parse, async client =>
            {
                var metadata = await client.GenerateSecretAsync(parse.GetValue(Name)!, options, ct);
                await Output.MetadataAsync(console.Out, parse.GetValue(GlobalOptions.Output), metadata);
                return ExitCodes.Ok;
            });
        });
        return command;
    }

    private static Command GetCommand(CliConsole console)
    {
        var command = new Command("get", "Print a secret with its values, or one value alone with --key; on a terminal, control characters are shown escaped unless --raw.") { Name, Key };
        CliAction.Set(command, console, (parse, ct) => CliAction.WithClientAsync(parse, async client =>
        {
            var secret = await client.GetSecretAsync(parse.GetValue(Name)!, ct);
            var escape = console.OutIsTerminal && !parse.GetValue(GlobalOptions.Raw);
            if (parse.GetValue(Key) is { } key)
            {
                if (!secret.Data.TryGetValue(key, out var value))
                {
                    await console.Error.WriteLineAsync($"clectl: secret '{secret.Name}' has no key '{key}'.");
                    return ExitCodes.NotFound;
                }

                await console.Out.WriteAsync(escape ? TerminalText.Value(value) : value);
                return ExitCodes.Ok;
            }

            var data = secret.Data.OrderBy(p => p.Key, StringComparer.Ordinal).ToList();
            await Output.WriteAsync(
                console.Out,
                parse.GetValue(GlobalOptions.Output),
                json =>
                {
                    json.WriteStartObject();
                    Output.Metadata(json, secret.Metadata);
                    json.WriteStartObject("data");
                    foreach (var (k, v) in data)
                    {
                        json.WriteString(k, v);
                    }

                    json.WriteEndObject();
                    json.WriteEndObject();
                },
                async w =>
                {
                    await Output.TableAsync(w, Output.MetadataHeaders, [Output.Row(secret.Metadata)]);
                    await w.WriteLineAsync();
                    await Output.TableAsync(w, ["KEY", "VALUE"], data.Select(p => new[] { p.Key, p.Value }), escape);
                });

            return ExitCodes.Ok;
        }));
        return command;
    }

    private static Command UpdateCommand(CliConsole console)
    {
        var command = new Command("update", "Set or remove keys of a secret and keep the others; the server merges, so no value is read.")
        {
            Name, FromLiteral, FromFile, Username, PasswordStdin, Endpoint, Remove, IfRevision,
        };
        CliAction.Set(command, console, async (parse, ct) =>
        {
            var changes = (await ReadDataAsync(parse, console, ct)).ToDictionary(p => p.Key, string? (p) => p.Value, StringComparer.Ordinal);
            foreach (var key in parse.GetValue(Remove) ?? [])
            {
                if (!changes.TryAdd(key, null))
                {
                    throw new CliUsageException($"Key '{key}' is both set and removed (or removed twice).");
                }
            }

            if (changes.Count == 0)
            {
                throw new CliUsageException("Nothing to update: give --from-literal, --from-file, --username, --password-stdin, --endpoint or --remove.");
            }

            return await CliAction.WithClientAsync(parse, async client =>
            {
                var (metadata, absent) = await client.PatchSecretAsync(parse.GetValue(Name)!, changes, parse.GetValue(IfRevision), ct);

                // As kubectl label does: removing a key that is not there changes nothing, and says so.
                foreach (var key in absent)
                {
                    await console.Error.WriteLineAsync($"clectl: warning: secret '{metadata.Name}' has no key '{key}' to remove.");
                }

                await Output.MetadataAsync(console.Out, parse.GetValue(GlobalOptions.Output), metadata);
                return ExitCodes.Ok;
            });
        });
        return command;
    }

    private static Command RegenerateCommand(CliConsole console)
    {
        var command = new Command("regenerate", "Replace one value of a secret with a new one the server generates; the value is not printed.")
        {
            Name, RegenerateKey, Length, IfRevision,
        };
        CliAction.Set(command, console, (parse, ct) =>
        {
            var options = new SecretRegenerationOptions { Key = parse.GetValue(RegenerateKey) };
            if (parse.GetValue(Length) is { } length)
            {
                options.Length = length;
            }

            return CliAction.WithClientAsync(parse, async client =>
            {
                var metadata = await client.RegenerateSecretAsync(parse.GetValue(Name)!, options, parse.GetValue(IfRevision), ct);
                await Output.MetadataAsync(console.Out, parse.GetValue(GlobalOptions.Output), metadata);
                return ExitCodes.Ok;
            });
        });
        return command;
    }

    private static Command DeleteCommand(CliConsole console)
    {
        var command = new Command("delete", "Delete a secret.") { Name, IfRevision };
        CliAction.Set(command, console, (parse, ct) => CliAction.WithClientAsync(parse, async client =>
        {
            var name = parse.GetValue(Name)!;
            await client.DeleteSecretAsync(name, parse.GetValue(IfRevision), ct);
            await Output.WriteAsync(
                console.Out,
                parse.GetValue(GlobalOptions.Output),
                json =>
                {
                    json.WriteStartObject();
                    json.WriteString("name", name);
                    json.WriteBoolean("deleted", true);
                    json.WriteEndObject();
                },
                w => w.WriteLineAsync($"deleted {name}"));
            return ExitCodes.Ok;
        }));
        return command;
    }

    private static Command ListCommand(CliConsole console)
    {
        var command = new Command("list", "List secrets (names and metadata, never values); a table is printed page by page as the server sends them, JSON and YAML once every page is in (nothing when a page fails).") { Prefix };
        CliAction.Set(command, console, (parse, ct) => CliAction.WithClientAsync(parse, async (client, failover) =>
        {
            await Output.ListAsync(
                console.Out,
                parse.GetValue(GlobalOptions.Output),
                PagesAsync(client, failover, parse.GetValue(Prefix) ?? "", ct),
                Output.MetadataHeaders,
                Output.Row,
                Output.Metadata);
            return ExitCodes.Ok;
        }));
        return command;
    }

    /// <summary>
    /// Every page of a listing, asking for the next one only when the previous one has been taken; a page that would
    /// keep the listing going for ever (<see cref="ListingPages"/>) stops it, before that page is taken, as unavailable,
    /// naming the server.
    /// </summary>
    private static async IAsyncEnumerable<IReadOnlyList<SecretMetadata>> PagesAsync(
        Remote.TrousseauClient client, ServerFailover failover, string prefix, [EnumeratorCancellation] CancellationToken cancellationToken)
    {
        var pages = new ListingPages();
        string? continuationToken = null;
        for (var number = 1; ; number++)
        {
            var page = await client.ListSecretsPageAsync(prefix, continuationToken, cancellationToken: cancellationToken);
            if (pages.WhyEndless(page) is { } gave)
            {
                throw new DependencyUnavailableException(
                    "trousseaud",
                    $"trousseaud at {failover.Current} answered page {number} of the listing with {gave}, which trousseaud never does: "
                    + "the listing would not end, so clectl stopped there.");
            }

            yield return page.Items;
            continuationToken = page.ContinuationToken;
            if (continuationToken is null)
            {
                yield break;
            }
        }
    }

    private static SecretType ParseType(string? value) => value switch
    {
        "opaque" => SecretType.Opaque,
        "login" => SecretType.Login,
        _ => throw new CliUsageException($"--type must be opaque or login, not '{value}'."),
    };

    private static async Task<Dictionary<string, string>> ReadDataAsync(ParseResult parse, CliConsole console, CancellationToken cancellationToken)
    {
        var data = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var literal in parse.GetValue(FromLiteral) ?? [])
        {
            var (key, value) = Split(literal, "--from-literal", "VALUE");
            Add(data, key, value);
        }

        foreach (var fileSpec in parse.GetValue(FromFile) ?? [])
        {
            var (key, path) = Split(fileSpec, "--from-file", "PATH");
            Add(data, key, await ReadValueFileAsync(path));
        }

        if (parse.GetValue(Username) is { } username)
        {
            Add(data, "username", username);
        }

        if (parse.GetValue(PasswordStdin))
        {
            var password = (await StandardInput.ReadAsync(console.In.ReadToEndAsync, cancellationToken)).TrimEnd('\r', '\n');
            if (password.Length == 0)
            {
                throw new CliUsageException("--password-stdin read an empty password.");
            }

            Add(data, "password", password);
        }

        if (parse.GetValue(Endpoint) is { } endpoint)
        {
            Add(data, "endpoint", endpoint);
        }

        return data;
    }

    private static async Task<string> ReadValueFileAsync(string path)
    {
        if (Directory.Exists(path))
        {
            throw new CliUsageException($"--from-file cannot read {Path.GetFullPath(path)}: it is a directory; give K=PATH with a file holding the value.");
        }

        try
        {
            return await File.ReadAllTextAsync(path);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new CliUsageException($"--from-file cannot read {Path.GetFullPath(path)}: {e.Message}");
        }
    }

    /// <summary>
    /// <paramref name="spec"/>, given to <paramref name="option"/> as <c>KEY=VALUE</c> (or <c>KEY=PATH</c>), split at its
    /// first <c>=</c>. What is given is never quoted in the error: without <c>=</c>, it may be the value alone.
    /// </summary>
    private static (string Key, string Value) Split(string spec, string option, string what)
    {
        var at = spec.IndexOf('=', StringComparison.Ordinal);
        return at > 0 ? (spec[..at], spec[(at + 1)..])
            : throw new CliUsageException($"{option} takes KEY={what}; got " + (at < 0 ? "one without '='." : $"a {what.ToLowerInvariant()} without a key."));
    }

    private static void Add(Dictionary<string, string> data, string key, string value)
    {
        if (!data.TryAdd(key, value))
        {
            throw new CliUsageException($"Key '{key}' is given twice.");
        }
    }
}
