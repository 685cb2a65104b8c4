using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Http.Resilience;
using Microsoft.Extensions.Options;
using Trousseau.Remote;
using Trousseau.Tests.Integration.Infrastructure;

namespace Trousseau.Tests.Integration.Remote;

/// <summary>
/// <see cref="TrousseauClient"/> as applications register it with <c>IHttpClientFactory</c>
/// (<c>AddTrousseauClient</c>), from a real <see cref="ServiceCollection"/> or host, against a real trousseaud or a
/// Kestrel stand-in.
/// </summary>
public sealed class TrousseauClientRegistrationTests(ApiServerFixture fixture) : IClassFixture<ApiServerFixture>
{
    private const string Section = "Trousseau:Client";
    private const string Token = "registered-token-5c1d";

    [Fact]
    public async Task A_client_registered_in_code_resolves_as_ITrousseau_and_calls_trousseaud()
    {
        var services = new ServiceCollection();
        services.AddTrousseauClient(o =>
        {
            o.BaseAddress = fixture.Server.BaseAddress;
            o.Token = fixture.Token;
        });
        await using var provider = services.BuildServiceProvider();

        var created = await provider.GetRequiredService<ITrousseau>().CreateSecretAsync("registered/code", SecretType.Opaque, new Dictionary<string, string> { ["k"] = "v" });
        var read = await provider.GetRequiredService<TrousseauClient>().GetSecretAsync("registered/code");
        var key = await provider.GetRequiredService<IKeyAdministration>().GetKeyStatusAsync();

        Assert.Equal(created, read.Metadata);
        Assert.Equal("v", read.Data["k"]);
        Assert.Equal("local", key.Provider);
    }

    /// <summary>
    /// The token file is read again once it changes, as an operator rotating the token writes it: a token the server
    /// refuses is refused, and the right one, written back, is sent on the next call.
    /// </summary>
    [Fact]
    public async Task A_client_bound_from_configuration_sends_the_token_of_its_file_as_the_file_changes()
    {
        using var temp = new TempDirectory();
        var tokenFile = temp.Combine("api.token");
        await File.WriteAllTextAsync(tokenFile, fixture.Token + "\n");
        var services = new ServiceCollection();
        services.AddTrousseauClient(Configuration(new()
        {
            ["BaseAddress"] = fixture.Server.BaseAddress.AbsoluteUri.TrimEnd('/'),
            ["TokenFile"] = tokenFile,
        }));
        await using var provider = services.BuildServiceProvider();
        var client = provider.GetRequiredService<TrousseauClient>();

        var before = await client.WhoAmIAsync();
        await File.WriteAllTextAsync(tokenFile, "a-token-the-server-never-gave\n");
        await Assert.ThrowsAsync<AccessForbiddenException>(async () => await client.WhoAmIAsync());
        await File.WriteAllTextAsync(tokenFile, fixture.Token + "\n");
        var after = await client.WhoAmIAsync();

        Assert.Equal("admin", before.Identity);
        Assert.Equal("admin", after.Identity);
    }

    [Fact]
    public async Task A_redirect_is_not_followed_so_the_values_go_to_no_address_but_the_one_given()
    {
        await using var elsewhere = await RecordingServer.StartAsync(_ => Results.Json(new { }, statusCode: StatusCodes.Status201Created));
        var location = new Uri(elsewhere.BaseAddress, "v1/secrets");
        await using var redirecting = await RecordingServer.StartAsync(_ => Results.Redirect(location.AbsoluteUri, permanent: false, preserveMethod: true));
        var services = new ServiceCollection();
        services.AddTrousseauClient(o =>
        {
            o.BaseAddress = redirecting.BaseAddress;
            o.Token = Token;
        });
        await using var provider = services.BuildServiceProvider();

        var refused = await Assert.ThrowsAsync<InvalidInputException>(async () => await provider.GetRequiredService<ITrousseau>()
            .CreateSecretAsync("redirected/db", SecretType.Opaque, new Dictionary<string, string> { ["password"] = "s3cret-value" }));

        Assert.Contains($"answered 307 Temporary Redirect, a redirect to {location.AbsoluteUri}, which is not followed", refused.Message, StringComparison.Ordinal);
        Assert.Single(redirecting.Requests);
        Assert.Empty(elsewhere.Requests);
    }

