using System.Net;
using Trousseau.Tests.Integration.Infrastructure;

namespace Trousseau.Tests.Integration.Server;

/// <summary>
/// Values a user may give a setting by mistake, from any source: each stops the start with exit 2 and one line naming
/// the setting and what is wrong, with no stack trace and no credential in it, before any file is made.
/// </summary>
public sealed class SettingValueTests : IDisposable
{
    private const string Invalid = "trousseaud: invalid configuration: ";
    private const string NotTaken = "The changed configuration is not taken: ";

    private readonly TempDirectory _temp = new();

    public void Dispose() => _temp.Dispose();

    [Theory]
    [InlineData("--Trousseau:DataDir=", "Trousseau:DataDir is ''")]
    [InlineData("--data-dir= ", "Trousseau:DataDir is ' '")]
    [InlineData("--config=", "--config is ''")]
    public async Task An_empty_data_directory_or_config_file_path_exits_2_naming_it_and_creates_nothing(string argument, string named)
    {
        var work = Directory.CreateDirectory(_temp.Combine("work")).FullName;

        var result = await RunInAsync(work, ["--urls", ServerListener.Loopback().Urls, argument]);

        AssertRefused(result, named);
        Assert.Empty(Directory.EnumerateFileSystemEntries(work));
    }

    [Fact]
    public async Task A_blank_TROUSSEAU_HOME_exits_2_naming_it_and_creates_nothing()
    {
        var work = Directory.CreateDirectory(_temp.Combine("work")).FullName;

        var result = await RunInAsync(work, ["--urls", ServerListener.Loopback().Urls], new Dictionary<string, string?> { ["TROUSSEAU_HOME"] = " " });

        AssertRefused(result, "TROUSSEAU_HOME is ' '");
        Assert.Empty(Directory.EnumerateFileSystemEntries(work));
    }

    [Fact]
    public async Task A_TROUSSEAU_HOME_with_spaces_around_it_exits_2_naming_it_and_creates_nothing()
    {
        var work = Directory.CreateDirectory(_temp.Combine("work")).FullName;

        var result = await RunInAsync(work, ["--urls", ServerListener.Loopback().Urls], new Dictionary<string, string?> { ["TROUSSEAU_HOME"] = $" {_temp.Combine("home")}" });

        AssertRefused(result, $"TROUSSEAU_HOME is ' {_temp.Combine("home")}', with spaces at its start or end");
        Assert.Empty(Directory.EnumerateFileSystemEntries(work));
    }

    [Fact]
    public async Task An_empty_TROUSSEAU_HOME_is_read_as_unset_as_clectl_reads_it()
    {
        var work = Directory.CreateDirectory(_temp.Combine("work")).FullName;

        await using (var server = await TrousseauServerProcess.StartInAsync(work, [], new Dictionary<string, string?> { ["TROUSSEAU_HOME"] = "" }))
        {
            Assert.False(server.HasExited);
        }

        Assert.True(File.Exists(Path.Combine(work, ".trousseau", "api.token")));
    }

    [Theory]
    [InlineData("", "Trousseau:Api:Urls is '', which holds no URL")]
    [InlineData(" ; ", "Trousseau:Api:Urls is ' ; ', which holds no URL")]
    [InlineData("127.0.0.1:0", "Trousseau:Api:Urls has '127.0.0.1:0', which is not an http:// or https:// URL")]
    [InlineData("ftp://127.0.0.1:0", "Trousseau:Api:Urls has 'ftp://127.0.0.1:0', which is not an http:// or https:// URL")]
    [InlineData("http://127.0.0.1:99999", "Trousseau:Api:Urls has 'http://127.0.0.1:99999', which is not an http:// or https:// URL")]
    [InlineData("http://127.0.0.1:0/api", "Trousseau:Api:Urls has 'http://127.0.0.1:0/api', whose path /api trousseaud cannot serve")]
    [InlineData("http://admin:url-pass@127.0.0.1:0", "Trousseau:Api:Urls has a URL with a user name or password before '@'")]
    public async Task An_api_url_that_cannot_be_served_as_written_exits_2_naming_it_and_creates_nothing(string urls, string named)
    {
        var result = await TrousseauServerProcess.RunToExitAsync(_temp.Combine("data"), [$"--Trousseau:Api:Urls={urls}"]);

        AssertRefused(result, named);
        Assert.DoesNotContain("url-pass", result.Stdout + result.Stderr, StringComparison.Ordinal);
        Assert.False(Directory.Exists(_temp.Combine("data")));
    }

