using System.Net;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Testing;
using Microsoft.Extensions.Time.Testing;
using Trousseau.Tests.Integration.Infrastructure;
using Trousseau.Vault;

namespace Trousseau.Tests.Integration.Vault;

/// <summary>
/// The Vault token's life inside the key provider, as a Kubernetes or Vault operator sees it: projected
/// service-account tokens that kubelet rotates, renewals Vault caps or refuses, logins that fail while the token is
/// still good, and many calls at the moment the token runs out. Time is a <see cref="FakeTimeProvider"/> shared with
/// the Vault test server, so TTLs pass without waiting; what Vault saw is counted at the server, and the provider's
/// log is captured to check that it says a failure once and never holds a JWT, a secret id or a token.
/// </summary>
public sealed class VaultTokenLifecycleTests(VaultFixture fixture) : IClassFixture<VaultFixture>, IAsyncLifetime, IDisposable
{
    private static readonly TimeSpan Minute = TimeSpan.FromMinutes(1);

    private readonly VaultTarget _vault = fixture.ForNextTest();
    private readonly FakeTimeProvider _clock = new(DateTimeOffset.UtcNow);
    private readonly FakeLogCollector _log = new();
    private readonly TempDirectory _files = new();
    private readonly List<string> _credentials = [];
    private readonly List<ServiceProvider> _providers = [];
    private readonly string _role = "lifecycle-" + Guid.NewGuid().ToString("N")[..8];

    public Task InitializeAsync() => Task.CompletedTask;

    public async Task DisposeAsync()
    {
        // Disposing the Vault client waits for calls still under way (a renewal in the background, or the calls of a
        // test that failed) on the test clock: keep it moving.
        foreach (var provider in _providers)
        {
            var disposed = provider.DisposeAsync().AsTask();
            await WhileTheClockRunsAsync(() => disposed.IsCompleted);
            await disposed;
        }
    }

    public void Dispose() => _files.Dispose();

    [VaultTestServerFact]
    public async Task Each_kubernetes_login_after_kubelet_swapped_the_projected_token_sends_the_new_token()
    {
        var server = Server();
        var (provider, token) = KubernetesWithTtl(Minute, Minute);
        var (logins, succeeded) = (server.Count("auth/kubernetes/login"), server.Count("auth/kubernetes/login", 200));
        await RoundTripAsync(provider);

        for (var rotation = 1; rotation <= 2; rotation++)
        {
            // kubelet writes a new token and swaps ..data; the API server stops admitting the old one.
            var previous = token.Jwt;
            token.Rotate(Jwt());
            server.AddKubernetesRole(_role, token.Jwt, Minute, Minute);
            server.RejectServiceAccountToken(previous);

            // Past two thirds of the TTL the renewal meets the max TTL (15 s left of 60): time to log in again, in
            // the background while the call goes on with the valid token.
            _clock.Advance(TimeSpan.FromSeconds(45));
            await RoundTripAsync(provider);
            await Eventually.HoldsAsync(() => server.Count("auth/kubernetes/login") - logins == 1 + rotation);
        }

        Assert.Equal(3, server.Count("auth/kubernetes/login", 200) - succeeded);
        Assert.Equal(3, server.Count("auth/kubernetes/login") - logins);
        AssertNoCredentialLeaked();
    }

    [VaultTestServerTheory]
    [InlineData("missing")]
    [InlineData("empty")]
    [InlineData("a directory")]
    public async Task A_jwt_file_missing_empty_or_unreadable_at_a_login_is_an_unavailable_error_naming_the_file_and_nothing_is_sent(string damage)
    {
        var server = Server();
        var (provider, token) = KubernetesWithTtl(Minute, Minute);
        await RoundTripAsync(provider);
        var logins = server.Count("/login");

        token.Damage(damage);
        server.RevokeAllTokens();
        var error = await Assert.ThrowsAsync<DependencyUnavailableException>(async () => await provider.WrapAsync("dek"u8.ToArray()));

        Assert.Contains($"Trousseau:Vault:Auth:JwtFile '{token.Path}'", error.Message, StringComparison.Ordinal);
        Assert.Equal(0, server.Count("/login") - logins);
        AssertNoCredentialLeaked(error);
    }

    [VaultTestServerFact]
    public async Task A_jwt_file_missing_when_a_login_is_due_leaves_calls_working_on_the_valid_token_and_the_warning_names_the_file()
    {
        var server = Server();
        var (provider, token) = KubernetesWithTtl(Minute, Minute);
        await RoundTripAsync(provider);
        var logins = server.Count("/login");

        // At 45 s the renewal meets the max TTL and a login is due, but the projected token is gone.
        token.Damage("missing");
        _clock.Advance(TimeSpan.FromSeconds(45));
        await RoundTripAsync(provider);
        await Eventually.HoldsAsync(() => Warnings().Count > 0);
        await RoundTripAsync(provider);

        var warning = Assert.Single(Warnings());
        Assert.Contains($"Trousseau:Vault:Auth:JwtFile '{token.Path}' cannot be read", warning.Message, StringComparison.Ordinal);
        Assert.Equal(0, server.Count("/login") - logins);
        AssertNoCredentialLeaked();
    }

    [VaultTestServerTheory]
    [InlineData("k8s-missing", null)]
    [InlineData("kubernetes", "no-such-role")]
    public async Task A_kubernetes_login_at_a_mount_without_the_method_or_as_an_unknown_role_is_an_error_naming_both(string mount, string? role)
    {
        var server = Server();
        var token = ProjectedServiceAccountToken.Create(_files.Combine("serviceaccount"), Jwt());
        server.AddKubernetesRole(_role, token.Jwt, Minute, Minute);
        var provider = Build(o =>
        {
            o.Auth.Method = "kubernetes";
            o.Auth.Mount = mount;
            o.Auth.Role = role ?? _role;
            o.Auth.JwtFile = token.Path;
        });
        var logins = server.Count($"auth/{mount}/login");

        var error = await Assert.ThrowsAsync<DependencyUnavailableException>(async () => await provider.WrapAsync("dek"u8.ToArray()));

        Assert.Contains($"Trousseau:Vault:Auth:Mount '{mount}'", error.Message, StringComparison.Ordinal);
        Assert.Contains($"Trousseau:Vault:Auth:Role '{role ?? _role}'", error.Message, StringComparison.Ordinal);
        Assert.Equal(1, server.Count($"auth/{mount}/login") - logins);
        AssertNoCredentialLeaked(error);
    }