    [Theory]
    [InlineData(null, "Trousseau:Client:BaseAddress is required: the trousseaud URL, for example https://trousseau.example.com:8787.")]
    [InlineData("trousseau.example.com", "Trousseau:Client:BaseAddress is 'trousseau.example.com'; it must be an absolute http:// or https:// URL, for example https://trousseau.example.com:8787.")]
    [InlineData("ftp://trousseau.example.com/", "Trousseau:Client:BaseAddress is 'ftp://trousseau.example.com/'; it must be an absolute http:// or https:// URL, for example https://trousseau.example.com:8787.")]
    public async Task A_missing_or_invalid_base_address_stops_the_host_at_start_naming_the_key(string? baseAddress, string failure)
    {
        using var host = Host(new() { ["BaseAddress"] = baseAddress, ["Token"] = Token });

        var refused = await Assert.ThrowsAsync<OptionsValidationException>(() => host.StartAsync());

        Assert.Equal([failure], refused.Failures);
    }

    [Fact]
    public async Task A_token_for_plain_http_to_another_machine_stops_the_host_at_start_and_nothing_is_sent()
    {
        await using var remote = await RecordingServer.StartElsewhereAsync(_ => Results.Json(new { }));
        using var host = Host(new() { ["BaseAddress"] = remote.BaseAddress.AbsoluteUri, ["Token"] = Token });

        var refused = await Assert.ThrowsAsync<OptionsValidationException>(() => host.StartAsync());

        var failure = Assert.Single(refused.Failures);
        Assert.StartsWith($"Trousseau:Client:BaseAddress {remote.BaseAddress.AbsoluteUri} is plain HTTP to a server that is not on this machine", failure, StringComparison.Ordinal);
        Assert.Contains("set Trousseau:Client:AllowInsecureHttp to true", failure, StringComparison.Ordinal);
        Assert.DoesNotContain(Token, refused.Message, StringComparison.Ordinal);
        Assert.Empty(remote.Requests);
    }

    [Fact]
    public async Task A_token_file_that_does_not_exist_stops_the_host_at_start_naming_the_key_and_the_file()
    {
        using var temp = new TempDirectory();
        using var host = Host(new() { ["BaseAddress"] = fixture.Server.BaseAddress.AbsoluteUri, ["TokenFile"] = temp.Combine("absent.token") });

        var refused = await Assert.ThrowsAsync<OptionsValidationException>(() => host.StartAsync());

        Assert.Equal([$"Trousseau:Client:TokenFile: The token file {temp.Combine("absent.token")} does not exist."], refused.Failures);
    }

    /// <summary>
    /// A FIFO at the token file's path would have the start wait for a writer that never comes, and a device such as
    /// /dev/zero be read without end: the start stops at once, naming the file and what it is.
    /// </summary>
    [Fact]
    public async Task A_token_file_that_is_a_fifo_or_a_device_stops_the_host_at_start_naming_what_it_is_instead_of_waiting()
    {
        using var temp = new TempDirectory();
        var fifo = temp.Combine("fifo.token");
        await Fifo.MakeAsync(fifo);
        var device = temp.Combine("zero.token");
        File.CreateSymbolicLink(device, "/dev/zero");
        using var fromFifo = Host(new() { ["BaseAddress"] = fixture.Server.BaseAddress.AbsoluteUri, ["TokenFile"] = fifo });
        using var fromDevice = Host(new() { ["BaseAddress"] = fixture.Server.BaseAddress.AbsoluteUri, ["TokenFile"] = device });

        // The options are checked before StartAsync first yields: run it where a start that waits blocks no test thread.
        var fifoRefused = await Assert.ThrowsAsync<OptionsValidationException>(
            () => Task.Run(() => fromFifo.StartAsync()).WaitAsync(TimeSpan.FromSeconds(30)));
        var deviceRefused = await Assert.ThrowsAsync<OptionsValidationException>(
            () => Task.Run(() => fromDevice.StartAsync()).WaitAsync(TimeSpan.FromSeconds(30)));

        Assert.Equal([$"Trousseau:Client:TokenFile: The token file {fifo} is not a regular file but a FIFO; it must be the file that holds the API token, as trousseaud writes it to api.token."], fifoRefused.Failures);
        Assert.Equal([$"Trousseau:Client:TokenFile: The token file {device} is not a regular file but a character device; it must be the file that holds the API token, as trousseaud writes it to api.token."], deviceRefused.Failures);
    }