    [Theory]
    [InlineData("--Trousseau:Store=etcd", "--Trousseau:Etcd:Endpoints:0=http://root:etcd-url-pass@127.0.0.1:1", "Trousseau:Etcd:Endpoints:0 holds a user name or password")]
    [InlineData("--Trousseau:Store=etcd", "--Trousseau:Etcd:Endpoints:0=root:etcd-url-pass@127.0.0.1:1", "Trousseau:Etcd:Endpoints:0 holds a user name or password")]
    [InlineData("--Trousseau:KeyProvider=vault", "--Trousseau:Vault:Address=http://admin:vault-url-pass@127.0.0.1:1", "Trousseau:Vault:Address holds a user name or password")]
    [InlineData("--Trousseau:KeyProvider=vault", "--Trousseau:Vault:Address=admin:vault-url-pass@127.0.0.1:1", "Trousseau:Vault:Address holds a user name or password")]
    public async Task A_dependency_url_with_a_password_in_it_exits_2_without_showing_it(string backend, string url, string named)
    {
        var result = await TrousseauServerProcess.RunToExitAsync(_temp.Combine("data"), [backend, url, "--Trousseau:Vault:Auth:Token=hvs.not-a-real-token"]);

        AssertRefused(result, named);
        Assert.DoesNotContain("url-pass", result.Stdout + result.Stderr, StringComparison.Ordinal);
        Assert.False(Directory.Exists(_temp.Combine("data")));
    }

    [Theory]
    [InlineData("http://127.0.0.1:1/some/path")]
    [InlineData("http://127.0.0.1:1/?token=etcd-url-pass")]
    [InlineData("http://127.0.0.1:1#etcd-url-pass")]
    public async Task An_etcd_endpoint_with_a_path_query_or_fragment_exits_2_naming_it_without_showing_what_follows(string endpoint)
    {
        var result = await TrousseauServerProcess.RunToExitAsync(_temp.Combine("data"), ["--Trousseau:Store=etcd", $"--Trousseau:Etcd:Endpoints:0={endpoint}"]);

        AssertRefused(result, "Trousseau:Etcd:Endpoints:0 is http://127.0.0.1:1 followed by a path, query or fragment, not shown here, which the etcd client would drop");
        Assert.DoesNotContain("etcd-url-pass", result.Stdout + result.Stderr, StringComparison.Ordinal);
        Assert.False(Directory.Exists(_temp.Combine("data")));
    }

    [Theory]
    [InlineData("http://unix:{temp}/api.sock", "--Trousseau:Api:Enabled=false")]
    [InlineData("http://unix:api.sock", "--Trousseau:Api:Enabled=false")]
    [InlineData("http://unix:{temp}/missing/api.sock", "--Trousseau:Api:Enabled=false")]
    [InlineData("http://unix:{temp}/taken", "--Trousseau:Api:Enabled=false")]
    [InlineData("http://unix:{temp}/api.sock", "--Trousseau:Api:AllowInsecureHttp=true")]
    public async Task An_api_url_on_a_unix_socket_exits_2_naming_it_and_creates_nothing(string url, string setting)
    {
        var temp = Directory.CreateDirectory(_temp.Combine("sockets")).FullName;
        await File.WriteAllTextAsync(Path.Combine(temp, "taken"), "a file");
        var urls = url.Replace("{temp}", temp, StringComparison.Ordinal);

        var result = await TrousseauServerProcess.RunToExitAsync(_temp.Combine("data"), ["--urls", urls, setting, "--Trousseau:Store=memory"]);

        AssertRefused(result, $"Trousseau:Api:Urls has '{urls}', a Unix socket, on which trousseaud does not serve HTTP");
        Assert.Equal(["taken"], Directory.EnumerateFileSystemEntries(temp).Select(Path.GetFileName));
        Assert.False(Directory.Exists(_temp.Combine("data")));
    }