    [VaultTestServerFact]
    public async Task An_empty_secret_id_file_at_a_login_is_an_unavailable_error_naming_the_file_and_nothing_is_sent()
    {
        var server = Server();
        var (roleId, secretId) = ("role-" + Guid.NewGuid().ToString("N"), Secret());
        server.AddAppRole(roleId, secretId);
        var secretIdFile = _files.Combine("secret-id");
        await File.WriteAllTextAsync(secretIdFile, secretId);
        var provider = Build(o =>
        {
            o.Auth.Method = "approle";
            o.Auth.RoleId = roleId;
            o.Auth.SecretIdFile = secretIdFile;
        });
        await RoundTripAsync(provider);
        var logins = server.Count("/login");

        await File.WriteAllTextAsync(secretIdFile, "\n");
        server.RevokeAllTokens();
        var error = await Assert.ThrowsAsync<DependencyUnavailableException>(async () => await provider.WrapAsync("dek"u8.ToArray()));

        Assert.Contains($"Trousseau:Vault:Auth:SecretIdFile '{secretIdFile}'", error.Message, StringComparison.Ordinal);
        Assert.Contains("empty", error.Message, StringComparison.Ordinal);
        Assert.Equal(0, server.Count("/login") - logins);
        AssertNoCredentialLeaked(error);
    }

    [VaultTestServerTheory]
    [InlineData("TokenFile")]
    [InlineData("SecretIdFile")]
    [InlineData("JwtFile")]
    public async Task A_credential_file_with_a_line_break_inside_is_an_unavailable_error_naming_the_file_not_its_content_until_it_is_fixed(string key)
    {
        var server = Server();
        var (provider, path, write, repair, sentTo) = CredentialInFile(key);
        await RoundTripAsync(provider);
        var sent = server.Count(sentTo);

        // Two lines where one credential belongs: a file written by a script that joined two outputs.
        write(Remember("first-line-" + Guid.NewGuid().ToString("N")) + "\n" + Remember("second-line-" + Guid.NewGuid().ToString("N")) + "\n");
        server.RevokeAllTokens();
        var error = await Assert.ThrowsAsync<DependencyUnavailableException>(() =>
            Eventually.EndsAsync(provider.WrapAsync("dek"u8.ToArray()).AsTask(), awaited: $"the call with a line break inside {key}"));

        Assert.Contains($"Trousseau:Vault:Auth:{key} '{path}'", error.Message, StringComparison.Ordinal);
        Assert.Contains("line break or another control character", error.Message, StringComparison.Ordinal);
        Assert.Equal(0, server.Count(sentTo) - sent);
        AssertNoCredentialLeaked(error);

        repair();
        await RoundTripAsync(provider);
    }

    /// <summary>
    /// A key provider whose credential is read from the file the setting <paramref name="key"/> names; that file's
    /// path, a way to write it, what makes it hold a credential Vault admits again, and the path where that credential
    /// is sent.
    /// </summary>
    private (VaultTransitKeyProvider Provider, string Path, Action<string> Write, Action Repair, string SentTo) CredentialInFile(string key)
    {
        var server = Server();
        switch (key)
        {
            case "TokenFile":
            {
                var file = TokenFile.Create("a Vault Agent sink", _files.Combine("vault-token"), server.CreateToken(TimeSpan.FromHours(1), TimeSpan.FromHours(1)));
                var provider = Build(o => o.Auth.TokenFile = file.Path);
                return (provider, file.Path, file.Replace, () => file.Replace(server.CreateToken(TimeSpan.FromHours(1), TimeSpan.FromHours(1))), "lookup-self");
            }

            case "SecretIdFile":
            {
                var (roleId, secretId) = ("role-" + Guid.NewGuid().ToString("N"), Secret());
                server.AddAppRole(roleId, secretId);
                var path = _files.Combine("secret-id");
                File.WriteAllText(path, secretId);
                var provider = Build(o =>
                {
                    o.Auth.Method = "approle";
                    o.Auth.RoleId = roleId;
                    o.Auth.SecretIdFile = path;
                });
                return (provider, path, text => File.WriteAllText(path, text), () => File.WriteAllText(path, secretId), "/login");
            }

            default:
            {
                var (provider, token) = KubernetesWithTtl(Minute, Minute);
                var jwt = token.Jwt;
                return (provider, token.Path, token.Rotate, () => token.Rotate(jwt), "/login");
            }
        }
    }

    [VaultTestServerFact]
    public async Task A_token_vault_issues_as_not_renewable_is_never_renewed_and_is_replaced_by_a_login_before_it_expires()
    {
        var server = Server();
        var (provider, _) = KubernetesWithTtl(TimeSpan.FromSeconds(30), Minute, batchTokens: true);
        var (renewals, refused, logins) = (server.Count("renew-self"), server.Count("", 403), server.Count("auth/kubernetes/login", 200));

        // Two minutes of traffic, a call every 2 s.
        for (var call = 0; call < 60; call++)
        {
            await RoundTripAsync(provider);
            _clock.Advance(TimeSpan.FromSeconds(2));
        }

        // Logins at 0, 20, 40, 60, 80 and 100 s: each at two thirds of its token's TTL, the last in the background.
        await Eventually.HoldsAsync(() => server.Count("auth/kubernetes/login", 200) - logins == 6);
        Assert.Equal(0, server.Count("renew-self") - renewals);
        Assert.Equal(0, server.Count("", 403) - refused);
        AssertNoCredentialLeaked();
    }

