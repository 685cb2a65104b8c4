using Trousseau.Tests.Integration.Infrastructure;

namespace Trousseau.Tests.Integration.Cli;

/// <summary>clectl's help, its usage errors (exit 2) and its suggestions, without any server.</summary>
public sealed class CliUsageTests : IDisposable
{
    private readonly TempDirectory _temp = new();
    private readonly ClectlRunner _clectl;

    public CliUsageTests() =>
        _clectl = new ClectlRunner(_temp.Path, new Dictionary<string, string?> { ["XDG_CONFIG_HOME"] = _temp.Combine("config") });

    public void Dispose() => _temp.Dispose();

    [Fact]
    public async Task Bare_clectl_prints_the_help_and_exits_0()
    {
        var result = await _clectl.RunAsync();

        ClectlAssert.Ok(result);
        Assert.Contains("Usage:", result.Stdout, StringComparison.Ordinal);
        Assert.Contains("completion", result.Stdout, StringComparison.Ordinal);
        Assert.Empty(result.Stderr);
    }

    [Fact]
    public async Task A_command_group_alone_prints_its_help_and_exits_0()
    {
        var result = await _clectl.RunAsync("secret");

        ClectlAssert.Ok(result);
        Assert.Contains("clectl secret [command] [options]", result.Stdout, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("help", "--help")]
    [InlineData("help secret get", "secret get --help")]
    [InlineData("help kms", "kms --help")]
    [InlineData("-o json help secret", "-o json secret --help")]
    [InlineData("--server http://127.0.0.1:1 --raw help secret get", "secret get --help")]
    [InlineData("--output=yaml help kms", "kms --help")]
    [InlineData("-ojson help secret", "-o json secret --help")]
    [InlineData("-o:json help secret get", "secret get --help")]
    [InlineData("-o=yaml help kms", "kms --help")]
    [InlineData("secret help", "secret --help")]
    [InlineData("secret help list", "secret list --help")]
    [InlineData("kms help status", "kms status --help")]
    [InlineData("secret -ojson help get", "secret get --help")]
    [InlineData("--raw context --output json help delete", "context delete --help")]
    public async Task Help_before_a_command_and_after_any_global_options_prints_that_commands_help_as_kubectl_help_does(string line, string same)
    {
        var help = await _clectl.RunAsync(line.Split(' '));
        var flag = await _clectl.RunAsync(same.Split(' '));

        ClectlAssert.Ok(help);
        Assert.Contains("Usage:", help.Stdout, StringComparison.Ordinal);
        Assert.Equal(flag.Stdout, help.Stdout);
        Assert.Empty(help.Stderr);
    }

    [Fact]
    public async Task Help_after_a_command_that_groups_none_is_that_commands_argument()
    {
        var error = ClectlAssert.Fails(await _clectl.RunAsync("context", "use", "help"), 2);

        Assert.Equal("clectl: No context named 'help'. (see clectl context list)", error);
    }

    [Fact]
    public async Task Help_after_a_group_for_an_unknown_command_exits_2_naming_it()
    {
        var error = ClectlAssert.Fails(await _clectl.RunAsync("secret", "help", "lst"), 2);

        Assert.StartsWith("clectl: Unknown command 'lst' for 'clectl secret'. Did you mean 'list'?", error, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Help_for_an_unknown_command_exits_2_naming_it()
    {
        var error = ClectlAssert.Fails(await _clectl.RunAsync("help", "secert"), 2);

        Assert.StartsWith("clectl: Unknown command 'secert' for 'clectl'. Did you mean 'secret'?", error, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Help_shows_the_output_formats_in_lower_case()
    {
        var result = await _clectl.RunAsync("secret", "get", "--help");

        ClectlAssert.Ok(result);
        Assert.Contains("-o, --output <table|json|yaml>", result.Stdout, StringComparison.Ordinal);
    }

    [Fact]
    public async Task An_unknown_output_format_exits_2_naming_the_valid_ones()
    {
        var line = ClectlAssert.Fails(await _clectl.RunAsync("secret", "list", "-o", "xml"), 2);

        Assert.Contains("'xml' is not an output format; use -o table, -o json or -o yaml.", line, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("--from-literal", "password", "--from-literal takes KEY=VALUE; got one without '='.")]
    [InlineData("--from-literal", "=s3cret", "--from-literal takes KEY=VALUE; got a value without a key.")]
    [InlineData("--from-file", "password", "--from-file takes KEY=PATH; got one without '='.")]
    [InlineData("--from-file", "=/run/secrets/db", "--from-file takes KEY=PATH; got a path without a key.")]
    public async Task A_literal_or_file_without_a_key_and_value_exits_2_saying_what_is_missing_without_showing_it(string option, string given, string expected)
    {
        var line = ClectlAssert.Fails(await _clectl.RunAsync("secret", "create", "app/x", option, given, "--server", "http://127.0.0.1:9"), 2);

        Assert.Equal("clectl: " + expected, line);
        Assert.DoesNotContain("s3cret", line, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("secert list", "Unknown command 'secert' for 'clectl'. Did you mean 'secret'?")]
    [InlineData("secret crate db", "Unknown command 'crate' for 'clectl secret'. Did you mean 'create'?")]
    [InlineData("secret create db --from-litral k=v", "Unknown option '--from-litral' for 'clectl secret create'. Did you mean '--from-literal'?")]
    [InlineData("kms stauts", "Unknown command 'stauts' for 'clectl kms'. Did you mean 'status'?")]
    public async Task Unknown_commands_and_options_exit_2_with_did_you_mean(string line, string expected)
    {
        var error = ClectlAssert.Fails(await _clectl.RunAsync(line.Split(' ')), 2);

        Assert.StartsWith("clectl: " + expected, error, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("secret get --keys password db/orders", "Unknown option '--keys' for 'clectl secret get'. Did you mean '--key'? (see clectl secret get --help)")]
    [InlineData("secret get --bogus", "Unknown option '--bogus' for 'clectl secret get'. (see clectl secret get --help)")]
    [InlineData("secret get --bogus --help", "Unknown option '--bogus' for 'clectl secret get'. (see clectl secret get --help)")]
    [InlineData("context set --prod --server http://127.0.0.1:9", "Unknown option '--prod' for 'clectl context set'. (see clectl context set --help)")]
    public async Task An_unknown_option_where_a_commands_argument_goes_is_named_as_unknown_and_not_taken_for_the_argument(string line, string expected)
    {
        var error = ClectlAssert.Fails(await _clectl.RunAsync(line.Split(' ')), 2);

        Assert.Equal("clectl: " + expected, error);
        Assert.False(File.Exists(_temp.Combine("config", "trousseau", "config.json")), "context set saved a context");
    }

    [Theory]
    [InlineData("secret get -- -x", "Invalid secret name '-x'")]
    [InlineData("audit verify -- -trail", "-trail")]
    public async Task After_a_double_dash_a_word_starting_with_a_dash_is_the_commands_argument(string line, string named)
    {
        var error = ClectlAssert.Fails(await _clectl.RunAsync(line.Split(' ')), 2);

        Assert.Contains(named, error, StringComparison.Ordinal);
        Assert.DoesNotContain("Unknown option", error, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("bogus secret list", "Unknown command 'bogus' for 'clectl'. (see clectl --help)")]
    [InlineData("secret bogus get db", "Unknown command 'bogus' for 'clectl secret'. (see clectl secret --help)")]
    [InlineData("secret lst list", "Unknown command 'lst' for 'clectl secret'. Did you mean 'list'? (see clectl secret --help)")]
    [InlineData("secret list extra", "Unexpected argument 'extra' for 'clectl secret list'. (see clectl secret list --help)")]
    public async Task An_unknown_word_before_a_command_is_named_for_the_command_it_was_given_to(string line, string expected)
    {
        var error = ClectlAssert.Fails(await _clectl.RunAsync(line.Split(' ')), 2);

        Assert.Equal("clectl: " + expected, error);
    }

    [Theory]
    [InlineData("secret get", "Missing argument NAME for 'clectl secret get'.")]
    [InlineData("secret create --type login", "Missing argument NAME for 'clectl secret create'.")]
    [InlineData("context use", "Missing argument NAME for 'clectl context use'.")]
    [InlineData("audit verify", "Missing argument FILE for 'clectl audit verify'.")]
    [InlineData("completion", "Missing argument SHELL for 'clectl completion'.")]
    [InlineData("secret generate db/orders --length", "--length needs a value.")]
    public async Task A_missing_argument_or_option_value_exits_2_naming_it(string line, string expected)
    {
        var error = ClectlAssert.Fails(await _clectl.RunAsync(line.Split(' ')), 2);

        Assert.StartsWith("clectl: " + expected, error, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("secret get", "Missing argument NAME for 'clectl secret get'. (see clectl secret get --help)")]
    [InlineData("context use", "Missing argument NAME for 'clectl context use'. (see clectl context use --help)")]
    [InlineData("audit verify", "Missing argument FILE for 'clectl audit verify'. (see clectl audit verify --help)")]
    public async Task A_missing_argument_is_the_one_line_the_reference_quotes(string line, string expected)
    {
        var error = ClectlAssert.Fails(await _clectl.RunAsync(line.Split(' ')), 2);

        Assert.Equal("clectl: " + expected, error);
    }

    [Theory]
    [InlineData("first line\nsecond line")]
    [InlineData("{\"keyId\": \"k1\", ")]
    [InlineData("- k1\n- AAAA")]
    [InlineData("? [a, b]\n: c")]
    public async Task Kms_decrypt_given_input_kms_encrypt_did_not_print_exits_2_saying_what_it_expects(string input)
    {
        var error = ClectlAssert.Fails(await _clectl.RunWithInputAsync(input, "kms", "decrypt", "--socket", _temp.Combine("kms.sock")), 2);

        Assert.Equal(
            "clectl: stdin is not what kms encrypt prints: give its line KEY-ID CIPHERTEXT, its -o json or -o yaml object "
            + "with keyId and ciphertext, or a bare base64 ciphertext with --key-id.",
            error);
    }

    [Theory]
    [InlineData("secret generate db/orders --length abc", "--length 'abc' is not valid; give a whole number from 1 to 4096")]
    [InlineData("secret regenerate db/orders --length 99999999999", "--length '99999999999' is not valid; give a whole number from 1 to 4096")]
    [InlineData("secret delete db/orders --if-revision abc", "--if-revision 'abc' is not valid; give a revision, a whole number from 1")]
    [InlineData("secret delete db/orders --if-revision 0", "--if-revision '0' is not valid; give a revision, a whole number from 1")]
    [InlineData("secret update db/orders --remove k --if-revision -5", "--if-revision '-5' is not valid; give a revision, a whole number from 1")]
    [InlineData("kms status --timeout soon", "--timeout 'soon' is not valid; give seconds above 0, at most 300")]
    [InlineData("kms status --timeout 0", "--timeout '0' is not valid; give seconds above 0, at most 300")]
    public async Task A_number_option_given_another_value_exits_2_naming_the_option_the_value_and_what_is_valid(string line, string expected)
    {
        var error = ClectlAssert.Fails(await _clectl.RunAsync(line.Split(' ')), 2);

        Assert.StartsWith("clectl: " + expected, error, StringComparison.Ordinal);
        Assert.DoesNotContain("System.", error, StringComparison.Ordinal);
    }

    [Fact]
    public async Task An_empty_token_file_or_a_directory_given_as_one_exits_2_saying_so_before_calling_the_server()
    {
        var empty = _temp.Combine("empty.token");
        File.WriteAllText(empty, "\n");

        var fromEmpty = ClectlAssert.Fails(await _clectl.RunAsync("secret", "list", "--server", "http://127.0.0.1:1", "--token-file", empty), 2);
        var fromDirectory = ClectlAssert.Fails(await _clectl.RunAsync("secret", "list", "--server", "http://127.0.0.1:1", "--token-file", _temp.Path), 2);

        Assert.Equal($"clectl: The token file {empty} (from --token-file) is empty; it must hold the API token, as trousseaud writes it to api.token in its data directory.", fromEmpty);
        Assert.Equal($"clectl: The token file {_temp.Path} (from --token-file) is a directory; give the API token file in it, for example {Path.Combine(_temp.Path, "api.token")}.", fromDirectory);
    }

    [Fact]
    public async Task A_token_file_larger_than_4_KiB_exits_2_saying_so_and_context_set_saves_nothing()
    {
        var huge = _temp.Combine("huge.token");
        File.WriteAllText(huge, new string('h', 64 * 1024));
        const string Expected = " (from --token-file) is larger than 4096 bytes, which no API token is (trousseaud makes them 43 characters long); give the file that holds the API token alone.";

        var fromCall = ClectlAssert.Fails(await _clectl.RunAsync("secret", "list", "--server", "http://127.0.0.1:1", "--token-file", huge), 2);
        var fromSet = ClectlAssert.Fails(await _clectl.RunAsync("context", "set", "x", "--server", "http://127.0.0.1:1", "--token-file", huge), 2);

        Assert.Equal($"clectl: The token file {huge}{Expected}", fromCall);
        Assert.Equal($"clectl: The token file {huge}{Expected}", fromSet);
        Assert.Equal("current: null\ncontexts: []\n", (await _clectl.RunAsync("context", "list", "-o", "yaml")).Stdout);
    }

    [Fact]
    public async Task A_token_file_that_is_a_fifo_or_a_device_exits_2_naming_what_it_is_instead_of_waiting_or_reading_without_end()
    {
        var fifo = _temp.Combine("fifo.token");
        await Fifo.MakeAsync(fifo);
        var device = _temp.Combine("zero.token");
        File.CreateSymbolicLink(device, "/dev/zero");

        var fromFifo = ClectlAssert.Fails(await _clectl.RunAsync("secret", "list", "--server", "http://127.0.0.1:1", "--token-file", fifo), 2);
        var fromDevice = ClectlAssert.Fails(await _clectl.RunAsync("context", "set", "x", "--server", "http://127.0.0.1:1", "--token-file", device), 2);

        Assert.Equal($"clectl: The token file {fifo} (from --token-file) is not a regular file but a FIFO; give the file that holds the API token.", fromFifo);
        Assert.Equal($"clectl: The token file {device} (from --token-file) is not a regular file but a character device; give the file that holds the API token.", fromDevice);
    }

    [Fact]
    public async Task Context_set_with_a_token_file_that_is_missing_empty_or_a_directory_exits_2_naming_the_path_and_saves_nothing()
    {
        var missing = _temp.Combine("no-such.token");
        var empty = _temp.Combine("empty.token");
        File.WriteAllText(empty, "\n");

        var lines = new[]
        {
            ClectlAssert.Fails(await _clectl.RunAsync("context", "set", "x", "--server", "http://127.0.0.1:1", "--token-file", missing), 2),
            ClectlAssert.Fails(await _clectl.RunAsync("context", "set", "x", "--server", "http://127.0.0.1:1", "--token-file", empty), 2),
            ClectlAssert.Fails(await _clectl.RunAsync("context", "set", "x", "--server", "http://127.0.0.1:1", "--token-file", _temp.Path), 2),
        };

        Assert.Equal(
            [
                $"clectl: The token file {missing} (from --token-file) does not exist.",
                $"clectl: The token file {empty} (from --token-file) is empty; it must hold the API token, as trousseaud writes it to api.token in its data directory.",
                $"clectl: The token file {_temp.Path} (from --token-file) is a directory; give the API token file in it, for example {Path.Combine(_temp.Path, "api.token")}.",
            ],
            lines);
        Assert.Equal("current: null\ncontexts: []\n", (await _clectl.RunAsync("context", "list", "-o", "yaml")).Stdout);
    }

    [Theory]
    [InlineData("""{"contexts":{"x":{}}}""", "context 'x' has no server; set one with 'clectl context set x --server URL', or remove it.")]
    [InlineData("""{"current":"x","contexts":{"x":{"server":null}}}""", "context 'x' has no server; set one with 'clectl context set x --server URL', or remove it.")]
    [InlineData("""{"contexts":null}""", "'contexts' is null; it must be an object of named contexts.")]
    [InlineData("""{"contexts":{"x":{"server":"http://127.0.0.1:1","token":5}}}""", "problem at $.contexts.x.token (line 1, byte 57)")]
    [InlineData("""{"contexts":{"x":{"server":"http://127.0.0.1:1","token":"abc" "zzz"}}}""", "problem at $.contexts.x (line 1, byte 62)")]
    public async Task A_damaged_contexts_file_exits_2_naming_the_file_and_the_problem_without_a_stack_trace(string json, string problem)
    {
        var file = _temp.Combine("config", "trousseau", "config.json");
        Directory.CreateDirectory(Path.GetDirectoryName(file)!);
        File.WriteAllText(file, json);

        foreach (var command in new[] { "context list", "secret list" })
        {
            var error = ClectlAssert.Fails(await _clectl.RunAsync(command.Split(' ')), 2);

            Assert.StartsWith($"clectl: {file} is not a valid clectl configuration: {problem}", error, StringComparison.Ordinal);
            Assert.DoesNotContain("Trousseau.Cli", error, StringComparison.Ordinal);
            // The file's path is random hex that can hold "abc" itself: look for the token only in what follows it.
            Assert.DoesNotContain("abc", error[(error.IndexOf(file, StringComparison.Ordinal) + file.Length)..], StringComparison.Ordinal);
        }
    }

    [Theory]
    [InlineData("")]
    [InlineData("  ")]
    public async Task Context_set_with_an_empty_name_exits_2_and_saves_nothing(string name)
    {
        var error = ClectlAssert.Fails(await _clectl.RunAsync("context", "set", name, "--server", "http://127.0.0.1:1"), 2);

        Assert.Equal("clectl: A context needs a name, for example 'clectl context set prod --server URL'.", error);
        Assert.Equal("current: null\ncontexts: []\n", (await _clectl.RunAsync("context", "list", "-o", "yaml")).Stdout);
    }

    [Theory]
    [InlineData("--ca-file")]
    [InlineData("--cert")]
    public async Task Context_set_with_a_tls_file_that_does_not_exist_exits_2_naming_it_and_saves_nothing(string option)
    {
        var missing = _temp.Combine("no-such.pem");
        string[] tls = option == "--ca-file" ? ["--ca-file", missing] : ["--cert", missing, "--key", _temp.Combine("no-such.key")];

        var error = ClectlAssert.Fails(await _clectl.RunAsync(["context", "set", "x", "--server", "https://127.0.0.1:1", .. tls]), 2);

        Assert.StartsWith($"clectl: The file {missing} does not exist.", error, StringComparison.Ordinal);
        Assert.Equal("current: null\ncontexts: []\n", (await _clectl.RunAsync("context", "list", "-o", "yaml")).Stdout);
    }

    [Fact]
    public async Task Context_set_with_a_ca_file_that_is_not_pem_exits_2_and_saves_nothing()
    {
        var notPem = _temp.Combine("ca.txt");
        File.WriteAllText(notPem, "not a certificate\n");

        var error = ClectlAssert.Fails(await _clectl.RunAsync("context", "set", "x", "--server", "https://127.0.0.1:1", "--ca-file", notPem), 2);

        Assert.Contains(notPem, error, StringComparison.Ordinal);
        Assert.Equal("current: null\ncontexts: []\n", (await _clectl.RunAsync("context", "list", "-o", "yaml")).Stdout);
    }

    [Fact]
    public async Task A_contexts_file_that_is_a_directory_exits_2_naming_it()
    {
        var file = _temp.Combine("config", "trousseau", "config.json");
        Directory.CreateDirectory(file);

        foreach (var command in new[] { "context list", "context set x --server http://127.0.0.1:1", "secret list" })
        {
            var error = ClectlAssert.Fails(await _clectl.RunAsync(command.Split(' ')), 2);

            Assert.Equal($"clectl: {file} is not a valid clectl configuration: it is a directory; remove it, and clectl context set writes the file.", error);
        }
    }

    [Fact]
    public async Task A_contexts_file_that_holds_a_token_and_others_can_read_is_warned_about_until_it_is_owner_only()
    {
        var file = _temp.Combine("config", "trousseau", "config.json");
        ClectlAssert.Ok(await _clectl.RunAsync("context", "set", "paths", "--server", "http://127.0.0.1:1"));
        File.SetUnixFileMode(file, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.GroupRead | UnixFileMode.OtherRead);
        var pathsOnly = await _clectl.RunAsync("context", "list");
        File.WriteAllText(file, """{"current":"tok","contexts":{"tok":{"server":"http://127.0.0.1:1","token":"stored-token-5e1f"}}}""");

        var list = await _clectl.RunAsync("context", "list");
        var kms = await _clectl.RunWithInputAsync("dek", "kms", "encrypt", "--socket", _temp.Combine("none.sock"));
        File.SetUnixFileMode(file, UnixFileMode.UserRead | UnixFileMode.UserWrite);
        var ownerOnly = await _clectl.RunAsync("context", "list");

        ClectlAssert.Ok(pathsOnly);
        Assert.Empty(pathsOnly.Stderr);
        ClectlAssert.Ok(list);
        var warning = $"clectl: warning: {file} holds an API token and others than its owner have access to it (mode 644); run chmod 600 {file}.";
        Assert.Equal(warning + "\n", list.Stderr);
        Assert.StartsWith(warning + "\n", kms.Stderr, StringComparison.Ordinal);
        Assert.DoesNotContain("stored-token-5e1f", list.Stderr + list.Stdout, StringComparison.Ordinal);
        ClectlAssert.Ok(ownerOnly);
        Assert.Empty(ownerOnly.Stderr);
    }

    [Theory]
    [InlineData("620")]
    [InlineData("602")]
    [InlineData("666")]
    public async Task A_contexts_file_that_group_or_others_may_write_is_warned_about_without_a_token_until_it_is_owner_only(string mode)
    {
        var file = _temp.Combine("config", "trousseau", "config.json");
        var tokenFile = _temp.Combine("api.token");
        File.WriteAllText(tokenFile, "token-from-the-file-7c2a\n");
        ClectlAssert.Ok(await _clectl.RunAsync("context", "set", "paths", "--server", "http://127.0.0.1:1", "--token-file", tokenFile));
        File.SetUnixFileMode(file, (UnixFileMode)Convert.ToInt32(mode, 8));

        var list = await _clectl.RunAsync("context", "list");
        var kms = await _clectl.RunWithInputAsync("dek", "kms", "encrypt", "--socket", _temp.Combine("none.sock"));
        File.SetUnixFileMode(file, UnixFileMode.UserRead | UnixFileMode.UserWrite);
        var ownerOnly = await _clectl.RunAsync("context", "list");

        ClectlAssert.Ok(list);
        var warning = $"clectl: warning: {file} can be changed by others than its owner (mode {mode}): they could point a context at a server of theirs and receive its token; run chmod 600 {file}.";
        Assert.Equal(warning + "\n", list.Stderr);
        Assert.StartsWith(warning + "\n", kms.Stderr, StringComparison.Ordinal);
        Assert.DoesNotContain("token-from-the-file-7c2a", list.Stderr + kms.Stderr, StringComparison.Ordinal);
        ClectlAssert.Ok(ownerOnly);
        Assert.Empty(ownerOnly.Stderr);
    }

    [Theory]
    [InlineData("770")]
    [InlineData("707")]
    [InlineData("777")]
    public async Task A_contexts_directory_that_group_or_others_may_write_is_warned_about_until_it_is_owner_only(string mode)
    {
        var directory = _temp.Combine("config", "trousseau");
        var file = Path.Combine(directory, "config.json");
        var tokenFile = _temp.Combine("api.token");
        File.WriteAllText(tokenFile, "token-from-the-file-3d8b\n");
        ClectlAssert.Ok(await _clectl.RunAsync("context", "set", "paths", "--server", "http://127.0.0.1:1", "--token-file", tokenFile));
        File.SetUnixFileMode(directory, (UnixFileMode)Convert.ToInt32(mode, 8));

        var list = await _clectl.RunAsync("context", "list");
        var kms = await _clectl.RunWithInputAsync("dek", "kms", "encrypt", "--socket", _temp.Combine("none.sock"));
        File.SetUnixFileMode(directory, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
        var ownerOnly = await _clectl.RunAsync("context", "list");

        ClectlAssert.Ok(list);
        var warning = $"clectl: warning: {directory}, the directory of {file}, can be changed by others than its owner (mode {mode}): they could replace the file, point a context at a server of theirs and receive its token; run chmod 700 {directory}.";
        Assert.Equal(warning + "\n", list.Stderr);
        Assert.StartsWith(warning + "\n", kms.Stderr, StringComparison.Ordinal);
        ClectlAssert.Ok(ownerOnly);
        Assert.Empty(ownerOnly.Stderr);
    }

    [Theory]
    [InlineData(" ", "kms status")]
    [InlineData("   ", "secret list")]
    public async Task A_blank_TROUSSEAU_HOME_exits_2_naming_it_as_trousseaud_refuses_it(string home, string command)
    {
        var error = ClectlAssert.Fails(await _clectl.With(("TROUSSEAU_HOME", home)).RunAsync(command.Split(' ')), 2);

        Assert.Equal($"clectl: $TROUSSEAU_HOME is '{home}', which names no directory: set it to trousseaud's data directory, or unset it for ./.trousseau.", error);
    }

    [Theory]
    [InlineData(" /var/lib/trousseau", "kms status")]
    [InlineData("/var/lib/trousseau ", "secret list")]
    public async Task A_TROUSSEAU_HOME_with_spaces_around_it_exits_2_naming_it_as_trousseaud_refuses_it(string home, string command)
    {
        var error = ClectlAssert.Fails(await _clectl.With(("TROUSSEAU_HOME", home)).RunAsync(command.Split(' ')), 2);

        Assert.Equal($"clectl: $TROUSSEAU_HOME is '{home}', with spaces at its start or end, which clectl would take as part of a name: remove them.", error);
    }

    [Fact]
    public async Task A_directory_given_to_from_file_exits_2_saying_it_is_a_directory()
    {
        var error = ClectlAssert.Fails(await _clectl.RunAsync("secret", "create", "db/orders", "--from-file", $"k={_temp.Path}", "--server", "http://127.0.0.1:1"), 2);

        Assert.Equal($"clectl: --from-file cannot read {_temp.Path}: it is a directory; give K=PATH with a file holding the value.", error);
    }
}