    /// <summary>
    /// The token file checked at start and removed before the client's first call: the call fails with the library's typed error
    /// naming the file, and sends nothing, rather than with a bare file-system exception.
    /// </summary>
    [Fact]
    public async Task A_token_file_removed_after_the_start_fails_the_first_call_as_unavailable_naming_the_file_and_sends_nothing()
    {
        using var temp = new TempDirectory();
        var tokenFile = temp.Combine("api.token");
        await File.WriteAllTextAsync(tokenFile, Token + "\n");
        await using var remote = await RecordingServer.StartAsync(_ => Results.Json(new { identity = "admin", actions = Array.Empty<string>() }));
        using var host = Host(new() { ["BaseAddress"] = remote.BaseAddress.AbsoluteUri, ["TokenFile"] = tokenFile });
        await host.StartAsync();
        var client = host.Services.GetRequiredService<TrousseauClient>();
        File.Delete(tokenFile);

        var refused = await Assert.ThrowsAsync<DependencyUnavailableException>(async () => await client.WhoAmIAsync());

        Assert.Equal($"The token file {tokenFile} does not exist; no request was sent to trousseaud without the token it holds.", refused.Message);
        Assert.Empty(remote.Requests);
        await host.StopAsync();
    }

    [Fact]
    public void A_typed_client_registered_without_AddTrousseauClient_fails_saying_to_use_it()
    {
        var services = new ServiceCollection();
        services.AddHttpClient<TrousseauClient>(http => http.BaseAddress = new Uri("http://127.0.0.1:1/"));
        using var provider = services.BuildServiceProvider();

        var refused = Assert.Throws<InvalidOperationException>(() => provider.GetRequiredService<TrousseauClient>());

        Assert.Contains("AddTrousseauClient", refused.Message, StringComparison.Ordinal);
    }

    /// <summary>
    /// <c>AddHttpClient&lt;TrousseauClient&gt;()</c> after <c>AddTrousseauClient</c> customises the same client, as the
    /// builder <c>AddTrousseauClient</c> returns does: a standard resilience handler with retries kept to reads retries
    /// a read answered 503, and sends a write once. The stand-in answers every odd request 503, every even one 200.
    /// </summary>
    [Fact]
    public async Task A_resilience_handler_added_to_the_typed_client_retries_reads_and_sends_writes_once()
    {
        var answered = 0;
        await using var flaky = await RecordingServer.StartAsync(_ => Interlocked.Increment(ref answered) % 2 == 1
            ? Results.StatusCode(StatusCodes.Status503ServiceUnavailable)
            : Results.Json(new { keyId = "local:1", provider = "local", version = 1 }));
        var services = new ServiceCollection();
        services.AddTrousseauClient(o =>
        {
            o.BaseAddress = flaky.BaseAddress;
            o.Token = Token;
        });
        services.AddHttpClient<TrousseauClient>().AddStandardResilienceHandler(o =>
        {
            o.Retry.DisableForUnsafeHttpMethods();
            o.Retry.Delay = TimeSpan.Zero;
        });
        await using var provider = services.BuildServiceProvider();
        var client = provider.GetRequiredService<TrousseauClient>();

        var read = await client.GetKeyStatusAsync();
        await Assert.ThrowsAsync<DependencyUnavailableException>(async () => await client.RotateKeyAsync());

        Assert.Equal("local", read.Provider);
        Assert.Equal(["GET", "GET", "POST"], flaky.Requests.Select(r => r.Method));
        Assert.All(flaky.Requests, r => Assert.Equal("Bearer " + Token, r.Header("Authorization")));
    }

    private static IConfigurationSection Configuration(Dictionary<string, string?> settings) =>
        new ConfigurationBuilder()
            .AddInMemoryCollection(settings.Select(s => KeyValuePair.Create($"{Section}:{s.Key}", s.Value)))
            .Build()
            .GetSection(Section);

    private static IHost Host(Dictionary<string, string?> settings)
    {
        var builder = Microsoft.Extensions.Hosting.Host.CreateApplicationBuilder(new HostApplicationBuilderSettings { DisableDefaults = true });
        builder.Services.AddTrousseauClient(Configuration(settings));
        return builder.Build();
    }
}