    [Theory]
    [InlineData("1")]
    [InlineData("2")]
    [InlineData("token,kubernetes")]
    public async Task An_api_auth_mode_given_as_a_number_or_a_list_exits_2_naming_the_modes(string mode)
    {
        var result = await TrousseauServerProcess.RunToExitAsync(_temp.Combine("data"), [$"--Trousseau:Api:Auth:Mode={mode}"]);

        AssertRefused(result, $"Trousseau:Api:Auth:Mode is '{mode}', which is not one of token, kubernetes, none (case-insensitive).");
        Assert.False(Directory.Exists(_temp.Combine("data")));
    }

    [Fact]
    public async Task One_setting_given_by_two_environment_variables_spelt_in_different_case_exits_2_naming_both_never_their_values()
    {
        var environment = new Dictionary<string, string?> { ["Trousseau__Store"] = "memory", ["TROUSSEAU__STORE"] = "sqlite" };

        var result = await TrousseauServerProcess.RunToExitAsync(_temp.Combine("data"), [], environment);

        AssertRefused(result, "The environment variables TROUSSEAU__STORE and Trousseau__Store both set Trousseau:Store: ");
        Assert.DoesNotContain("memory", result.Stderr, StringComparison.Ordinal);
        Assert.DoesNotContain("sqlite", result.Stderr, StringComparison.Ordinal);
        Assert.False(Directory.Exists(_temp.Combine("data")));
    }

    [Theory]
    [InlineData("Audit:Path", "{new}/audit/", "Trousseau:Audit:Path is '{new}/audit/', which names a directory: it must be the path of a file")]
    [InlineData("Local:KeyFile", "~/local.keyring", "Trousseau:Local:KeyFile is '~/local.keyring', and trousseaud does not expand ~ as a shell does")]
    [InlineData("DataDir", "~/trousseau", "Trousseau:DataDir is '~/trousseau', and trousseaud does not expand ~ as a shell does")]
    [InlineData("DataDir", " {new}", "Trousseau:DataDir is ' {new}', with spaces at its start or end, which trousseaud would take as part of a name")]
    [InlineData("Audit:Path", "{new}/audit.log ", "Trousseau:Audit:Path is '{new}/audit.log ', with spaces at its start or end, which trousseaud would take as part of a name")]
    public async Task A_path_that_would_not_lead_where_it_was_meant_to_exits_2_naming_it_and_creates_nothing(string key, string path, string named)
    {
        var work = Directory.CreateDirectory(_temp.Combine("work")).FullName;
        var fresh = _temp.Combine("new");

        var result = await RunInAsync(work, ["--urls", ServerListener.Loopback().Urls, "--data-dir", _temp.Combine("data"), $"--Trousseau:{key}={path.Replace("{new}", fresh, StringComparison.Ordinal)}"]);

        AssertRefused(result, named.Replace("{new}", fresh, StringComparison.Ordinal));
        Assert.Empty(Directory.EnumerateFileSystemEntries(work));
        Assert.False(Directory.Exists(fresh));
        Assert.False(Directory.Exists(_temp.Combine("data")));
    }

    [Theory]
    [InlineData("""
        "Worker": { "Interval": "30s" }
        """, "Trousseau:Worker:Interval is '30s', which is not a time span such as 00:00:30.")]
    [InlineData("""
        "DataKeys": { "MaxUses": -1 }
        """, "Trousseau:DataKeys:MaxUses must be between 1 and 2147483648, not -1.")]
    [InlineData("""
        "Sqlite": { "Path": "/var/lib/trousseau/" }
        """, "Trousseau:Sqlite:Path is '/var/lib/trousseau/', which names a directory")]
    [InlineData("""
        "DataKeys": { "MaxAge": 3600 }
        """, "Trousseau:DataKeys:MaxAge is '3600', a number alone, which .NET reads as 3600 days")]
    [InlineData("""
        "DataKeys": { "MaxUses": "" }
        """, "Trousseau:DataKeys:MaxUses is '', which is not a whole number")]
    public async Task A_setting_read_at_start_given_a_bad_value_in_the_changed_config_file_is_named_in_one_warning_while_the_server_serves_on(string change, string reason)
    {
        var dataDir = _temp.Combine("data");
        var config = _temp.Combine("settings.json");
        await File.WriteAllTextAsync(config, """{ "Trousseau": { "Store": "memory" } }""");
        await using var server = await TrousseauServerProcess.StartAsync(dataDir, ["--config", config]);
        using var http = await BearerClient.FromTokenFileAsync(server.BaseAddress, Path.Combine(dataDir, "api.token"));

        await File.WriteAllTextAsync(config, $$"""{ "Trousseau": { "Store": "memory", "Vault": { "Auth": { "Token": "hvs.reload-secret" } }, {{change}} } }""");
        var warning = await Eventually.ReturnsAsync(
            () => Task.FromResult(server.Log.Split('\n').Select(l => l.Trim()).FirstOrDefault(l => l.StartsWith(NotTaken, StringComparison.Ordinal) && l.Contains(reason, StringComparison.Ordinal))),
            line => line is not null,
            awaited: "warning 9001 for the changed file",
            show: _ => server.Log);
        using var read = await http.GetAsync(new Uri("v1/secrets/absent", UriKind.Relative));

        Assert.StartsWith($"{NotTaken}{reason}", warning, StringComparison.Ordinal);
        Assert.Single(server.Log.Split('\n'), l => l.Contains(reason, StringComparison.Ordinal));
        Assert.DoesNotContain("reload-secret", server.Log, StringComparison.Ordinal);
        Assert.Equal(HttpStatusCode.NotFound, read.StatusCode);
        Assert.False(server.HasExited);
    }