    [VaultTestServerTheory]
    [InlineData("kubernetes", 400, "invalid role name \"trousseau\"")]
    [InlineData("kubernetes", 403, "permission denied")]
    [InlineData("kubernetes", 500, "internal error")]
    [InlineData("approle", 400, "invalid role or secret ID")]
    [InlineData("approle", 503, "Vault is sealed")]
    public async Task A_login_failing_while_the_token_is_still_valid_leaves_calls_working_and_is_logged_once_without_credentials(string method, int status, string error)
    {
        var server = Server();
        var provider = method == "kubernetes" ? KubernetesWithTtl(Minute, Minute).Provider : AppRoleWithTtl(Minute, Minute);
        await RoundTripAsync(provider);
        var (failed, succeeded) = (server.Count("/login", status), server.Count("/login", 200));
        var refused = RefusedCalls(server);

        // At 45 s the renewal grants the 15 s left before the max TTL: the provider logs in, and Vault refuses.
        server.Fault = new VaultTestServer.VaultFault(status, error, PathContains: "/login");
        _clock.Advance(TimeSpan.FromSeconds(45));
        await RoundTripAsync(provider);
        await Eventually.HoldsAsync(() => Warnings().Count > 0);
        for (var call = 0; call < 5; call++)
        {
            await RoundTripAsync(provider);
        }

        var failedLogins = server.Count("/login", status) - failed;
        var warnings = Warnings();

        // Vault answers again; before the token's last 15 s are out, a login replaces it.
        server.Fault = null;
        _clock.Advance(TimeSpan.FromSeconds(10));
        await RoundTripAsync(provider);
        await Eventually.HoldsAsync(() => server.Count("/login", 200) - succeeded > 0);

        Assert.Equal(1, failedLogins);
        var warning = Assert.Single(warnings);
        Assert.Contains(error, warning.Message, StringComparison.Ordinal);
        Assert.Equal(1, server.Count("/login", 200) - succeeded);
        Assert.Equal(refused, RefusedCalls(server));
        AssertNoCredentialLeaked();
    }

    [VaultTestServerFact]
    public async Task A_login_failing_with_minutes_of_token_life_left_is_tried_again_within_30_seconds_as_the_warning_says()
    {
        var server = Server();
        var (provider, _) = KubernetesWithTtl(TimeSpan.FromMinutes(5), TimeSpan.FromMinutes(5), batchTokens: true);
        await RoundTripAsync(provider);
        var succeeded = server.Count("/login", 200);

        // At 200 s, two thirds of its TTL, the token (not renewable) is due for a login, which Vault fails.
        server.Fault = new VaultTestServer.VaultFault(500, "internal error", PathContains: "/login");
        _clock.Advance(TimeSpan.FromSeconds(200));
        await RoundTripAsync(provider);
        await Eventually.HoldsAsync(() => Warnings().Count > 0);
        Assert.Contains("expires in 100 s; trying again in 30 s", Assert.Single(Warnings()).Message, StringComparison.Ordinal);

        // Half of the 100 s left would be 50 s: the login is tried again 30 s later at most.
        server.Fault = null;
        _clock.Advance(TimeSpan.FromSeconds(30));
        await RoundTripAsync(provider);
        await Eventually.HoldsAsync(() => server.Count("/login", 200) - succeeded == 1, () => "no login 30 s after the failed one");

        AssertNoCredentialLeaked();
    }

    [VaultTestServerTheory]
    [InlineData("a kubernetes role that does not exist", "invalid role name")]
    [InlineData("a service-account token the role does not admit", "permission denied")]
    [InlineData("an approle secret id that is wrong or used up", "invalid role or secret ID")]
    public async Task Calls_after_vault_refused_the_login_fail_at_once_without_sending_the_same_credentials_again_until_a_backoff_passes(string refusal, string vaultError)
    {
        var server = Server();
        var (provider, loginPath, repair) = Refused(refusal);
        var logins = server.Count(loginPath);

        // Every call needs a token, and the one login Vault refused is not sent again at each call.
        var errors = new List<DependencyUnavailableException>();
        for (var call = 0; call < 10; call++)
        {
            errors.Add(await Assert.ThrowsAsync<DependencyUnavailableException>(async () => await provider.WrapAsync("dek"u8.ToArray())));
        }

        var refusedLogins = server.Count(loginPath) - logins;
        var warnings = Warnings();

        // The operator repairs Vault's side; after the backoff the next call logs in, without a restart.
        repair();
        _clock.Advance(TimeSpan.FromSeconds(1));
        await RoundTripAsync(provider);

        Assert.Equal(1, refusedLogins);
        Assert.All(errors, e => Assert.Contains(vaultError, e.Message, StringComparison.Ordinal));
        Assert.All(errors.Skip(1), e => Assert.NotNull(e.RetryAfter));
        Assert.Single(warnings);
        Assert.Equal(2, server.Count(loginPath) - logins);
        AssertNoCredentialLeaked([.. errors]);
    }

    [VaultTestServerFact]
    public async Task Credentials_vault_refuses_in_a_row_wait_twice_as_long_before_each_new_login_up_to_30_seconds()
    {
        var server = Server();
        var (provider, loginPath, _) = Refused("an approle secret id that is wrong or used up");
        await Assert.ThrowsAsync<DependencyUnavailableException>(async () => await provider.WrapAsync("dek"u8.ToArray()));

        // Each refusal in a row doubles the wait before the same secret id is sent again: 1, 2, 4, 8, 16 s, then 30 s.
        foreach (var backoff in new[] { 1, 2, 4, 8, 16, 30, 30 })
        {
            var sent = server.Count(loginPath);
            _clock.Advance(TimeSpan.FromSeconds(backoff - 1));
            var waiting = await Assert.ThrowsAsync<DependencyUnavailableException>(async () => await provider.WrapAsync("dek"u8.ToArray()));
            Assert.True(sent == server.Count(loginPath), $"the refused secret id was sent again {backoff - 1} s after its refusal, before its {backoff} s backoff had passed");
            Assert.Equal(TimeSpan.FromSeconds(1), waiting.RetryAfter);

            _clock.Advance(TimeSpan.FromSeconds(1));
            await Assert.ThrowsAsync<DependencyUnavailableException>(async () => await provider.WrapAsync("dek"u8.ToArray()));
            Assert.True(sent + 1 == server.Count(loginPath), $"the refused secret id was not sent again once its {backoff} s backoff had passed");
        }

        AssertNoCredentialLeaked();
    }

