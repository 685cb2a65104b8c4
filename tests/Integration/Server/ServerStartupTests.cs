using System.Net;
using System.Text.Json;
using Trousseau.Tests.Integration.Infrastructure;

namespace Trousseau.Tests.Integration.Server;

/// <summary>How trousseaud starts: where its files go, what it refuses to start with, and what it says when it does.</summary>
public sealed class ServerStartupTests(ApiServerFixture started) : IClassFixture<ApiServerFixture>, IDisposable
{
    private readonly TempDirectory _temp = new();

    [Fact]
    public async Task Embedded_default_serves_health_and_keeps_its_files_owner_only()
    {
        var dataDir = _temp.Combine("data");
        await using var server = await TrousseauServerProcess.StartAsync(dataDir);

        using var live = await server.Http.GetAsync(new Uri(server.BaseAddress, "healthz"));
        Assert.Equal(HttpStatusCode.OK, live.StatusCode);

        using var ready = await server.Http.GetAsync(new Uri(server.BaseAddress, "readyz"));
        Assert.Equal(HttpStatusCode.OK, ready.StatusCode);
        using var report = JsonDocument.Parse(await ready.Content.ReadAsStringAsync());
        Assert.Equal("healthy", report.RootElement.GetProperty("status").GetString());
        var checks = report.RootElement.GetProperty("checks");
        Assert.Equal("healthy", checks.GetProperty("key-provider").GetProperty("status").GetString());
        Assert.Equal("healthy", checks.GetProperty("store").GetProperty("status").GetString());

        Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute, File.GetUnixFileMode(dataDir));
        foreach (var file in new[] { "local.keyring", "store.db" })
        {
            Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(Path.Combine(dataDir, file)));
        }

        Assert.Equal(0, await server.StopAsync());
    }

    [Fact]
    public async Task A_second_trousseaud_on_the_sqlite_file_another_has_open_serves_and_warns_once_naming_the_file_and_that_process()
    {
        var dataDir = _temp.Combine("data");
        var storePath = Path.Combine(dataDir, "store.db");
        await using var first = await TrousseauServerProcess.StartAsync(dataDir);
        using (var client = await BearerClient.FromTokenFileAsync(first.BaseAddress, Path.Combine(dataDir, "api.token")))
        using (var created = await client.PostAsync("v1/secrets", new StringContent("""{"name":"app/one","type":"opaque","data":{"k":"v"}}""", System.Text.Encoding.UTF8, "application/json")))
        {
            Assert.Equal(HttpStatusCode.Created, created.StatusCode);
        }

        await using var second = await TrousseauServerProcess.StartAsync(
            _temp.Combine("second"), [$"--Trousseau:Sqlite:Path={storePath}", $"--Trousseau:Local:KeyFile={Path.Combine(dataDir, "local.keyring")}"]);
        var inUse = $"The SQLite store '{storePath}' is in use by another process or store instance (lock file {storePath}.lock): process {first.ProcessId} (";
        await Eventually.HoldsAsync(() => second.Log.Contains(inUse, StringComparison.Ordinal), () => second.Log);
        using var reader = await BearerClient.FromTokenFileAsync(second.BaseAddress, _temp.Combine("second", "api.token"));
        using var read = await reader.GetAsync(new Uri("v1/secrets/app/one", UriKind.Relative));

        var problem = await Problems.AssertAsync(read, HttpStatusCode.ServiceUnavailable);
        Assert.StartsWith(inUse, problem.GetProperty("detail").GetString(), StringComparison.Ordinal);
        Assert.Single(second.Log.Split('\n'), line => line.Contains("but its secret calls answer 503 until that process stops", StringComparison.Ordinal));
    }

    [Fact]
    public async Task A_sqlite_file_held_by_a_process_whose_name_holds_control_characters_is_named_with_them_escaped_forging_no_log_line()
    {
        // Any local program that can open the lock file may hold it, and a program names itself as it likes
        // (/proc/self/comm): here a terminal title sequence and a line break that would forge a second line.
        var heldDir = _temp.Combine("held");
        Directory.CreateDirectory(heldDir);
        File.SetUnixFileMode(heldDir, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
        var storePath = Path.Combine(heldDir, "store.db");
        var holder = System.Diagnostics.Process.Start(new System.Diagnostics.ProcessStartInfo(
            "python3",
            ["-c", "import fcntl, os, sys; fd = os.open(sys.argv[1], os.O_RDWR | os.O_CREAT, 0o600); fcntl.flock(fd, fcntl.LOCK_EX); open('/proc/self/comm', 'w').write('\\x1b]0;own\\x07\\nFAKE'); print('held', flush=True); sys.stdin.read()", storePath + ".lock"])
        {
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
        })!;
        try
        {
            Assert.Equal("held", await holder.StandardOutput.ReadLineAsync());

            await using var server = await TrousseauServerProcess.StartAsync(_temp.Combine("data"), [$"--Trousseau:Sqlite:Path={storePath}"]);

            var named = $"(lock file {storePath}.lock): process {holder.Id} (\\u001B]0;own\\u0007\\u000AFAKE) holds it.";
            await Eventually.HoldsAsync(() => server.Log.Contains(named, StringComparison.Ordinal), () => server.Log);
            Assert.DoesNotContain('\u001B', server.Log);
            Assert.DoesNotContain(server.Log.Split('\n'), line => line.StartsWith("FAKE", StringComparison.Ordinal));
        }
        finally
        {
            holder.Kill();
            await holder.WaitForExitAsync();
            holder.Dispose();
        }
    }

    [Fact]
    public async Task Data_directory_is_the_flag_else_TROUSSEAU_HOME_else_dot_trousseau()
    {
        var home = new Dictionary<string, string?> { ["TROUSSEAU_HOME"] = _temp.Combine("home") };
        var workingDirectory = Directory.CreateDirectory(_temp.Combine("work")).FullName;

        await using (var server = await TrousseauServerProcess.StartInAsync(workingDirectory, [], environment: null))
        {
            await AssertReadyAsync(server);
        }

        Assert.True(File.Exists(Path.Combine(workingDirectory, ".trousseau", "store.db")));

        await using (var server = await TrousseauServerProcess.StartInAsync(workingDirectory, [], home))
        {
            await AssertReadyAsync(server);
        }

        Assert.True(File.Exists(_temp.Combine("home", "store.db")));

        await using (var server = await TrousseauServerProcess.StartInAsync(workingDirectory, ["--data-dir", _temp.Combine("flag")], home))
        {
            await AssertReadyAsync(server);
        }

        Assert.True(File.Exists(_temp.Combine("flag", "store.db")));
    }

    [Theory]
    [InlineData("--Trousseau:DataKeys:MaxUses=0", "Trousseau:DataKeys:MaxUses", "between 1 and 2147483648, not 0")]
    [InlineData("--Trousseau:DataKeys:MaxUses=lots", "Trousseau:DataKeys:MaxUses", "'lots', which is not a whole number")]
    [InlineData("--Trousseau:Store=postgres", "Trousseau:Store", "'postgres', which trousseaud does not know: use one of sqlite, etcd, memory (case-insensitive)")]
    [InlineData("--Trousseau:KeyProvider=magic", "Trousseau:KeyProvider", "'magic', which trousseaud does not know: use one of local, vault (case-insensitive)")]
    [InlineData("--Trousseau:Sqlite:BusyTimeout=-00:00:01", "Trousseau:Sqlite:BusyTimeout", "is -00:00:01; it must be above 00:00:00 and at most 00:10:00.")]
    [InlineData("--Trousseau:Sqlite:BusyTimeout=00:11:00", "Trousseau:Sqlite:BusyTimeout", "is 00:11:00; it must be above 00:00:00 and at most 00:10:00.")]
    [InlineData("--Trousseau:Sqlite:Path=", "Trousseau:Sqlite:Path", "is ''; it must be the path of the SQLite database file")]
    [InlineData("--Trousseau:Local:KeyFile=", "Trousseau:Local:KeyFile", "is ''; it must be the path of the local key ring file")]
    [InlineData("--Trousseau:Kms:ProviderTimeout=-00:00:01", "Trousseau:Kms:ProviderTimeout", "is -00:00:01; it must be above 00:00:00 and at most 00:00:30.")]
    [InlineData("--Trousseau:Kms:StatusCacheDuration=00:01:00", "Trousseau:Kms:StatusCacheDuration", "is 00:01:00; it must be at least 00:00:00 and at most 00:00:50.")]
    [InlineData("--Trousseau:Kms:Socket=", "Trousseau:Kms:Socket", "is ''; while Trousseau:Kms:Enabled is true it must be the path of the Unix socket")]
    [InlineData("--Trousseau:Api:MaxRequestBodyBytes=1024", "Trousseau:Api:MaxRequestBodyBytes", "is 1024; it must be at least 65536 (64 KiB) and at most 67108864 (64 MiB).")]
    [InlineData("--Trousseau:Api:AllowedHosts:0=broker.test:8787", "Trousseau:Api:AllowedHosts:0", "is 'broker.test:8787'; it must be a host name without a port or a scheme")]
    [InlineData("--Trousseau:Api:Auth:TokenFile=", "Trousseau:Api:Auth:TokenFile", "is ''; while Trousseau:Api:Auth:Mode is token it must be the path of the bearer token file")]
    [InlineData("--Trousseau:Worker:Interval=00:00:00", "Trousseau:Worker:Interval", "is 00:00:00; it must be at least 00:00:00.1 and at most 1.00:00:00.")]
    [InlineData("--Trousseau:Kms:Enabled=lots", "Trousseau:Kms:Enabled", "'lots', which is not true or false")]
    [InlineData("--Trousseau:Api:Enabled=lots", "Trousseau:Api:Enabled", "'lots', which is not true or false")]
    [InlineData("--Trousseau:Worker:Interval=soon", "Trousseau:Worker:Interval", "'soon', which is not a time span such as 00:00:30")]
    [InlineData("--Trousseau:Api:Auth:Mode=ldap", "Trousseau:Api:Auth:Mode", "'ldap', which is not one of token, kubernetes, none")]
    public async Task Invalid_configuration_exits_2_with_one_line_naming_the_key_the_value_and_what_is_valid(string setting, string key, string explanation)
    {
        var result = await TrousseauServerProcess.RunToExitAsync(_temp.Combine("data"), [setting]);

        Assert.Equal(2, result.ExitCode);
        var line = Assert.Single(result.Stderr.Split('\n', StringSplitOptions.RemoveEmptyEntries));
        Assert.Contains(key, line, StringComparison.Ordinal);
        Assert.Contains(explanation, line, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_data_directory_that_is_a_file_exits_2_naming_it_and_touches_nothing()
    {
        var file = _temp.Combine("data");
        await File.WriteAllTextAsync(file, "not a directory");

        var result = await TrousseauServerProcess.RunToExitAsync(file);

        Assert.Equal(2, result.ExitCode);
        Assert.Equal(
            $"trousseaud: invalid configuration: Trousseau:DataDir is '{file}', which is a file, not a directory: give the path of a directory (created when missing) with --data-dir, Trousseau:DataDir or TROUSSEAU_HOME.",
            Assert.Single(result.Stderr.Split('\n', StringSplitOptions.RemoveEmptyEntries)));
        Assert.Equal([file], Directory.GetFileSystemEntries(_temp.Path));
    }

    [Theory]
    [InlineData("--data-dir")]
    [InlineData("TROUSSEAU_HOME")]
    public async Task A_data_directory_that_cannot_be_written_stops_the_start_with_one_line_naming_it_and_the_setting_that_chose_it(string chosenBy)
    {
        await using var dataDir = await WriteProtectedDirectory.CreateAsync(_temp.Combine("data"));
        var workingDirectory = Directory.CreateDirectory(_temp.Combine("work")).FullName;
        string[] args = chosenBy == "--data-dir" ? ["--data-dir", dataDir.Path] : [];
        var environment = new Dictionary<string, string?> { ["TROUSSEAU_HOME"] = chosenBy == "--data-dir" ? null : dataDir.Path };

        var result = await ChildProcess.RunAsync(DotnetProcess.StartInfo(RepositoryPaths.Server, [.. args, "--urls", ServerListener.Loopback().Urls], workingDirectory, environment));

        Assert.Equal(1, result.ExitCode);
        var line = Assert.Single((result.Stdout + result.Stderr).Split('\n', StringSplitOptions.RemoveEmptyEntries));
        Assert.StartsWith(
            $"trousseaud: cannot start: The data directory {dataDir.Path} (chosen by {(chosenBy == "--data-dir" ? "Trousseau:DataDir, which --data-dir sets" : "TROUSSEAU_HOME")}) ",
            line,
            StringComparison.Ordinal);
        Assert.Contains(Environment.IsPrivilegedProcess ? "is immutable" : $"gives no write permission to the user this process runs as ({Environment.UserName})", line, StringComparison.Ordinal);
        Assert.Contains("--data-dir, Trousseau:DataDir or TROUSSEAU_HOME", line, StringComparison.Ordinal);
        Assert.Empty(Directory.EnumerateFileSystemEntries(dataDir.Path));
    }

    [Fact]
    public async Task A_data_directory_under_a_file_exits_2_naming_the_file_and_touches_nothing()
    {
        var file = _temp.Combine("not-a-directory");
        await File.WriteAllTextAsync(file, "a file");
        var dataDir = Path.Combine(file, "data");

        var result = await ChildProcess.RunAsync(DotnetProcess.StartInfo(RepositoryPaths.Server, ["--data-dir", dataDir, "--urls", ServerListener.Loopback().Urls], _temp.Path));

        Assert.Equal(2, result.ExitCode);
        Assert.Equal(
            $"trousseaud: invalid configuration: Trousseau:DataDir is '{dataDir}', which cannot be a directory: {file} is a file. Give the path of a directory "
            + "(created when missing) with --data-dir, Trousseau:DataDir or TROUSSEAU_HOME.",
            Assert.Single(result.Stderr.Split('\n', StringSplitOptions.RemoveEmptyEntries)));
        Assert.Equal([file], Directory.GetFileSystemEntries(_temp.Path));
    }

    [Fact]
    public async Task A_data_directory_that_cannot_be_written_is_no_obstacle_when_every_file_is_elsewhere()
    {
        await using var dataDir = await WriteProtectedDirectory.CreateAsync(_temp.Combine("data"));
        var files = Directory.CreateDirectory(_temp.Combine("files")).FullName;

        await using var server = await TrousseauServerProcess.StartAsync(dataDir.Path,
            [$"--Trousseau:Local:KeyFile={files}/local.keyring", $"--Trousseau:Sqlite:Path={files}/store.db", $"--kms-socket={files}/kms.sock",
             $"--Trousseau:Api:Auth:TokenFile={files}/api.token", $"--Trousseau:Audit:Path={files}/audit.log"]);

        await AssertReadyAsync(server);
        Assert.Empty(Directory.EnumerateFileSystemEntries(dataDir.Path));
    }

    [Fact]
    public async Task Backend_names_are_matched_without_regard_to_case()
    {
        await using (var server = await TrousseauServerProcess.StartAsync(_temp.Combine("data"), ["--Trousseau:KeyProvider=LOCAL", "--Trousseau:Store=Memory"]))
        {
            await AssertReadyAsync(server);
        }

        // Vault is chosen (its settings are checked), not refused as an unknown provider.
        var vault = await TrousseauServerProcess.RunToExitAsync(_temp.Combine("data"), ["--Trousseau:KeyProvider=Vault"]);
        Assert.Equal(2, vault.ExitCode);
        Assert.Contains("Trousseau:Vault:Address is required", vault.Stderr, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("token", "--Trousseau:Vault:Auth:Token= \n", "Trousseau:Vault:Auth:Token or Trousseau:Vault:Auth:TokenFile is required for token auth.")]
    [InlineData("approle", "--Trousseau:Vault:Auth:RoleId= ", "Trousseau:Vault:Auth:RoleId and Trousseau:Vault:Auth:SecretId (or Trousseau:Vault:Auth:SecretIdFile) are required for approle auth.")]
    [InlineData("approle", "--Trousseau:Vault:Auth:SecretId=\n", "Trousseau:Vault:Auth:RoleId and Trousseau:Vault:Auth:SecretId (or Trousseau:Vault:Auth:SecretIdFile) are required for approle auth.")]
    public async Task A_vault_credential_of_whitespace_only_is_refused_at_start_as_none(string method, string blank, string line)
    {
        // An environment variable left holding a blank line (TROUSSEAU__VAULT__AUTH__TOKEN from an empty Secret key).
        string[] given = method == "token" ? [blank] : ["--Trousseau:Vault:Auth:RoleId=role", "--Trousseau:Vault:Auth:SecretId=secret", blank];
        var result = await TrousseauServerProcess.RunToExitAsync(_temp.Combine("data"),
            ["--Trousseau:KeyProvider=vault", "--Trousseau:Vault:Address=http://127.0.0.1:1", $"--Trousseau:Vault:Auth:Method={method}", .. given]);

        Assert.Equal(2, result.ExitCode);
        Assert.Contains(line, result.Stderr, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("token", "Token")]
    [InlineData("approle", "RoleId")]
    [InlineData("approle", "SecretId")]
    public async Task A_vault_credential_with_a_line_break_inside_is_refused_at_start_naming_the_key_never_the_value(string method, string key)
    {
        // A value pasted with a line break in its middle (two lines of a file joined into one environment variable).
        var (before, after) = ("cred-" + Guid.NewGuid().ToString("N"), Guid.NewGuid().ToString("N"));
        var credentials = new Dictionary<string, string> { ["Token"] = "s.token", ["RoleId"] = "role-id", ["SecretId"] = "secret-id" };
        credentials[key] = $" {before}\n{after}\n";
        string[] args = method == "token"
            ? ["--Trousseau:Vault:Auth:Token=" + credentials["Token"]]
            : ["--Trousseau:Vault:Auth:Method=approle", "--Trousseau:Vault:Auth:RoleId=" + credentials["RoleId"], "--Trousseau:Vault:Auth:SecretId=" + credentials["SecretId"]];

        var result = await TrousseauServerProcess.RunToExitAsync(_temp.Combine("data"),
            ["--Trousseau:KeyProvider=vault", "--Trousseau:Vault:Address=http://127.0.0.1:1", .. args]);

        Assert.Equal(2, result.ExitCode);
        var line = Assert.Single(result.Stderr.Split('\n', StringSplitOptions.RemoveEmptyEntries));
        Assert.StartsWith($"trousseaud: invalid configuration: Trousseau:Vault:Auth:{key} holds a line break or another control character", line, StringComparison.Ordinal);
        Assert.DoesNotContain(before, result.Stderr + result.Stdout, StringComparison.Ordinal);
        Assert.DoesNotContain(after, result.Stderr + result.Stdout, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_missing_tls_file_is_named_with_its_full_path()
    {
        var result = await TrousseauServerProcess.RunToExitAsync(_temp.Combine("data"),
            ["--Trousseau:KeyProvider=vault", "--Trousseau:Vault:Address=http://127.0.0.1:1",
             "--Trousseau:Vault:Auth:TokenFile=token", "--Trousseau:Vault:CaFile=certs/vault-ca.pem"]);

        Assert.Equal(2, result.ExitCode);
        Assert.Equal(
            $"trousseaud: invalid configuration: Trousseau:Vault:CaFile names {_temp.Combine("certs", "vault-ca.pem")}, which does not exist.",
            Assert.Single(result.Stderr.Split('\n', StringSplitOptions.RemoveEmptyEntries)));
    }

    [Fact]
    public async Task Help_and_version_print_and_exit_0_without_starting()
    {
        var help = await TrousseauServerProcess.RunToExitAsync(_temp.Combine("data"), ["--help"]);
        Assert.Equal(0, help.ExitCode);
        foreach (var flag in new[] { "--data-dir", "--urls", "--kms-socket", "--config", "--version", "TROUSSEAU_HOME", "Exit codes" })
        {
            Assert.Contains(flag, help.Stdout, StringComparison.Ordinal);
        }

        var version = await TrousseauServerProcess.RunToExitAsync(_temp.Combine("data"), ["--version"]);
        Assert.Equal(0, version.ExitCode);
        Assert.Matches(@"^trousseaud \d+\.\d+\.\d+", version.Stdout);
        Assert.False(Directory.Exists(_temp.Combine("data")), "--help or --version started the server");
    }

    [Fact]
    public async Task A_port_in_use_stops_the_start_with_one_line_naming_the_address_and_no_stack_trace()
    {
        using var taken = new System.Net.Sockets.TcpListener(IPAddress.Loopback, 0);
        taken.Start();
        var url = $"http://127.0.0.1:{((IPEndPoint)taken.LocalEndpoint).Port}";

        var result = await TrousseauServerProcess.RunToExitAsync(_temp.Combine("data"), listener: new ServerListener(url, new Uri(url)));

        Assert.Equal(1, result.ExitCode);
        Assert.Equal($"trousseaud: cannot start: {url} is already in use by another process; stop it or choose another address with --urls.", result.Stderr.Trim());
        Assert.DoesNotContain("   at ", result.Stdout + result.Stderr, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task A_start_that_fails_in_the_host_itself_leaves_no_new_file_and_keeps_those_there_before(bool dataDirExists)
    {
        // Kestrel binds a host name (neither an IP address nor localhost) on every address, which trousseaud cannot
        // check before its host starts: the port another process holds on loopback makes the host's own start fail.
        using var taken = new System.Net.Sockets.TcpListener(IPAddress.Loopback, 0);
        taken.Start();
        var url = $"http://trousseau-test.invalid:{((IPEndPoint)taken.LocalEndpoint).Port}";
        var dataDir = _temp.Combine("data");
        var kept = Path.Combine(dataDir, "notes.txt");
        if (dataDirExists)
        {
            Directory.CreateDirectory(dataDir);
            await File.WriteAllTextAsync(kept, "the operator's own file");
        }

        var result = await TrousseauServerProcess.RunToExitAsync(
            dataDir, ["--Trousseau:Api:AllowInsecureHttp=true"], listener: new ServerListener(url, new Uri(url)));

        Assert.Equal(1, result.ExitCode);
        Assert.StartsWith("trousseaud: cannot start: ", result.Stderr.Trim(), StringComparison.Ordinal);
        var left = Directory.Exists(dataDir) ? Directory.GetFileSystemEntries(dataDir).Select(Path.GetFileName).Order().ToArray() : null;
        Assert.Equal(dataDirExists ? ["notes.txt"] : null, left);
    }

    [Theory]
    [InlineData("port-in-use")]
    [InlineData("shared-kms-socket-directory")]
    public async Task A_start_refused_for_what_the_machine_holds_creates_no_data_directory(string problem)
    {
        using var taken = new System.Net.Sockets.TcpListener(IPAddress.Loopback, 0);
        taken.Start();
        var url = problem == "port-in-use" ? $"http://127.0.0.1:{((IPEndPoint)taken.LocalEndpoint).Port}" : $"http://127.0.0.1:{FreePort.Next()}";
        var socketDirectory = Directory.CreateDirectory(_temp.Combine("run")).FullName;
        if (problem == "shared-kms-socket-directory")
        {
            File.SetUnixFileMode(socketDirectory, (UnixFileMode)Convert.ToInt32("0777", 8));
        }

        var dataDir = _temp.Combine("data");

        var result = await TrousseauServerProcess.RunToExitAsync(dataDir, ["--kms-socket", Path.Combine(socketDirectory, "kms.sock")], listener: new ServerListener(url, new Uri(url)));

        Assert.Equal(1, result.ExitCode);
        Assert.StartsWith("trousseaud: cannot start: ", Assert.Single(result.Stderr.Split('\n', StringSplitOptions.RemoveEmptyEntries)), StringComparison.Ordinal);
        Assert.False(Directory.Exists(dataDir), $"a refused start left {string.Join(", ", Directory.Exists(dataDir) ? Directory.GetFileSystemEntries(dataDir) : [])}");
        Assert.Empty(Directory.EnumerateFileSystemEntries(socketDirectory));
    }

    [Theory]
    [InlineData("--Trousseau:Store=bogus", "Trousseau:Store is 'bogus'")]
    [InlineData("--Trousseau:DataKeys:MaxUses=0", "Trousseau:DataKeys:MaxUses")]
    [InlineData("--Trousseau:Api:Policies:0:Subjects:0=admin", "Trousseau:Api:Policies:0")]
    public async Task A_bad_setting_is_named_rather_than_a_port_in_use(string setting, string named)
    {
        using var taken = new System.Net.Sockets.TcpListener(IPAddress.Loopback, 0);
        taken.Start();
        var url = $"http://127.0.0.1:{((IPEndPoint)taken.LocalEndpoint).Port}";

        var result = await TrousseauServerProcess.RunToExitAsync(_temp.Combine("data"), [setting], listener: new ServerListener(url, new Uri(url)));

        Assert.Equal(2, result.ExitCode);
        var line = Assert.Single(result.Stderr.Split('\n', StringSplitOptions.RemoveEmptyEntries));
        Assert.StartsWith("trousseaud: invalid configuration: ", line, StringComparison.Ordinal);
        Assert.Contains(named, line, StringComparison.Ordinal);
        Assert.DoesNotContain("already in use", line, StringComparison.Ordinal);
    }

    [Fact]
    public async Task The_server_logs_where_its_data_directory_and_token_file_are()
    {
        var (server, dataDir) = (started.Server, started.DataDir);

        await Eventually.HoldsAsync(() => server.Log.Contains($"data directory {dataDir}", StringComparison.Ordinal), () => server.Log);
        Assert.Contains($"API bearer token file: {Path.Combine(dataDir, "api.token")}", server.Log, StringComparison.Ordinal);
        Assert.DoesNotContain(started.Token, server.Log, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Invalid_configuration_from_environment_and_config_file_is_named_too()
    {
        var fromEnvironment = await TrousseauServerProcess.RunToExitAsync(_temp.Combine("data"),
            environment: new Dictionary<string, string?> { ["Trousseau__DataKeys__CacheSize"] = "0" });
        Assert.Equal(2, fromEnvironment.ExitCode);
        Assert.Contains("Trousseau:DataKeys:CacheSize", fromEnvironment.Stderr, StringComparison.Ordinal);

        var file = _temp.Combine("bad.json");
        await File.WriteAllTextAsync(file, """{ "Trousseau": { "DataKeys": { "MaxAge": "-01:00:00" } } }""");
        var fromFile = await TrousseauServerProcess.RunToExitAsync(_temp.Combine("data"), ["--config", file]);
        Assert.Equal(2, fromFile.ExitCode);
        Assert.Contains("Trousseau:DataKeys:MaxAge", fromFile.Stderr, StringComparison.Ordinal);

        await File.WriteAllTextAsync(file, "{ not json");
        var malformed = await TrousseauServerProcess.RunToExitAsync(_temp.Combine("data"), ["--config", file]);
        Assert.Equal(2, malformed.ExitCode);
        Assert.Contains(file, malformed.Stderr, StringComparison.Ordinal);

        var missing = await TrousseauServerProcess.RunToExitAsync(_temp.Combine("data"), ["--config", _temp.Combine("absent.json")]);
        Assert.Equal(2, missing.ExitCode);
        Assert.Contains("absent.json", missing.Stderr, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_config_file_that_is_not_json_exits_2_naming_the_file_and_where_it_breaks()
    {
        var file = _temp.Combine("settings.json");
        await File.WriteAllTextAsync(file, "{\n  \"Trousseau\": {\n    \"Store\": \"memory\"\n    \"KeyProvider\": \"local\"\n  }\n}\n");

        var result = await TrousseauServerProcess.RunToExitAsync(_temp.Combine("data"), ["--config", file]);

        Assert.Equal(2, result.ExitCode);
        var line = Assert.Single(result.Stderr.Split('\n', StringSplitOptions.RemoveEmptyEntries));
        Assert.StartsWith($"trousseaud: invalid configuration: Failed to load configuration from file '{file}'.", line, StringComparison.Ordinal);
        Assert.Contains("It is not valid JSON at line 4, byte 5: ", line, StringComparison.Ordinal);
        Assert.DoesNotContain("LineNumber", line, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Config_file_settings_are_overridden_by_the_command_line()
    {
        var file = _temp.Combine("settings.json");
        await File.WriteAllTextAsync(file, """{ "Trousseau": { "Store": "floppy" } }""");

        await using var server = await TrousseauServerProcess.StartAsync(_temp.Combine("data"), ["--config", file, "--Trousseau:Store=memory"]);

        using var request = new HttpRequestMessage(HttpMethod.Get, new Uri(server.BaseAddress, "readyz"));
        request.Headers.Authorization = new("Bearer", await BearerClient.ReadTokenAsync(_temp.Combine("data", "api.token")));
        using var ready = await server.Http.SendAsync(request);
        using var report = JsonDocument.Parse(await ready.Content.ReadAsStringAsync());
        Assert.Contains("memory", report.RootElement.GetProperty("checks").GetProperty("store").GetProperty("description").GetString(), StringComparison.OrdinalIgnoreCase);
        Assert.False(File.Exists(_temp.Combine("data", "store.db")));
    }

    [Fact]
    public async Task Auth_mode_none_serves_loopback_callers_without_a_token()
    {
        await using var server = await TrousseauServerProcess.StartAsync(_temp.Combine("data"), ["--Trousseau:Api:Auth:Mode=none"]);

        using var keys = await server.Http.GetAsync(new Uri(server.BaseAddress, "v1/keys"));

        Assert.Equal(HttpStatusCode.OK, keys.StatusCode);
    }

    [Fact]
    public async Task Auth_mode_none_on_a_non_loopback_address_exits_2_naming_the_key()
    {
        var result = await ChildProcess.RunAsync(DotnetProcess.StartInfo(
            RepositoryPaths.Server,
            ["--urls", $"http://0.0.0.0:{FreePort.Next()}", "--data-dir", _temp.Combine("data"), "--Trousseau:Api:Auth:Mode=none"],
            _temp.Path));

        Assert.Equal(2, result.ExitCode);
        Assert.Contains("Trousseau:Api:Auth:Mode", Assert.Single(result.Stderr.Split('\n', StringSplitOptions.RemoveEmptyEntries)), StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("0644")]
    [InlineData("0620")]
    public async Task An_api_token_file_open_to_group_or_others_stops_the_start_naming_the_file_its_mode_and_the_fix(string mode)
    {
        var tokenFile = _temp.Combine("data", "api.token");
        Directory.CreateDirectory(_temp.Combine("data"));
        await File.WriteAllTextAsync(tokenFile, "a-token-others-may-read\n");
        File.SetUnixFileMode(tokenFile, (UnixFileMode)Convert.ToInt32(mode, 8));

        var result = await TrousseauServerProcess.RunToExitAsync(_temp.Combine("data"));

        // Its one line is all it prints: not the host's "Hosting failed to start" with a stack trace on stdout.
        Assert.Equal(1, result.ExitCode);
        var line = Assert.Single((result.Stdout + result.Stderr).Split('\n', StringSplitOptions.RemoveEmptyEntries));
        Assert.StartsWith($"trousseaud: cannot start: The API token file {tokenFile} has mode {mode}", line, StringComparison.Ordinal);
        Assert.Contains($"chmod 600 {tokenFile}", line, StringComparison.Ordinal);
        Assert.DoesNotContain("a-token-others-may-read", result.Stdout + result.Stderr, StringComparison.Ordinal);
    }

    [Fact]
    public async Task An_api_token_file_larger_than_4_KiB_stops_the_start_in_one_line_without_quoting_it()
    {
        var tokenFile = _temp.Combine("data", "api.token");
        Directory.CreateDirectory(_temp.Combine("data"));
        await File.WriteAllTextAsync(tokenFile, "not-a-token-but-a-log-line\n" + new string('x', 64 * 1024));
        File.SetUnixFileMode(tokenFile, UnixFileMode.UserRead | UnixFileMode.UserWrite);

        var result = await TrousseauServerProcess.RunToExitAsync(_temp.Combine("data"));

        Assert.Equal(1, result.ExitCode);
        var line = Assert.Single((result.Stdout + result.Stderr).Split('\n', StringSplitOptions.RemoveEmptyEntries));
        Assert.Equal(
            $"trousseaud: cannot start: The API token file {tokenFile} is larger than 4096 bytes, which no API token is (trousseaud makes them 43 characters long); "
                + $"write the token alone into it, or remove it ('rm {tokenFile}') to have a new one made, then start again.",
            line);
    }

    [Fact]
    public async Task A_refused_api_token_file_stops_the_start_before_the_kms_socket_and_the_worker_start()
    {
        var dataDir = _temp.Combine("data");
        var tokenFile = Path.Combine(dataDir, "api.token");
        Directory.CreateDirectory(dataDir);
        await File.WriteAllTextAsync(tokenFile, "a-token-others-may-read\n");
        File.SetUnixFileMode(tokenFile, (UnixFileMode)Convert.ToInt32("0644", 8));

        var result = await TrousseauServerProcess.RunToExitAsync(dataDir, ["--kms-socket", _temp.Combine("kms.sock")]);

        Assert.Equal(1, result.ExitCode);
        Assert.Contains($"The API token file {tokenFile} has mode 0644", result.Stderr, StringComparison.Ordinal);
        Assert.DoesNotContain("KMS plugin (v2, v1beta1) listening", result.Stdout, StringComparison.Ordinal);
        Assert.DoesNotContain("Worker watching key provider", result.Stdout, StringComparison.Ordinal);
        Assert.DoesNotContain("Audit trail:", result.Stdout, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("shared")]
    [InlineData("socket-is-a-directory")]
    [InlineData("too-long")]
    public async Task A_kms_socket_that_cannot_be_served_stops_the_start_with_its_one_line_only(string problem)
    {
        var directory = _temp.Combine(problem == "too-long" ? new string('d', 100) : "run");
        var socket = Path.Combine(directory, "kms.sock");
        Directory.CreateDirectory(directory);
        if (problem == "shared")
        {
            File.SetUnixFileMode(directory, (UnixFileMode)Convert.ToInt32("0777", 8));
        }
        else if (problem == "socket-is-a-directory")
        {
            Directory.CreateDirectory(socket);
        }

        var result = await TrousseauServerProcess.RunToExitAsync(_temp.Combine("data"), ["--kms-socket", socket]);

        // Its one line is all it prints: not the host's "Hosting failed to start" with a stack trace on stdout.
        Assert.Equal(1, result.ExitCode);
        var line = Assert.Single((result.Stdout + result.Stderr).Split('\n', StringSplitOptions.RemoveEmptyEntries));
        Assert.StartsWith(
            problem switch
            {
                "shared" => $"trousseaud: cannot start: The KMS socket directory {directory} is writable by group or others (mode 0777)",
                "socket-is-a-directory" => $"trousseaud: cannot start: The KMS socket path {socket} is a directory, not a socket",
                _ => $"trousseaud: cannot start: The KMS socket path {socket} is too long for a Unix socket address",
            },
            line,
            StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_key_ring_that_cannot_be_read_stops_the_start_with_its_one_line_only()
    {
        var dataDir = _temp.Combine("data");
        var keyRing = Path.Combine(dataDir, "local.keyring");
        Directory.CreateDirectory(dataDir);

        // A link to itself: it cannot be opened, whoever runs the test (root reads a file of any mode).
        File.CreateSymbolicLink(keyRing, "local.keyring");

        var result = await TrousseauServerProcess.RunToExitAsync(dataDir, ["--kms-socket", _temp.Combine("kms.sock")]);

        Assert.Equal(1, result.ExitCode);
        var line = Assert.Single((result.Stdout + result.Stderr).Split('\n', StringSplitOptions.RemoveEmptyEntries));
        Assert.StartsWith($"trousseaud: cannot start: The local key ring '{keyRing}' cannot be used: ", line, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_key_ring_path_that_is_a_directory_stops_the_start_naming_the_setting()
    {
        var dataDir = _temp.Combine("data");
        var keyRing = Directory.CreateDirectory(_temp.Combine("keys")).FullName;

        var result = await TrousseauServerProcess.RunToExitAsync(dataDir, ["--kms-socket", _temp.Combine("kms.sock"), $"--Trousseau:Local:KeyFile={keyRing}"]);

        Assert.Equal(2, result.ExitCode);
        var line = Assert.Single((result.Stdout + result.Stderr).Split('\n', StringSplitOptions.RemoveEmptyEntries));
        Assert.Equal($"trousseaud: invalid configuration: Trousseau:Local:KeyFile is '{keyRing}', which is a directory; give the path of the key ring file.", line);
        Assert.Empty(Directory.EnumerateFileSystemEntries(keyRing));
    }

    [Fact]
    public async Task A_store_path_that_is_a_directory_stops_the_start_naming_the_setting()
    {
        var store = Directory.CreateDirectory(_temp.Combine("store")).FullName;

        var result = await TrousseauServerProcess.RunToExitAsync(_temp.Combine("data"), ["--kms-socket", _temp.Combine("kms.sock"), $"--Trousseau:Sqlite:Path={store}"]);

        Assert.Equal(2, result.ExitCode);
        var line = Assert.Single((result.Stdout + result.Stderr).Split('\n', StringSplitOptions.RemoveEmptyEntries));
        Assert.Equal($"trousseaud: invalid configuration: Trousseau:Sqlite:Path is '{store}', which is a directory; give the path of the SQLite database file (for example {store}/store.db).", line);
        Assert.Empty(Directory.EnumerateFileSystemEntries(store));
    }

    [Fact]
    public async Task A_tls_certificate_file_that_is_not_pem_stops_the_start_with_its_one_line_only()
    {
        var certFile = _temp.Combine("tls.crt");
        await File.WriteAllTextAsync(certFile, "not a certificate\n");
        await File.WriteAllTextAsync(_temp.Combine("tls.key"), "not a key\n");
        var url = $"https://127.0.0.1:{FreePort.Next()}";

        var result = await TrousseauServerProcess.RunToExitAsync(_temp.Combine("data"),
            [$"--Trousseau:Api:Tls:CertFile={certFile}", $"--Trousseau:Api:Tls:KeyFile={_temp.Combine("tls.key")}"],
            listener: new ServerListener(url, new Uri(url)));

        Assert.Equal(2, result.ExitCode);
        Assert.Equal(
            $"trousseaud: invalid configuration: Trousseau:Api:Tls:CertFile names {certFile}, which holds no PEM certificate (-----BEGIN CERTIFICATE-----).",
            Assert.Single((result.Stdout + result.Stderr).Split('\n', StringSplitOptions.RemoveEmptyEntries)));
    }

    [Theory]
    [InlineData("directory")]
    [InlineData("under-a-file")]
    [InlineData("write-protected-directory")]
    [InlineData("fifo")]
    [InlineData("socket")]
    [InlineData("character-device")]
    public async Task An_audit_path_that_cannot_be_written_stops_the_start_with_exit_2_naming_the_setting_and_creates_nothing(string problem)
    {
        var dataDir = _temp.Combine("data");
        var notADirectory = _temp.Combine("not-a-directory");
        await File.WriteAllTextAsync(notADirectory, "a file");
        await using var protectedDirectory = await WriteProtectedDirectory.CreateAsync(_temp.Combine("protected"));
        var (trail, reason) = problem switch
        {
            "directory" => (Directory.CreateDirectory(_temp.Combine("audit")).FullName, "which is a directory"),
            "under-a-file" => (Path.Combine(notADirectory, "audit", "audit.log"), $"whose directory {Path.Combine(notADirectory, "audit")} does not exist and cannot be created: {notADirectory} is a file, not a directory"),
            "fifo" => (await Fifo.MakeAsync(_temp.Combine("audit.log")), "which is a FIFO, not a regular file"),
            "socket" => (await MakeSocketAsync(_temp.Combine("audit.log")), "which is a socket, not a regular file"),
            "character-device" => ("/dev/null", "which is a character device, not a regular file"),
            _ => (Path.Combine(protectedDirectory.Path, "audit.log"), $"whose directory {protectedDirectory.Path} "),
        };

        var result = await TrousseauServerProcess.RunToExitAsync(dataDir, ["--kms-socket", _temp.Combine("kms.sock"), $"--Trousseau:Audit:Path={trail}"]);

        Assert.Equal(2, result.ExitCode);
        var line = Assert.Single((result.Stdout + result.Stderr).Split('\n', StringSplitOptions.RemoveEmptyEntries));
        Assert.StartsWith($"trousseaud: invalid configuration: Trousseau:Audit:Path is '{trail}', {reason}", line, StringComparison.Ordinal);
        Assert.Contains("Trousseau:Audit:FailOpen=true", line, StringComparison.Ordinal);
        Assert.False(Directory.Exists(dataDir), "a refused start created the data directory");
        Assert.False(File.Exists(trail + ".lock"), "a refused start created the audit trail's lock file");
    }

    [Fact]
    public async Task With_fail_open_an_audit_path_that_cannot_be_written_starts_with_one_warning_naming_the_setting_and_no_stack_trace()
    {
        var trail = Directory.CreateDirectory(_temp.Combine("audit")).FullName;

        await using var server = await TrousseauServerProcess.StartAsync(_temp.Combine("data"), [$"--Trousseau:Audit:Path={trail}", "--Trousseau:Audit:FailOpen=true"]);
        using var http = await BearerClient.FromTokenFileAsync(server.BaseAddress, _temp.Combine("data", "api.token"));
        using var created = await http.PostAsync(new Uri("v1/secrets", UriKind.Relative), new StringContent("""{"name":"unrecorded","data":{"k":"v"}}""", System.Text.Encoding.UTF8, "application/json"));

        Assert.Equal(HttpStatusCode.Created, created.StatusCode);
        var warning = Assert.Single(server.Log.Split('\n'), l => l.Contains(trail, StringComparison.Ordinal) && !l.Contains("Audit trail: ", StringComparison.Ordinal));
        Assert.Equal(
            $"Trousseau:Audit:Path is '{trail}', which is a directory: calls go on without their record until the audit trail can be written (Trousseau:Audit:FailOpen is true)",
            warning.Trim());
        Assert.DoesNotContain("   at ", server.Log, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("--Trousseau:Api:Policies:0:Subjects:0=admin", "--Trousseau:Api:Policies:0:Actions:0=rotate")]
    [InlineData("--Trousseau:Api:Urls=http://0.0.0.0:0", "--Trousseau:Api:Auth:Mode=token")]
    public async Task An_api_setting_that_stops_the_start_leaves_no_store_behind(string first, string second)
    {
        var dataDir = _temp.Combine("data");

        var result = await TrousseauServerProcess.RunToExitAsync(dataDir, ["--kms-socket", _temp.Combine("kms.sock"), first, second]);

        Assert.Equal(2, result.ExitCode);
        Assert.Contains("Trousseau:Api:", result.Stderr, StringComparison.Ordinal);
        Assert.False(File.Exists(Path.Combine(dataDir, "store.db")), "a refused start created store.db");
        Assert.False(File.Exists(Path.Combine(dataDir, "local.keyring")), "a refused start created local.keyring");
    }

    [Theory]
    [InlineData("")]
    [InlineData(" \n")]
    public async Task An_empty_api_token_file_stops_the_start_with_exit_1_naming_the_file_and_the_fix(string content)
    {
        var dataDir = _temp.Combine("data");
        var tokenFile = Path.Combine(dataDir, "api.token");
        Directory.CreateDirectory(dataDir);
        await File.WriteAllTextAsync(tokenFile, content);
        File.SetUnixFileMode(tokenFile, UnixFileMode.UserRead | UnixFileMode.UserWrite);

        var result = await TrousseauServerProcess.RunToExitAsync(dataDir, ["--kms-socket", _temp.Combine("kms.sock")]);

        Assert.Equal(1, result.ExitCode);
        var line = Assert.Single((result.Stdout + result.Stderr).Split('\n', StringSplitOptions.RemoveEmptyEntries));
        Assert.StartsWith($"trousseaud: cannot start: The API token file {tokenFile} is empty", line, StringComparison.Ordinal);
        Assert.Contains($"rm {tokenFile}", line, StringComparison.Ordinal);
        Assert.False(File.Exists(_temp.Combine("kms.sock")), "the KMS socket was left behind");
    }

    [Fact]
    public async Task A_store_restored_open_to_group_or_others_is_made_0600_with_a_warning_naming_each_file_and_its_old_mode()
    {
        var dataDir = _temp.Combine("restored");
        string[] files = [Path.Combine(dataDir, "store.db"), Path.Combine(dataDir, "store.db-wal"), Path.Combine(dataDir, "store.db-shm")];
        await using (var crashed = await TrousseauServerProcess.StartAsync(dataDir))
        {
            ClectlAssert.Ok(await ClectlRunner.For(crashed, dataDir, _temp.Path).RunAsync("secret", "create", "db", "--from-literal", "password=hunter2-restored"));

            // Killed, so that the write-ahead log and its index stay beside the database, as in a copy of a live one.
            await crashed.KillAsync();
        }

        foreach (var file in files)
        {
            File.SetUnixFileMode(file, (UnixFileMode)Convert.ToInt32("0644", 8));
        }

        await using var restarted = await TrousseauServerProcess.StartAsync(dataDir);
        var get = await ClectlRunner.For(restarted, dataDir, _temp.Path).RunAsync("secret", "get", "db", "--key", "password");

        ClectlAssert.Ok(get);
        Assert.Equal("hunter2-restored", get.Stdout);
        foreach (var file in files)
        {
            Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(file));
            Assert.Contains($"SQLite store file {file} had mode 0644, which let group or others use it; it is now 0600", restarted.Log, StringComparison.Ordinal);
        }

        Assert.DoesNotContain("hunter2-restored", restarted.Log, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Api_and_kms_can_each_be_turned_off_but_not_both()
    {
        await using (var kmsOnly = await TrousseauServerProcess.StartAsync(_temp.Combine("kms-only"), ["--Trousseau:Api:Enabled=false"]))
        {
            using var secrets = await kmsOnly.Http.GetAsync(new Uri(kmsOnly.BaseAddress, "v1/secrets"));
            Assert.Equal(HttpStatusCode.NotFound, secrets.StatusCode);
            await AssertReadyAsync(kmsOnly);
            Assert.True(File.Exists(_temp.Combine("kms-only", "kms.sock")));
            Assert.False(File.Exists(_temp.Combine("kms-only", "api.token")));
        }

        await using (var apiOnly = await TrousseauServerProcess.StartAsync(_temp.Combine("api-only"), ["--Trousseau:Kms:Enabled=false"]))
        {
            Assert.False(File.Exists(_temp.Combine("api-only", "kms.sock")));
        }

        var neither = await TrousseauServerProcess.RunToExitAsync(_temp.Combine("neither"), ["--Trousseau:Api:Enabled=false", "--Trousseau:Kms:Enabled=false"]);
        Assert.Equal(2, neither.ExitCode);
        Assert.Contains("Trousseau:Kms:Enabled", neither.Stderr, StringComparison.Ordinal);
    }

    public void Dispose() => _temp.Dispose();

    private static async Task AssertReadyAsync(TrousseauServerProcess server)
    {
        using var ready = await server.Http.GetAsync(new Uri(server.BaseAddress, "readyz"));
        Assert.Equal(HttpStatusCode.OK, ready.StatusCode);
    }

    /// <summary>Leaves a socket file at <paramref name="path"/>: bound by python3, which, unlike .NET, does not remove it on close.</summary>
    private static async Task<string> MakeSocketAsync(string path)
    {
        var made = await ChildProcess.RunAsync(new System.Diagnostics.ProcessStartInfo(
            "python3", ["-c", "import socket, sys; socket.socket(socket.AF_UNIX).bind(sys.argv[1])", path]));
        Assert.True(made.ExitCode == 0, $"python3 could not bind a socket: {made.Stderr}");
        return path;
    }
}