    [Fact]
    public async Task An_api_auth_mode_changed_in_the_config_file_while_the_server_runs_is_named_in_warning_9001_and_the_mode_in_use_stays()
    {
        var dataDir = _temp.Combine("data");
        var config = _temp.Combine("settings.json");
        await File.WriteAllTextAsync(config, """{ "Trousseau": { "Store": "memory" } }""");
        await using var server = await TrousseauServerProcess.StartAsync(dataDir, ["--config", config]);
        using var anonymous = new HttpClient { BaseAddress = server.BaseAddress };

        await File.WriteAllTextAsync(config, """{ "Trousseau": { "Store": "memory", "Api": { "Auth": { "Mode": "none" } } } }""");
        var warning = await Eventually.ReturnsAsync(
            () => Task.FromResult(server.Log.Split('\n').Select(l => l.Trim()).FirstOrDefault(l => l.StartsWith(NotTaken, StringComparison.Ordinal))),
            line => line is not null,
            awaited: "warning 9001 for the changed mode",
            show: _ => server.Log);
        using var read = await anonymous.GetAsync(new Uri("v1/secrets/absent", UriKind.Relative));

        Assert.StartsWith(
            $"{NotTaken}Trousseau:Api:Auth:Mode is 'none' in the changed configuration, but the mode is read only at start: the API goes on authenticating as it started, in mode 'token', until trousseaud restarts.",
            warning,
            StringComparison.Ordinal);
        Assert.Equal(HttpStatusCode.Unauthorized, read.StatusCode);
        Assert.False(server.HasExited);
    }

    [Theory]
    [InlineData("https://vault :8200", "which is not a URL.")]
    [InlineData("vault:8200", "which is not an http(s) URL such as https://vault:8200.")]
    [InlineData("/vault", "which is not an http(s) URL such as https://vault:8200.")]
    [InlineData("ftp://vault:8200", "which is not an http(s) URL such as https://vault:8200.")]
    public async Task A_vault_address_with_a_space_inside_or_not_an_absolute_http_url_exits_2_naming_the_setting(string address, string why)
    {
        var result = await TrousseauServerProcess.RunToExitAsync(
            _temp.Combine("data"), ["--Trousseau:KeyProvider=vault", $"--Trousseau:Vault:Address={address}", "--Trousseau:Vault:Auth:Token=hvs.address-test"]);

        AssertRefused(result, $"Trousseau:Vault:Address is '{address}', {why}");
        Assert.DoesNotContain("hvs.address-test", result.Stdout + result.Stderr, StringComparison.Ordinal);
        Assert.False(Directory.Exists(_temp.Combine("data")));
    }

    [Theory]
    [InlineData("DataKeys:MaxAge", "3600")]
    [InlineData("Worker:Interval", "30")]
    [InlineData("Kms:ProviderTimeout", " 2 ")]
    public async Task A_time_span_given_as_a_bare_number_exits_2_saying_it_would_be_read_as_days(string key, string value)
    {
        var result = await TrousseauServerProcess.RunToExitAsync(_temp.Combine("data"), [$"--Trousseau:{key}={value}"]);

        AssertRefused(result, $"Trousseau:{key} is '{value}', a number alone, which .NET reads as {value.Trim()} days");
        Assert.False(Directory.Exists(_temp.Combine("data")));
    }

