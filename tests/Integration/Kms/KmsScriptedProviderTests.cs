using System.Text;
using Google.Protobuf;
using Grpc.Core;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Time.Testing;
using Trousseau.Kms.V2;
using Trousseau.Tests.Integration.Infrastructure;

namespace Trousseau.Tests.Integration.Kms;

/// <summary>
/// The KMS plugin hosted by an application over a key provider of its own, called on its socket as kube-apiserver
/// calls it: what a provider answers that kube-apiserver would refuse, a provider that never answers, and how long a
/// healthy Status is reused. The provider's answers are set by the test.
/// </summary>
public sealed class KmsScriptedProviderTests : IDisposable
{
    private readonly TempDirectory _temp = new();
    private readonly ScriptedKeyProvider _provider = new();

    public void Dispose() => _temp.Dispose();

    [Theory]
    [InlineData(512, 1019)]
    [InlineData(1024, 1)]
    public async Task A_key_id_and_ciphertext_within_1_kib_are_answered(int keyIdCharacters, int wrappedBytes)
    {
        (_provider.KeyId, _provider.WrappedBytes) = (new string(keyIdCharacters == 512 ? 'é' : 'k', keyIdCharacters), wrappedBytes);
        await using var plugin = await PluginHost.StartAsync(_temp, _provider, TimeProvider.System);

        var encrypted = await plugin.Kms.EncryptAsync(new EncryptRequest { Plaintext = ByteString.CopyFrom(new byte[32]), Uid = "within-limits" });

        Assert.Equal(1024, Encoding.UTF8.GetByteCount(encrypted.KeyId));
        Assert.Equal(wrappedBytes + 5, encrypted.Ciphertext.Length);
    }

    [Theory]
    [InlineData(513, 64)]
    [InlineData(1025, 64)]
    [InlineData(8, 1020)]
    public async Task A_key_id_or_ciphertext_over_kube_apiservers_1_kib_limit_ends_the_encrypt_internal_and_is_never_answered(int keyIdCharacters, int wrappedBytes)
    {
        // 513 two-byte characters: 1026 bytes in fewer than 1024 characters. 1020 wrapped bytes: a 1025-byte ciphertext.
        (_provider.KeyId, _provider.WrappedBytes) = (new string(keyIdCharacters == 513 ? 'é' : 'k', keyIdCharacters), wrappedBytes);
        await using var plugin = await PluginHost.StartAsync(_temp, _provider, TimeProvider.System);

        var refused = await Assert.ThrowsAsync<RpcException>(() => plugin.Kms.EncryptAsync(new EncryptRequest { Plaintext = ByteString.CopyFrom(new byte[32]), Uid = "over-limits" }));

        Assert.Equal(StatusCode.Internal, refused.StatusCode);
        Assert.Equal("The key provider's output does not fit KMS v2's limits (ciphertext and key_id at most 1024 bytes).", refused.Status.Detail);
    }

    [Fact]
    public async Task A_provider_that_never_answers_ends_the_encrypt_unavailable_naming_the_provider_timeout_and_its_call_is_cancelled()
    {
        _provider.WrapsHang = true;
        await using var plugin = await PluginHost.StartAsync(_temp, _provider, TimeProvider.System, providerTimeout: TimeSpan.FromSeconds(1));

        // The caller's deadline is 10 s, as kube-apiserver's own (3 s) is longer than the plugin's provider timeout.
        var refused = await Assert.ThrowsAsync<RpcException>(() => plugin.Kms.EncryptAsync(new EncryptRequest { Plaintext = ByteString.CopyFrom(new byte[32]), Uid = "hanging" }));

        Assert.Equal(StatusCode.Unavailable, refused.StatusCode);
        Assert.Contains("The key provider 'scripted' did not answer within 1 s.", refused.Status.Detail, StringComparison.Ordinal);
        await Eventually.HoldsAsync(() => _provider.WrapCancelled.Task.IsCompleted, () => "the provider's wrap is still waiting, never cancelled");
    }