    [VaultTestServerFact]
    public async Task A_service_account_token_vault_refused_is_not_waited_out_once_kubelet_has_written_a_new_one()
    {
        var server = Server();
        var token = ProjectedServiceAccountToken.Create(_files.Combine("serviceaccount"), Jwt());
        server.AddKubernetesRole(_role, Jwt(), Minute, Minute);
        var provider = Kubernetes(token.Path);
        var logins = server.Count("auth/kubernetes/login");
        await Assert.ThrowsAsync<DependencyUnavailableException>(async () => await provider.WrapAsync("dek"u8.ToArray()));
        await Assert.ThrowsAsync<DependencyUnavailableException>(async () => await provider.WrapAsync("dek"u8.ToArray()));

        // kubelet writes a token the API server admits: the next call logs in with it at once.
        token.Rotate(Jwt());
        server.AddKubernetesRole(_role, token.Jwt, Minute, Minute);
        await RoundTripAsync(provider);

        Assert.Equal(2, server.Count("auth/kubernetes/login") - logins);
        AssertNoCredentialLeaked();
    }

    [VaultTestServerFact]
    public async Task A_renewal_vault_refuses_with_403_is_followed_by_one_login_and_the_call_goes_on()
    {
        var server = Server();
        var (provider, _) = KubernetesWithTtl(Minute, TimeSpan.FromHours(1));
        await RoundTripAsync(provider);
        var (renewals, logins) = (server.Count("renew-self", 403), server.Count("auth/kubernetes/login", 200));

        server.RevokeAllTokens();
        _clock.Advance(TimeSpan.FromSeconds(45));
        await RoundTripAsync(provider);

        Assert.Equal(1, server.Count("renew-self", 403) - renewals);
        Assert.Equal(1, server.Count("auth/kubernetes/login", 200) - logins);
        AssertNoCredentialLeaked();
    }

    [VaultTestServerFact]
    public async Task Vault_failing_a_renewal_leaves_the_valid_token_in_use_and_renewal_resumes_when_vault_answers_again()
    {
        var server = Server();
        var (provider, _) = KubernetesWithTtl(Minute, TimeSpan.FromHours(1));
        await RoundTripAsync(provider);
        var (failed, renewed, logins) = (server.Count("renew-self", 500), server.Count("renew-self", 200), server.Count("/login"));

        // The renewal and its two retries meet a Vault answering 500, in the background; the calls go through.
        server.Fault = new VaultTestServer.VaultFault(500, "internal error", PathContains: "renew-self");
        _clock.Advance(TimeSpan.FromSeconds(45));
        await RoundTripAsync(provider);
        await WhileTheClockRunsAsync(() => Warnings().Count > 0);
        for (var call = 0; call < 5; call++)
        {
            await RoundTripAsync(provider);
        }

        var failedRenewals = server.Count("renew-self", 500) - failed;
        var warnings = Warnings();
        server.Fault = null;
        _clock.Advance(TimeSpan.FromSeconds(10));
        await RoundTripAsync(provider);
        await Eventually.HoldsAsync(() => server.Count("renew-self", 200) - renewed > 0);

        Assert.Equal(3, failedRenewals);
        Assert.Single(warnings);
        Assert.Equal(1, server.Count("renew-self", 200) - renewed);
        Assert.Equal(0, server.Count("/login") - logins);
        AssertNoCredentialLeaked();
    }