    [Fact]
    public async Task A_value_given_to_the_section_itself_exits_2_rather_than_being_passed_over()
    {
        var config = _temp.Combine("settings.json");
        await File.WriteAllTextAsync(config, """{ "Trousseau": "sqlite-please" }""");

        var result = await TrousseauServerProcess.RunToExitAsync(_temp.Combine("data"), ["--config", config]);

        AssertRefused(result, "Trousseau is given a value of its own");
        Assert.DoesNotContain("sqlite-please", result.Stderr, StringComparison.Ordinal);
        Assert.False(Directory.Exists(_temp.Combine("data")));
    }

    [Theory]
    [InlineData("Store", " memory ", "Trousseau:Store is ' memory ', which trousseaud does not know: use one of sqlite, etcd, memory")]
    [InlineData("Store", "", "Trousseau:Store is '', which names none: use one of sqlite, etcd, memory (case-insensitive), or leave it out for sqlite.")]
    [InlineData("KeyProvider", " ", "Trousseau:KeyProvider is ' ', which names none: use one of local, vault (case-insensitive), or leave it out for local.")]
    public async Task A_backend_choice_that_is_blank_or_padded_exits_2_naming_every_choice(string key, string value, string named)
    {
        var result = await TrousseauServerProcess.RunToExitAsync(_temp.Combine("data"), [$"--Trousseau:{key}={value}"]);

        AssertRefused(result, named);
        Assert.False(Directory.Exists(_temp.Combine("data")));
    }

    [Theory]
    [InlineData("environment", "DataKeys:MaxUses", "a whole number")]
    [InlineData("environment", "Api:Enabled", "true or false")]
    [InlineData("file", "Worker:Interval", "a time span such as 00:00:30")]
    [InlineData("file", "Api:AllowInsecureHttp", "true or false")]
    [InlineData("command line", "Kms:Enabled", "true or false")]
    [InlineData("command line", "Audit:MaxFiles", "a whole number")]
    public async Task An_empty_number_time_span_or_boolean_exits_2_naming_what_it_takes_rather_than_keeping_its_default(string source, string key, string expected)
    {
        var config = _temp.Combine("settings.json");
        var parts = key.Split(':');
        await File.WriteAllTextAsync(config, source == "file"
            ? $$"""{ "Trousseau": { "{{parts[0]}}": { "{{parts[1]}}": "" } } }"""
            : """{ "Trousseau": { } }""");
        var environment = new Dictionary<string, string?>();
        if (source == "environment")
        {
            environment[$"Trousseau__{key.Replace(":", "__", StringComparison.Ordinal)}"] = "";
        }

        string[] args = source == "command line" ? ["--config", config, $"--Trousseau:{key}="] : ["--config", config];

        var result = await TrousseauServerProcess.RunToExitAsync(_temp.Combine("data"), args, environment);

        AssertRefused(result, $"Trousseau:{key} is '', which is not {expected}: write one, or leave the setting out for its default.");
        Assert.False(Directory.Exists(_temp.Combine("data")));
    }