    [Fact]
    public async Task A_healthy_status_is_reused_for_the_status_cache_duration_and_not_a_moment_longer()
    {
        // The clock moves only when the test moves it; each Status has answered, its health stored, before the next step.
        var clock = new FakeTimeProvider(DateTimeOffset.UtcNow);
        await using var plugin = await PluginHost.StartAsync(_temp, _provider, clock, statusCacheDuration: TimeSpan.FromSeconds(10));

        var first = await plugin.Kms.StatusAsync();
        _provider.Health = DependencyHealth.Unhealthy("the test made the provider unhealthy");
        clock.Advance(TimeSpan.FromSeconds(10) - TimeSpan.FromTicks(1));
        var reused = await plugin.Kms.StatusAsync();
        clock.Advance(TimeSpan.FromTicks(1));
        var checkedAgain = await plugin.Kms.StatusAsync();

        Assert.Equal("ok", first.Healthz);
        Assert.Equal("ok", reused.Healthz);
        Assert.Equal("the test made the provider unhealthy", checkedAgain.Healthz);
    }

    /// <summary>An application's host serving the KMS plugin on a socket over <see cref="ScriptedKeyProvider"/>, and a KMS v2 caller on that socket.</summary>
    private sealed class PluginHost(IHost host, Grpc.Net.Client.GrpcChannel channel) : IAsyncDisposable
    {
        public KmsV2Client Kms { get; } = new(channel.CreateCallInvoker());

        public static async Task<PluginHost> StartAsync(
            TempDirectory temp, ScriptedKeyProvider provider, TimeProvider clock, TimeSpan? providerTimeout = null, TimeSpan? statusCacheDuration = null)
        {
            var socket = temp.Combine("run", "kms.sock");
            var builder = Host.CreateApplicationBuilder();
            builder.Services.AddSingleton(clock);
            builder.Services.AddTrousseau()
                .AddKeyProvider(provider.Name, _ => provider)
                .UseInMemoryStore()
                .AddKmsPlugin(kms =>
                {
                    kms.Socket = socket;
                    kms.ProviderTimeout = providerTimeout ?? kms.ProviderTimeout;
                    kms.StatusCacheDuration = statusCacheDuration ?? kms.StatusCacheDuration;
                });
            var host = builder.Build();
            await host.StartAsync();
            return new PluginHost(host, KmsSocketTests.ChannelFor(socket));
        }

        public async ValueTask DisposeAsync()
        {
            channel.Dispose();
            await host.StopAsync();
            host.Dispose();
        }
    }

    /// <summary>
    /// A key provider whose answers the test sets: its key id, how many bytes a wrap gives, its health, and whether a
    /// wrap waits until its caller cancels it. It unwraps nothing.
    /// </summary>
    private sealed class ScriptedKeyProvider : IKeyProvider
    {
        public string Name => "scripted";

        public string KeyId { get; set; } = "scripted-key";

        public int WrappedBytes { get; set; } = 64;

        public DependencyHealth Health { get; set; } = DependencyHealth.Healthy("the test's provider");

        public bool WrapsHang { get; set; }

        /// <summary>Completes when a waiting wrap is cancelled.</summary>
        public TaskCompletionSource WrapCancelled { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

        public ValueTask<KeyInfo> GetCurrentKeyAsync(CancellationToken cancellationToken = default) => ValueTask.FromResult(new KeyInfo(KeyId, 1));

        public ValueTask<WrappedKey> WrapAsync(ReadOnlyMemory<byte> plaintext, CancellationToken cancellationToken = default) =>
            WrapsHang ? new(HangAsync(cancellationToken)) : ValueTask.FromResult(new WrappedKey(KeyId, 1, new byte[WrappedBytes]));

        public ValueTask<byte[]> UnwrapAsync(WrappedKey wrapped, CancellationToken cancellationToken = default) =>
            ValueTask.FromException<byte[]>(new InvalidCiphertextException("The test's provider unwraps nothing."));

        public ValueTask<KeyInfo> RotateAsync(CancellationToken cancellationToken = default) => GetCurrentKeyAsync(cancellationToken);

        public ValueTask<DependencyHealth> CheckHealthAsync(CancellationToken cancellationToken = default) => ValueTask.FromResult(Health);

        private async Task<WrappedKey> HangAsync(CancellationToken cancellationToken)
        {
            var answer = new TaskCompletionSource<WrappedKey>(TaskCreationOptions.RunContinuationsAsynchronously);
            using var cancelled = cancellationToken.Register(() =>
            {
                WrapCancelled.TrySetResult();
                answer.TrySetCanceled(cancellationToken);
            });
            return await answer.Task;
        }
    }
}