    [VaultTestServerTheory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task Calls_arriving_together_when_the_token_has_expired_share_one_login(bool loginFails)
    {
        var server = Server();
        var (provider, _) = KubernetesWithTtl(TimeSpan.FromSeconds(30), Minute, batchTokens: true);
        await RoundTripAsync(provider);
        var logins = server.Count("/login");

        // The token has expired; every call waits for the one login, held at the server until all have started.
        _clock.Advance(TimeSpan.FromSeconds(31));
        var release = new TaskCompletionSource();
        server.Hold = new VaultTestServer.VaultHold("/login", release.Task);
        if (loginFails)
        {
            server.Fault = new VaultTestServer.VaultFault(500, "internal error", PathContains: "/login");
        }

        var calls = Enumerable.Range(0, 20).Select(_ => RoundTripAsync(provider)).ToList();
        release.SetResult();
        var outcomes = await Task.WhenAll(calls.Select(async call =>
        {
            try
            {
                await Eventually.EndsAsync(call, awaited: "a call waiting for the login they share");
                return null;
            }
            catch (DependencyUnavailableException e)
            {
                return e;
            }
        }));

        Assert.Equal(1, server.Count("/login") - logins);
        if (loginFails)
        {
            Assert.All(outcomes, e => Assert.Contains("internal error", e?.Message, StringComparison.Ordinal));
            Assert.Single(Warnings());
        }
        else
        {
            Assert.All(outcomes, Assert.Null);
        }

        AssertNoCredentialLeaked([.. outcomes.OfType<Exception>()]);
    }

    [VaultTestServerFact]
    public async Task Calls_while_a_slow_login_is_due_go_on_with_the_valid_token_without_waiting_for_it()
    {
        var server = Server();
        var (provider, _) = KubernetesWithTtl(Minute, Minute);
        await RoundTripAsync(provider);
        var (logins, refused) = (server.Count("/login"), RefusedCalls(server));

        // At 45 s the renewal grants the 15 s left before the max TTL, so a login is due; Vault takes its time over
        // it (a TokenReview against a busy API server): the test server holds it until the test lets it go.
        var login = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        server.Hold = new VaultTestServer.VaultHold("/login", login.Task);
        _clock.Advance(TimeSpan.FromSeconds(45));
        try
        {
            var calls = Enumerable.Range(0, 5).Select(_ => RoundTripAsync(provider)).ToList();
            await Eventually.HoldsAsync(() => calls.TrueForAll(call => call.IsCompleted));
            await Task.WhenAll(calls);
        }
        finally
        {
            login.SetResult();
        }

        // Past the old token's expiry, calls go on with the token that one login brought, and Vault refused none.
        _clock.Advance(TimeSpan.FromSeconds(16));
        await RoundTripAsync(provider);

        Assert.Equal(1, server.Count("/login") - logins);
        Assert.Equal(refused, RefusedCalls(server));
        AssertNoCredentialLeaked();
    }

    [VaultTestServerTheory]
    [InlineData("a Vault Agent sink")]
    [InlineData("a Secret volume")]
    public async Task A_new_token_written_to_the_token_file_is_used_from_the_next_call_before_vault_refuses_the_old_one(string writer)
    {
        var server = Server();
        var file = TokenFile.Create(writer, _files.Combine("vault-token"), server.CreateToken(TimeSpan.FromHours(1), TimeSpan.FromHours(1)));
        var provider = Build(o => o.Auth.TokenFile = file.Path);
        await RoundTripAsync(provider);
        await RoundTripAsync(provider);
        var (refused, lookups) = (RefusedCalls(server), server.Count("lookup-self"));

        // The writer logs in again and replaces the token; the old one is revoked.
        server.RevokeAllTokens();
        file.Replace(server.CreateToken(TimeSpan.FromHours(1), TimeSpan.FromHours(1)));
        await RoundTripAsync(provider);
        await RoundTripAsync(provider);

        // The new token's TTL is looked up once, beside the calls.
        await Eventually.HoldsAsync(() => server.Count("lookup-self") - lookups == 1);
        await RoundTripAsync(provider);

        Assert.Equal(refused, RefusedCalls(server));
        Assert.Equal(1, server.Count("lookup-self") - lookups);
        AssertNoCredentialLeaked();
    }

    [VaultTestServerFact]
    public async Task A_token_file_ending_with_a_line_break_is_used_without_it_and_so_is_a_new_token_written_so()
    {
        var server = Server();
        var file = TokenFile.Create("a Vault Agent sink", _files.Combine("vault-token"), server.CreateToken(TimeSpan.FromHours(1), TimeSpan.FromHours(1)) + "\n");
        var provider = Build(o => o.Auth.TokenFile = file.Path);
        await RoundTripAsync(provider);
        var refused = RefusedCalls(server);

        // What `echo "$TOKEN" > FILE` or an editor leaves: the token and a line break.
        server.RevokeAllTokens();
        file.Replace(server.CreateToken(TimeSpan.FromHours(1), TimeSpan.FromHours(1)) + "\r\n");
        await RoundTripAsync(provider);

        Assert.Equal(refused, RefusedCalls(server));
        AssertNoCredentialLeaked();
    }

    [VaultTestServerFact]
    public async Task A_configured_token_ending_with_a_line_break_is_used_without_it()
    {
        var server = Server();

        // What a Kubernetes Secret made with `kubectl create secret generic --from-file` gives an environment variable.
        var provider = Build(o => o.Auth.Token = server.CreateToken(TimeSpan.FromHours(1), TimeSpan.FromHours(1)) + "\n");
        var refused = RefusedCalls(server);
        await RoundTripAsync(provider);

        Assert.Equal(refused, RefusedCalls(server));
        AssertNoCredentialLeaked();
    }

    [VaultTestServerTheory]
    [InlineData("a Vault Agent sink")]
    [InlineData("a Secret volume")]
    public async Task A_new_token_written_within_the_same_file_system_clock_tick_as_the_old_one_is_still_used_from_the_next_call(string writer)
    {
        var server = Server();
        var file = TokenFile.Create(writer, _files.Combine("vault-token"), server.CreateToken(TimeSpan.FromHours(1), TimeSpan.FromHours(1)));
        var provider = Build(o => o.Auth.TokenFile = file.Path);
        await RoundTripAsync(provider);
        var (refused, written) = (RefusedCalls(server), File.GetLastWriteTimeUtc(file.Path));

        // The file system's clock moves in ticks of a few milliseconds (seconds on some file systems): a token of the
        // same length written within the tick of the old one leaves the file with the same time stamp and length.
        server.RevokeAllTokens();
        file.Replace(server.CreateToken(TimeSpan.FromHours(1), TimeSpan.FromHours(1)));
        File.SetLastWriteTimeUtc(file.Path, written);
        await RoundTripAsync(provider);

        Assert.Equal(refused, RefusedCalls(server));
        AssertNoCredentialLeaked();
    }

    [VaultTestServerTheory]
    [InlineData("kubernetes", "the max TTL")]
    [InlineData("approle", "the max TTL")]
    [InlineData("kubernetes", "a renewal vault refuses")]
    [InlineData("kubernetes", "a 403 to a call")]
    public async Task A_login_token_dropped_for_a_new_login_is_revoked_and_vault_refuses_it_from_then_on(string method, string reason)
    {
        var server = Server();
        var maxTtl = reason == "the max TTL" ? Minute : TimeSpan.FromHours(1);
        var provider = method == "kubernetes" ? KubernetesWithTtl(Minute, maxTtl).Provider : AppRoleWithTtl(Minute, maxTtl);
        var issued = server.IssuedTokens.Count;
        await RoundTripAsync(provider);
        var dropped = Assert.Single(server.IssuedTokens.Skip(issued));
        var revoked = server.Count("auth/token/revoke-self", 204);

        switch (reason)
        {
            case "the max TTL":
                // At 45 s the renewal grants the 15 s left before the max TTL: a login replaces the token.
                _clock.Advance(TimeSpan.FromSeconds(45));
                await RoundTripAsync(provider);
                break;
            case "a renewal vault refuses":
                server.Fault = new VaultTestServer.VaultFault(400, "lease is not renewable", PathContains: "renew-self");
                _clock.Advance(TimeSpan.FromSeconds(45));
                await RoundTripAsync(provider);
                break;
            default:
                // Vault's policy refuses the call: the token is dropped, a login brings another, refused too.
                server.Fault = new VaultTestServer.VaultFault(403, "permission denied", PathContains: "/encrypt/");
                await Assert.ThrowsAsync<AccessForbiddenException>(async () => await provider.WrapAsync("dek"u8.ToArray()));
                break;
        }

        await Eventually.HoldsAsync(() => server.IssuedTokens.Count - issued == 2);
        server.Fault = null;
        await WhileTheClockRunsAsync(() => server.Count("auth/token/revoke-self", 204) - revoked == 1);
        var (status, _) = await _vault.SendAsync(HttpMethod.Get, "auth/token/lookup-self", token: dropped);
        await RoundTripAsync(provider);

        Assert.Equal(HttpStatusCode.Forbidden, status);
        Assert.False(server.IsLive(dropped), "the token the login replaced is still good in Vault");
        Assert.True(server.IsLive(server.IssuedTokens.Last()), "the token in use was revoked");
        AssertNoCredentialLeaked();
    }

    [VaultTestServerTheory]
    [InlineData("Token")]
    [InlineData("TokenFile")]
    public async Task A_configured_token_is_never_revoked_when_vault_refuses_it_a_new_one_replaces_it_or_the_host_stops(string setting)
    {
        var server = Server();
        var token = server.CreateToken(TimeSpan.FromHours(1), TimeSpan.FromHours(1));
        var file = TokenFile.Create("a Vault Agent sink", _files.Combine("vault-token"), token);
        var provider = Build(o =>
        {
            o.Auth.Token = setting == "Token" ? token : null;
            o.Auth.TokenFile = setting == "TokenFile" ? file.Path : null;
        });
        await RoundTripAsync(provider);
        var revocations = server.Count("revoke-self");

        // Vault refuses a call with the token: it is dropped and taken again from configuration.
        server.Fault = new VaultTestServer.VaultFault(403, "permission denied", PathContains: "/encrypt/");
        await Assert.ThrowsAsync<AccessForbiddenException>(async () => await provider.WrapAsync("dek"u8.ToArray()));
        server.Fault = null;
        var replacement = server.CreateToken(TimeSpan.FromHours(1), TimeSpan.FromHours(1));
        if (setting == "TokenFile")
        {
            file.Replace(replacement);
        }

        await RoundTripAsync(provider);
        await StopHostAsync();

        Assert.Equal(revocations, server.Count("revoke-self"));
        Assert.True(server.IsLive(token), "trousseaud revoked the token it was given");
        Assert.True(server.IsLive(replacement), "trousseaud revoked the token it was given");
        AssertNoCredentialLeaked();
    }

    [VaultTestServerFact]
    public async Task A_call_cancelled_before_it_began_starts_no_lookup_of_the_token_so_the_next_call_counts_its_ttl_from_its_own_start()
    {
        var server = Server();
        var token = server.CreateToken(Minute, Minute);
        var provider = Build(o => o.Auth.Token = token);
        var (lookups, held) = (server.Count("auth/token/lookup-self"), server.Held);
        var release = new TaskCompletionSource();
        server.Hold = new VaultTestServer.VaultHold("auth/token/lookup-self", release.Task);
        try
        {
            using var cancelled = new CancellationTokenSource();
            await cancelled.CancelAsync();
            await Assert.ThrowsAnyAsync<OperationCanceledException>(async () => await provider.WrapAsync("dek"u8.ToArray(), cancelled.Token));

            // 45 s later a call looks the token up: Vault says 15 s are left. A lookup the cancelled call had started
            // would be this call's too, and its lease would count those 15 s from the cancelled call: long expired.
            _clock.Advance(TimeSpan.FromSeconds(45));
            var call = RoundTripAsync(provider);
            await Eventually.HoldsAsync(() => server.Held > held, () => "the call never looked the token up");
            release.SetResult();
            await Eventually.EndsAsync(call, awaited: "the call whose token lookup Vault held");
        }
        finally
        {
            server.Hold = null;
            release.TrySetResult();
        }

        // With 15 s left from its own lookup, the token serves the next call without another.
        await RoundTripAsync(provider);

        Assert.Equal(1, server.Count("auth/token/lookup-self") - lookups);
    }

    [VaultTestServerTheory]
    [InlineData("kubernetes")]
    [InlineData("approle")]
    public async Task When_the_host_stops_the_login_token_in_use_is_revoked(string method)
    {
        var server = Server();
        var provider = method == "kubernetes" ? KubernetesWithTtl(Minute, Minute).Provider : AppRoleWithTtl(Minute, Minute);
        var issued = server.IssuedTokens.Count;
        await RoundTripAsync(provider);
        var token = Assert.Single(server.IssuedTokens.Skip(issued));
        var revoked = server.Count("auth/token/revoke-self", 204);

        await StopHostAsync();

        Assert.Equal(1, server.Count("auth/token/revoke-self", 204) - revoked);
        Assert.False(server.IsLive(token), "the login token outlived the host");
        AssertNoCredentialLeaked();
    }

    [VaultTestServerFact]
    public async Task Stopping_the_host_gives_up_on_a_revocation_vault_does_not_answer_and_says_so_without_the_token()
    {
        var server = Server();
        var (provider, _) = KubernetesWithTtl(Minute, Minute);
        await RoundTripAsync(provider);
        var held = server.Held;

        var never = new TaskCompletionSource();
        server.Hold = new VaultTestServer.VaultHold("revoke-self", never.Task);
        try
        {
            await StopHostAsync();
        }
        finally
        {
            server.Hold = null;
            never.SetResult();
        }

        Assert.Equal(1, server.Held - held);
        Assert.Contains(Warnings(), w => w.Message.Contains("could not be revoked", StringComparison.Ordinal));
        AssertNoCredentialLeaked();
    }

    [VaultTestServerTheory]
    [InlineData("kubernetes")]
    [InlineData("approle")]
    public async Task A_login_vault_answers_after_the_host_began_to_stop_has_its_token_revoked(string method)
    {
        var server = Server();
        var provider = method == "kubernetes" ? KubernetesWithTtl(Minute, Minute).Provider : AppRoleWithTtl(Minute, Minute);
        var (issued, held, revoked) = (server.IssuedTokens.Count, server.Held, server.Count("auth/token/revoke-self", 204));

        // Vault issues the token at once; its answer is slow to come back, and the host stops meanwhile.
        var answer = new TaskCompletionSource();
        server.Hold = new VaultTestServer.VaultHold("/login", answer.Task, Answered: true);
        var call = provider.WrapAsync("dek"u8.ToArray()).AsTask();
        await Eventually.HoldsAsync(() => server.Held - held == 1);
        var token = Assert.Single(server.IssuedTokens.Skip(issued));
        var services = _providers[^1];
        _providers.Remove(services);
        var stopped = Task.WhenAll(services.GetServices<IHostedService>().OfType<IHostedLifecycleService>().Select(s => s.StoppedAsync(CancellationToken.None)));
        answer.SetResult();

        // Within the stop's wait for Vault (the test clock stands still): the late answer's token is revoked.
        await Eventually.HoldsAsync(() => stopped.IsCompleted);
        server.Hold = null;
        await stopped;
        await Record.ExceptionAsync(() => call);
        await services.DisposeAsync();

        Assert.Equal(1, server.Count("auth/token/revoke-self", 204) - revoked);
        Assert.False(server.IsLive(token), "the token of a login answered while the host stopped outlived the host");
        AssertNoCredentialLeaked();
    }

    [VaultTestServerTheory]
    [InlineData("kubernetes")]
    [InlineData("approle")]
    public async Task A_login_vault_answers_only_after_the_stops_wait_is_one_warning_naming_the_method_never_the_token(string method)
    {
        var server = Server();
        var provider = method == "kubernetes" ? KubernetesWithTtl(Minute, Minute).Provider : AppRoleWithTtl(Minute, Minute);
        var (issued, held) = (server.IssuedTokens.Count, server.Held);

        // Vault issues the token at once, but its answer comes only after the stop has waited for Vault (5 s).
        var answer = new TaskCompletionSource();
        server.Hold = new VaultTestServer.VaultHold("/login", answer.Task, Answered: true);
        var call = provider.WrapAsync("dek"u8.ToArray()).AsTask();
        try
        {
            await Eventually.HoldsAsync(() => server.Held - held == 1);
            await StopHostAsync();
        }
        finally
        {
            server.Hold = null;
            answer.SetResult();
        }

        await Record.ExceptionAsync(() => call);
        var token = Assert.Single(server.IssuedTokens.Skip(issued));
        var warning = Assert.Single(Warnings(), w => w.Id.Id == 5012);
        Assert.Equal(
            $"trousseaud stopped before Vault answered a {method} login (it waits 5 s at most): the token Vault may have issued for it is neither used nor revoked, and stays valid in Vault until its TTL ends.",
            warning.Message);
        Assert.True(server.IsLive(token), "the test server revoked the token of a login whose answer trousseaud never read");
        AssertNoCredentialLeaked();
    }

    [VaultTestServerFact]
    public async Task A_configured_single_use_secret_id_vault_refuses_at_the_login_the_max_ttl_forces_is_named_with_the_fix()
    {
        var server = Server();
        var (roleId, secretId) = ("role-" + Guid.NewGuid().ToString("N"), Secret());
        server.AddAppRole(roleId, secretId, secretIdNumUses: 1, ttl: Minute, maxTtl: Minute);
        var provider = Build(o =>
        {
            o.Auth.Method = "approle";
            o.Auth.RoleId = roleId;
            o.Auth.SecretId = secretId;
        });
        await RoundTripAsync(provider);

        // At 45 s the max TTL forces a login, which sends the secret id a second time; the token expires at 60 s.
        _clock.Advance(TimeSpan.FromSeconds(45));
        await RoundTripAsync(provider);
        await Eventually.HoldsAsync(() => Warnings().Count > 0);
        _clock.Advance(TimeSpan.FromSeconds(16));
        var error = await Assert.ThrowsAsync<DependencyUnavailableException>(async () => await provider.WrapAsync("dek"u8.ToArray()));
        var health = await provider.CheckHealthAsync();

        foreach (var text in new[] { Assert.Single(Warnings()).Message, error.Message, health.Description })
        {
            Assert.Contains("Vault refused the secret id of Trousseau:Vault:Auth:SecretId", text, StringComparison.Ordinal);
            Assert.Contains("a single-use secret id cannot log in twice", text, StringComparison.Ordinal);
            Assert.Contains("use Trousseau:Vault:Auth:SecretIdFile", text, StringComparison.Ordinal);
        }

        AssertNoCredentialLeaked(error);
    }

    private VaultTestServer Server()
    {
        var server = _vault.RequireTestServer();
        server.Clock = _clock;
        return server;
    }

    /// <summary>
    /// A key provider whose login Vault refuses as <paramref name="refusal"/> says, the path of that login, and what
    /// the operator does on Vault's side so that the same credentials are admitted.
    /// </summary>
    private (VaultTransitKeyProvider Provider, string LoginPath, Action Repair) Refused(string refusal)
    {
        var server = Server();
        switch (refusal)
        {
            case "a kubernetes role that does not exist":
            {
                var token = ProjectedServiceAccountToken.Create(_files.Combine("serviceaccount"), Jwt());
                server.AddKubernetesRole("someone-else", Jwt(), Minute, Minute);
                return (Kubernetes(token.Path), "auth/kubernetes/login", () => server.AddKubernetesRole(_role, token.Jwt, Minute, Minute));
            }

            case "a service-account token the role does not admit":
            {
                var token = ProjectedServiceAccountToken.Create(_files.Combine("serviceaccount"), Jwt());
                server.AddKubernetesRole(_role, Jwt(), Minute, Minute);
                return (Kubernetes(token.Path), "auth/kubernetes/login", () => server.AddKubernetesRole(_role, token.Jwt, Minute, Minute));
            }

            default:
            {
                var (roleId, secretId) = ("role-" + Guid.NewGuid().ToString("N"), Secret());
                server.AddAppRole(roleId, Secret());
                var provider = Build(o =>
                {
                    o.Auth.Method = "approle";
                    o.Auth.RoleId = roleId;
                    o.Auth.SecretId = secretId;
                });
                return (provider, "auth/approle/login", () => server.AddAppRole(roleId, secretId));
            }
        }
    }

    /// <summary>
    /// A key provider logging in with Kubernetes auth as <see cref="_role"/>, with the projected token it reads, whose
    /// JWT the role admits.
    /// </summary>
    private (VaultTransitKeyProvider Provider, ProjectedServiceAccountToken Token) KubernetesWithTtl(TimeSpan ttl, TimeSpan maxTtl, bool batchTokens = false)
    {
        var token = ProjectedServiceAccountToken.Create(_files.Combine("serviceaccount"), Jwt());
        Server().AddKubernetesRole(_role, token.Jwt, ttl, maxTtl, batchTokens: batchTokens);
        return (Kubernetes(token.Path), token);
    }

    private VaultTransitKeyProvider Kubernetes(string jwtFile) => Build(o =>
    {
        o.Auth.Method = "kubernetes";
        o.Auth.Role = _role;
        o.Auth.JwtFile = jwtFile;
    });

    /// <summary>A key provider logging in with AppRole, its secret id given in configuration.</summary>
    private VaultTransitKeyProvider AppRoleWithTtl(TimeSpan ttl, TimeSpan maxTtl)
    {
        var (roleId, secretId) = ("role-" + Guid.NewGuid().ToString("N"), Secret());
        Server().AddAppRole(roleId, secretId, ttl: ttl, maxTtl: maxTtl);
        return Build(o =>
        {
            o.Auth.Method = "approle";
            o.Auth.RoleId = roleId;
            o.Auth.SecretId = secretId;
        });
    }

    /// <summary>
    /// The Vault key provider on the test clock, logging to <see cref="_log"/>. Its time limits are long, so that a
    /// test advancing the clock for retries never cuts an attempt short.
    /// </summary>
    private VaultTransitKeyProvider Build(Action<VaultOptions> configure)
    {
        var keyName = VaultTarget.UniqueKeyName();
        Server().CreateKey(keyName);
        var services = new ServiceCollection();
        services.AddSingleton<TimeProvider>(_clock);
        services.AddLogging(logging => logging.SetMinimumLevel(LogLevel.Debug).AddProvider(new FakeLoggerProvider(_log)));
        services.AddTrousseau(_ => { })
            .UseVaultTransit(o =>
            {
                o.Address = _vault.Address;
                o.KeyName = keyName;
                o.Timeout = TimeSpan.FromMinutes(5);
                o.AttemptTimeout = TimeSpan.FromMinutes(1);
                configure(o);
            })
            .UseInMemoryStore();
        var provider = services.BuildServiceProvider();
        _providers.Add(provider);
        return provider.GetRequiredService<VaultTransitKeyProvider>();
    }

    private static async Task RoundTripAsync(VaultTransitKeyProvider provider)
    {
        var wrapped = await provider.WrapAsync("dek"u8.ToArray());
        Assert.Equal("dek"u8.ToArray(), await provider.UnwrapAsync(wrapped));
    }

    /// <summary>Waits for <paramref name="condition"/>, moving the clock on so that retries' backoff passes.</summary>
    private async Task WhileTheClockRunsAsync(Func<bool> condition)
    {
        await Eventually.HoldsAsync(() =>
        {
            _clock.Advance(TimeSpan.FromMilliseconds(50));
            return condition();
        });
    }

    /// <summary>
    /// Stops the services of the key provider built last as the .NET host stops them: each hosted service's
    /// <c>StoppedAsync</c> once all have stopped, then the services are disposed.
    /// </summary>
    private async Task StopHostAsync()
    {
        var services = _providers[^1];
        _providers.Remove(services);
        var stopped = Task.WhenAll(services.GetServices<IHostedService>().OfType<IHostedLifecycleService>().Select(s => s.StoppedAsync(CancellationToken.None)));
        await WhileTheClockRunsAsync(() => stopped.IsCompleted);
        await stopped;
        await services.DisposeAsync();
    }

    /// <summary>Calls Vault refused with 403 so far (logins aside): each one a call made with a token Vault no longer took.</summary>
    private static int RefusedCalls(VaultTestServer server) => server.Count("", 403) - server.Count("/login", 403);

    /// <summary>
    /// <c>Vault:Auth:TokenFile</c> as something outside Trousseau keeps it: a Vault Agent sink writes a new file and
    /// renames it over the old one; a Kubernetes Secret volume swaps its <c>..data</c> link, as kubelet does for a
    /// projected service-account token.
    /// </summary>
    private sealed class TokenFile
    {
        private readonly ProjectedServiceAccountToken? _volume;

        private TokenFile(string path, ProjectedServiceAccountToken? volume) => (Path, _volume) = (path, volume);

        public string Path { get; }

        public static TokenFile Create(string writer, string directory, string token)
        {
            if (writer == "a Secret volume")
            {
                var volume = ProjectedServiceAccountToken.Create(directory, token);
                return new TokenFile(volume.Path, volume);
            }

            Directory.CreateDirectory(directory);
            var file = new TokenFile(System.IO.Path.Combine(directory, "token"), null);
            file.Replace(token);
            return file;
        }

        public void Replace(string token)
        {
            if (_volume is not null)
            {
                _volume.Rotate(token);
                return;
            }

            var written = Path + ".tmp";
            File.WriteAllText(written, token);
            File.Move(written, Path, overwrite: true);
        }
    }

    private string Jwt() => Remember("eyJhbGciOiJSUzI1NiJ9.jwt-" + Guid.NewGuid().ToString("N"));

    private string Secret() => Remember("secret-id-" + Guid.NewGuid().ToString("N"));

    private string Remember(string credential)
    {
        _credentials.Add(credential);
        return credential;
    }

    /// <summary>The provider's warnings and errors about its token so far.</summary>
    private List<FakeLogRecord> Warnings() =>
        [.. _log.GetSnapshot().Where(r => r.Level >= LogLevel.Warning && r.Category?.StartsWith("Trousseau.Vault", StringComparison.Ordinal) == true)];

    /// <summary>No JWT, secret id or Vault token in any log record (exceptions included) nor in <paramref name="errors"/>.</summary>
    private void AssertNoCredentialLeaked(params Exception[] errors)
    {
        var secrets = _credentials.Concat(_vault.RequireTestServer().IssuedTokens).ToList();
        var texts = _log.GetSnapshot().Select(r => $"{r.Message} {r.Exception}").Concat(errors.Select(e => e.ToString())).ToList();
        Assert.NotEmpty(texts);
        foreach (var secret in secrets)
        {
            Assert.DoesNotContain(texts, text => text.Contains(secret, StringComparison.Ordinal));
        }
    }
}