    [Theory]
    [InlineData("DataKeys:MaxUses", "0", "Trousseau:DataKeys:MaxUses must be between 1 and 2147483648, not 0.")]
    [InlineData("DataKeys:MaxUses", "2147483649", "Trousseau:DataKeys:MaxUses must be between 1 and 2147483648, not 2147483649.")]
    [InlineData("DataKeys:CacheSize", "0", "Trousseau:DataKeys:CacheSize must be between 1 and 1000000, not 0.")]
    [InlineData("DataKeys:CacheSize", "1000001", "Trousseau:DataKeys:CacheSize must be between 1 and 1000000, not 1000001.")]
    [InlineData("DataKeys:MaxAge", "00:00:00", "Trousseau:DataKeys:MaxAge must be a positive time span (for example 01:00:00), not 00:00:00.")]
    [InlineData("DataKeys:CacheTimeToLive", "00:00:00", "Trousseau:DataKeys:CacheTimeToLive must be a positive time span (for example 01:00:00), not 00:00:00.")]
    [InlineData("Sqlite:BusyTimeout", "00:00:00", "Trousseau:Sqlite:BusyTimeout is 00:00:00; it must be above 00:00:00 and at most 00:10:00.")]
    [InlineData("Sqlite:BusyTimeout", "00:10:00.0000001", "Trousseau:Sqlite:BusyTimeout is 00:10:00.0000001; it must be above 00:00:00 and at most 00:10:00.")]
    [InlineData("Kms:ProviderTimeout", "00:00:00", "Trousseau:Kms:ProviderTimeout is 00:00:00; it must be above 00:00:00 and at most 00:00:30.")]
    [InlineData("Kms:ProviderTimeout", "00:00:30.0000001", "Trousseau:Kms:ProviderTimeout is 00:00:30.0000001; it must be above 00:00:00 and at most 00:00:30.")]
    [InlineData("Kms:StatusCacheDuration", "-00:00:00.0000001", "Trousseau:Kms:StatusCacheDuration is -00:00:00.0000001; it must be at least 00:00:00 and at most 00:00:50.")]
    [InlineData("Kms:StatusCacheDuration", "00:00:50.0000001", "Trousseau:Kms:StatusCacheDuration is 00:00:50.0000001; it must be at least 00:00:00 and at most 00:00:50.")]
    [InlineData("Api:MaxRequestBodyBytes", "65535", "Trousseau:Api:MaxRequestBodyBytes is 65535; it must be at least 65536 (64 KiB) and at most 67108864 (64 MiB).")]
    [InlineData("Api:MaxRequestBodyBytes", "67108865", "Trousseau:Api:MaxRequestBodyBytes is 67108865; it must be at least 65536 (64 KiB) and at most 67108864 (64 MiB).")]
    [InlineData("Api:Auth:MaxLoginsPerSecond", "0", "Trousseau:Api:Auth:MaxLoginsPerSecond is 0; it must be a whole number from 1 to 10000.")]
    [InlineData("Api:Auth:MaxLoginsPerSecond", "10001", "Trousseau:Api:Auth:MaxLoginsPerSecond is 10001; it must be a whole number from 1 to 10000.")]
    [InlineData("Audit:MaxFileBytes", "1023", "Trousseau:Audit:MaxFileBytes is 1023; it must be at least 1024 and at most 1099511627776 (1 TiB).")]
    [InlineData("Audit:MaxFileBytes", "1099511627777", "Trousseau:Audit:MaxFileBytes is 1099511627777; it must be at least 1024 and at most 1099511627776 (1 TiB).")]
    [InlineData("Audit:MaxFiles", "0", "Trousseau:Audit:MaxFiles is 0; it must be at least 1 and at most 1000.")]
    [InlineData("Audit:MaxFiles", "1001", "Trousseau:Audit:MaxFiles is 1001; it must be at least 1 and at most 1000.")]
    [InlineData("Worker:Interval", "00:00:00.0999999", "Trousseau:Worker:Interval is 00:00:00.0999999; it must be at least 00:00:00.1 and at most 1.00:00:00.")]
    [InlineData("Worker:Interval", "1.00:00:00.0000001", "Trousseau:Worker:Interval is 1.00:00:00.0000001; it must be at least 00:00:00.1 and at most 1.00:00:00.")]
    [InlineData("Vault:Timeout", "00:00:00.0099999", "Trousseau:Vault:Timeout is 00:00:00.0099999; it must be at least 00:00:00.01 and at most 00:05:00.")]
    [InlineData("Vault:Timeout", "00:05:00.0000001", "Trousseau:Vault:Timeout is 00:05:00.0000001; it must be at least 00:00:00.01 and at most 00:05:00.")]
    public async Task A_number_or_time_span_just_beyond_a_bound_the_reference_gives_exits_2_naming_the_bounds_and_creates_nothing(string key, string value, string named)
    {
        string[] vault = key.StartsWith("Vault:", StringComparison.Ordinal)
            ? ["--Trousseau:KeyProvider=vault", "--Trousseau:Vault:Address=http://127.0.0.1:1", "--Trousseau:Vault:Auth:Token=hvs.bound-test", "--Trousseau:Kms:Enabled=false"]
            : [];

        var result = await TrousseauServerProcess.RunToExitAsync(_temp.Combine("data"), [.. vault, $"--Trousseau:{key}={value}"]);

        AssertRefused(result, named);
        Assert.DoesNotContain("hvs.bound-test", result.Stdout + result.Stderr, StringComparison.Ordinal);
        Assert.False(Directory.Exists(_temp.Combine("data")));
    }

    [Theory]
    [InlineData("lowest")]
    [InlineData("highest")]
    public async Task Every_bound_the_reference_gives_is_itself_accepted_and_the_server_serves(string edge)
    {
        string[] settings = edge == "lowest"
            ? ["DataKeys:MaxUses=1", "DataKeys:CacheSize=1", "DataKeys:MaxAge=00:00:00.0000001", "DataKeys:CacheTimeToLive=00:00:00.0000001",
                "Sqlite:BusyTimeout=00:00:00.0000001", "Kms:ProviderTimeout=00:00:00.0000001", "Kms:StatusCacheDuration=00:00:00",
                "Api:MaxRequestBodyBytes=65536", "Api:Auth:MaxLoginsPerSecond=1", "Audit:MaxFileBytes=1024", "Audit:MaxFiles=1", "Worker:Interval=00:00:00.1"]
            : ["DataKeys:MaxUses=2147483648", "DataKeys:CacheSize=1000000", "Sqlite:BusyTimeout=00:10:00", "Kms:ProviderTimeout=00:00:30",
                "Kms:StatusCacheDuration=00:00:50", "Api:MaxRequestBodyBytes=67108864", "Api:Auth:MaxLoginsPerSecond=10000",
                "Audit:MaxFileBytes=1099511627776", "Audit:MaxFiles=1000", "Worker:Interval=1.00:00:00"];
        var dataDir = _temp.Combine("data");

        await using var server = await TrousseauServerProcess.StartAsync(dataDir, settings.Select(setting => $"--Trousseau:{setting}"));
        using var http = await BearerClient.FromTokenFileAsync(server.BaseAddress, Path.Combine(dataDir, "api.token"));
        using var read = await http.GetAsync(new Uri("v1/secrets/absent", UriKind.Relative));

        Assert.Equal(HttpStatusCode.NotFound, read.StatusCode);
        Assert.False(server.HasExited);
    }

    [Theory]
    [InlineData(new[] { "--Trousseau:Api:Auth:KubernetesRole=api-callers" },
        "Trousseau:Api:Auth:Mode is 'kubernetes', which checks callers through Vault and needs the Vault key provider; set Trousseau:KeyProvider to vault, or set Trousseau:Api:Auth:Mode to token or none.")]
    [InlineData(new[] { "--Trousseau:KeyProvider=vault", "--Trousseau:Vault:Address=http://127.0.0.1:1", "--Trousseau:Vault:Auth:Token=hvs.mode-test" },
        "Trousseau:Api:Auth:KubernetesRole is not set; while Trousseau:Api:Auth:Mode is kubernetes it must name the Vault Kubernetes auth role callers log in to (for example api-callers), or set Trousseau:Api:Auth:Mode to token or none.")]
    public async Task Kubernetes_auth_without_the_vault_key_provider_or_without_a_role_exits_2_naming_what_it_needs_and_creates_nothing(string[] settings, string named)
    {
        var result = await TrousseauServerProcess.RunToExitAsync(_temp.Combine("data"), ["--Trousseau:Api:Auth:Mode=kubernetes", .. settings]);

        AssertRefused(result, named);
        Assert.DoesNotContain("hvs.mode-test", result.Stdout + result.Stderr, StringComparison.Ordinal);
        Assert.False(Directory.Exists(_temp.Combine("data")));
    }

    private static void AssertRefused(ProcessResult result, string named)
    {
        Assert.True(result.ExitCode == 2, $"exit {result.ExitCode}; stderr: {result.Stderr}");
        var line = Assert.Single(result.Stderr.Split('\n', StringSplitOptions.RemoveEmptyEntries));
        Assert.StartsWith(Invalid, line, StringComparison.Ordinal);
        Assert.Contains(named, line, StringComparison.Ordinal);
        Assert.DoesNotContain("   at ", result.Stdout + result.Stderr, StringComparison.Ordinal);
    }

    private static Task<ProcessResult> RunInAsync(string workingDirectory, IEnumerable<string> args, IReadOnlyDictionary<string, string?>? environment = null) =>
        ChildProcess.RunAsync(DotnetProcess.StartInfo(RepositoryPaths.Server, args, workingDirectory, environment));
}
