using System.Net.Sockets;
using System.Security.Authentication;
using dotnet_etcd;
using Etcdserverpb;
using Grpc.Core;
using Grpc.Net.Client;
using Grpc.Net.Client.Configuration;
using Microsoft.Extensions.Options;

namespace Trousseau.Etcd.Internal;

/// <summary>
/// etcd's native gRPC API through dotnet-etcd: one channel over every configured endpoint (calls go to the members
/// that are connected, so a lost member is left out), TLS and username/password auth when configured, and a deadline
/// on every unary call. This is the one place where etcd's answers become Trousseau's exceptions
/// (<see cref="Failure"/>), and where their headers are read for a change of cluster (<see cref="History"/>).
/// </summary>
/// <remarks>
/// As etcd's own Go client does, a call waits for a connection to a member within its deadline (gRPC's wait-for-ready)
/// rather than failing at once while the channel reconnects, so the first call after etcd comes back goes through; with
/// no member reachable, a call fails when its deadline passes. dotnet-etcd's channel retries every call five times over
/// several seconds on <c>UNAVAILABLE</c>. Here only reads are repeated (a read is safe to repeat): a read its member
/// has not answered within a second (a hung member keeps its connection open, so the channel goes on picking it) is
/// sent to the next member as well, and the first answer wins; a read refused as <c>UNAVAILABLE</c> is sent again at
/// once; three attempts at most, within the deadline. A transaction is sent once, and when its answer is lost the
/// caller reads back what it wrote (<see cref="TxnAsync"/>). Any call refused for an expired token is sent again once:
/// etcd did not run it, and dotnet-etcd fetches a new token on that answer.
/// <para>
/// The endpoints and TLS files are read once, at construction. The user name and password are followed: when the
/// configuration changes them (a reloaded file), the next call signs in with the new ones. A configuration that
/// does not validate, or has no user, is not taken: the credentials in use stay.
/// </para>
/// </remarks>
internal sealed class EtcdConnection : IDisposable
{
    public const string Dependency = "store:etcd";

    /// <summary>Said of a transaction whose answer was lost and whose read back did not find it applied.</summary>
    private const string NotFoundApplied = ", and it was not found applied when read back";

    /// <summary>
    /// Said of every transaction whose answer was lost and that was not found applied: a member that received it and
    /// did not answer (hung, or cut off from the leader) may still apply it later, so its caller must read again.
    /// </summary>
    private const string MayStillApply = "; etcd may still apply it, so the write may or may not have been applied: read it again before you repeat it.";

    /// <summary>Said of a transaction that failed before its request was written to any member.</summary>
    private const string NotSent = "; the write was not sent to etcd, so it was not applied.";

    /// <summary>How long the question of whether the cluster has a leader, asked after a call's deadline passed, may take.</summary>
    private static readonly TimeSpan LeaderQuestionTimeout = TimeSpan.FromMilliseconds(500);

    /// <summary>How long a unary call (its wait for a connection included) may take.</summary>
    private static readonly TimeSpan CallTimeout = TimeSpan.FromSeconds(3);

    /// <summary>How long a read waits for its member's answer before it asks the next member as well.</summary>
    private static readonly TimeSpan ReadHedgingDelay = TimeSpan.FromSeconds(1);

    /// <summary>
    /// Asks etcd to end a watch when its member has no leader (etcd's <c>WithRequireLeader</c>), so the watch moves
    /// to another member instead of going silent.
    /// </summary>
    private static readonly Metadata RequireLeader = new() { { "hasleader", "true" } };

    private readonly EtcdClient _client;
    private readonly IReadOnlyList<string> _endpoints;
    private readonly TimeProvider _time;
    private readonly IDisposable? _credentialChanges;
    private readonly Lock _credentialsLock = new();
    private (string? Username, string? Password) _credentials;
    private volatile bool _disposed;

    public EtcdConnection(IOptionsMonitor<EtcdStoreOptions> options, TimeProvider time)
    {
        var settings = options.CurrentValue;
        _time = time;
        _credentials = (settings.Username, settings.Password);
        History = new EtcdHistory();
        _endpoints = [.. settings.Endpoints.Select(e => e.GetLeftPart(UriPartial.Authority))];
        var endpoints = string.Join(',', _endpoints);
        var serverName = settings.Endpoints.FirstOrDefault()?.Host ?? "localhost";
        _client = settings.Endpoints.Any(e => e.Scheme == Uri.UriSchemeHttps)
            ? new EtcdClient(
                endpoints,
                ssl => EtcdTls.Configure(ssl, settings),
                serverName: serverName,
                configureChannelOptions: ConfigureChannel)
            : new EtcdClient(endpoints, serverName: serverName, configureChannelOptions: ConfigureChannel);
        SignInAgain();
        _credentialChanges = options.OnChange(FollowCredentials);
    }

    /// <summary>
    /// The member a call goes to, as failures name it when theirs does not say: the only endpoint when one is
    /// configured (<c>member URL</c>), else <c>a member of URL, URL, ...</c>.
    /// </summary>
    public string Members => _endpoints.Count == 1 ? $"member {_endpoints[0]}" : $"a member of {string.Join(", ", _endpoints)}";

    /// <summary>What etcd's answers said of its cluster since trousseaud connected.</summary>
    public EtcdHistory History { get; }

    /// <summary>
    /// Drops the token in use, so the next call signs in with the configured user and password (nothing without a
    /// user). Calls do so by themselves when etcd refuses their token; a watch is not told why etcd cancelled it.
    /// </summary>
    public void SignInAgain()
    {
        lock (_credentialsLock)
        {
            if (!string.IsNullOrEmpty(_credentials.Username))
            {
                _client.SetCredentials(_credentials.Username, _credentials.Password ?? "");
            }
        }
    }

    public async Task<RangeResponse> RangeAsync(RangeRequest request, CancellationToken cancellationToken)
    {
        ThrowIfDisposed();
        var reached = History.Reached;
        var sending = EtcdRequestSending.Begin();
        try
        {
            var response = await _client.GetConnection().KVClient
                .RangeAsync(request, Call(cancellationToken))
                .ConfigureAwait(false);
            History.Observe(response.Header, reached);
            return response;
        }
        catch (RpcException e) when (cancellationToken.IsCancellationRequested)
        {
            throw new OperationCanceledException("The etcd range was cancelled by its caller.", e, cancellationToken);
        }
        catch (RpcException e)
        {
            throw (await FailureAsync(e, "range", sending).ConfigureAwait(false)).Failure;
        }
    }

    /// <summary>
    /// Sends a transaction once. When its answer is lost (the connection dropped after it was sent, the deadline
    /// passed, etcd timed out the proposal), it may or may not have been applied: <paramref name="readBack"/> then
    /// says, from what etcd holds now, at which revision the write landed, or <see langword="null"/> when it cannot
    /// be seen; a write that landed is answered as a success, anything else as the failure it was, saying that the
    /// write may or may not have been applied: a member that holds it unanswered may still apply it after the read.
    /// A transaction whose request was never written to a member (no connection could be made) was not applied, and
    /// its failure says so; one whose member has no leader is not read back, since that read would wait for the leader
    /// too.
    /// </summary>
    public async Task<TxnResponse> TxnAsync(
        TxnRequest request,
        Func<CancellationToken, Task<long?>> readBack,
        CancellationToken cancellationToken)
    {
        ThrowIfDisposed();
        var reached = History.Reached;
        var sending = EtcdRequestSending.Begin();
        try
        {
            var response = await _client.GetConnection().KVClient
                .TxnAsync(request, Call(cancellationToken))
                .ConfigureAwait(false);
            History.Observe(response.Header, reached);
            return response;
        }
        catch (RpcException e) when (cancellationToken.IsCancellationRequested)
        {
            throw new OperationCanceledException("The etcd txn was cancelled by its caller.", e, cancellationToken);
        }
        catch (RpcException e) when (IsTooLarge(e))
        {
            var size = request.CalculateSize();
            throw new SecretTooLargeException(
                size,
                $"The secret's stored record makes a write of {size} bytes, more than etcd takes in one request ({e.Status.Detail}; "
                + "etcd's --max-request-bytes, 1.5 MiB unless raised), and nothing was changed. The data is within the 1 MiB limit, "
                + "but each data key adds 8 bytes to the record: keep fewer keys in one secret, or raise etcd's --max-request-bytes.");
        }
        catch (RpcException e) when (e.StatusCode is StatusCode.Unavailable or StatusCode.DeadlineExceeded
            or StatusCode.Unknown or StatusCode.Internal or StatusCode.Cancelled)
        {
            var (failure, leaderless) = await FailureAsync(e, "txn", sending).ConfigureAwait(false);
            if (!sending.Sent)
            {
                throw new DependencyUnavailableException(Dependency, Clause(failure) + NotSent, e);
            }

            if (leaderless)
            {
                throw new DependencyUnavailableException(Dependency, Clause(failure) + MayStillApply, e);
            }

            long? landed;
            try
            {
                landed = await readBack(cancellationToken).ConfigureAwait(false);
            }
            catch (DependencyUnavailableException readFailure)
            {
                throw ReadBackFailure(e, failure, readFailure);
            }

            return landed is { } revision
                ? new TxnResponse { Succeeded = true, Header = new ResponseHeader { Revision = revision } }
                : throw new DependencyUnavailableException(Dependency, Clause(failure) + NotFoundApplied + MayStillApply, e);
        }
        catch (RpcException e)
        {
            throw Failure(e, "txn");
        }
    }

    /// <summary>
    /// Opens a watch stream (no deadline: it stays open) that etcd ends when its member loses the leader; the caller
    /// writes its create request and reads.
    /// </summary>
    public AsyncDuplexStreamingCall<WatchRequest, WatchResponse> Watch(CancellationToken cancellationToken)
    {
        ThrowIfDisposed();
        return _client.GetConnection().WatchClient.Watch(RequireLeader, cancellationToken: cancellationToken);
    }

    /// <summary>
    /// A unary call's failure in the words of <see cref="Failure"/>, and whether the cluster was found without a leader.
    /// When its deadline passed, the words say what is known of why: a call whose request was never written to a
    /// member waited for a connection that no member gave; one written to a member is followed by a short question
    /// to etcd (see <see cref="LeaderlessAsync"/>), since a member whose cluster has no leader holds reads and writes
    /// unanswered as a hung one does.
    /// </summary>
    private async Task<(TrousseauException Failure, bool Leaderless)> FailureAsync(RpcException e, string call, EtcdRequestSending.Call sending)
    {
        if (!TimedOut(e))
        {
            return (Failure(e, call), false);
        }

        if (!sending.Sent)
        {
            return (Unavailable(
                $"etcd cannot be reached: no connection to {Member(e)} could be made within {Seconds(CallTimeout)} (etcd is down or "
                + "restarting there, the endpoint is wrong, or the network drops its packets)",
                e), false);
        }

        return await LeaderlessAsync().ConfigureAwait(false) is { } detail
            ? (Unavailable(NoLeader(call, Member(e), detail), e), true)
            : (Failure(e, call), false);
    }

    /// <summary>
    /// etcd's own words when the member the channel picks answers, within half a second, that its cluster has no
    /// leader (its status names none); else <see langword="null"/>: it has one, or it did not answer.
    /// </summary>
    private async Task<string?> LeaderlessAsync()
    {
        try
        {
            var status = await _client.StatusAsync(new StatusRequest(), deadline: (_time.GetUtcNow() + LeaderQuestionTimeout).UtcDateTime)
                .ConfigureAwait(false);
            return status.Leader == 0
                ? status.Errors.FirstOrDefault(error => error.Contains("no leader", StringComparison.Ordinal)) ?? "etcdserver: no leader"
                : null;
        }
        catch (RpcException)
        {
            return null;
        }
    }

    private static string NoLeader(string call, string member, string detail) =>
        $"etcd cannot serve the {call} at {member}: the cluster has no leader ({detail}), as when most of its members are down or "
        + "cut off from each other";

    /// <summary>A watch stream that broke or was refused, in the words of <see cref="Failure"/>.</summary>
    public TrousseauException WatchFailure(RpcException e) => Failure(e, "watch");

    /// <summary>
    /// What etcd's refusal of a call means, in one sentence naming etcd, the member (when the failure names it, or when
    /// only one is configured), what failed and its likely cause, in place of the gRPC and HTTP libraries' own words.
    /// Refused credentials (UNAUTHENTICATED, PERMISSION_DENIED, or a failed authentication), or a user whose role does
    /// not cover the prefix ("permission denied"): etcd is unavailable to Trousseau. A request etcd finds invalid
    /// (INVALID_ARGUMENT, for example one over its request size limit): the caller's input. Anything else (no member reachable, no leader, a deadline, a connection broken under the call,
    /// a failed TLS handshake, a compacted revision, a full database): unavailable.
    /// </summary>
    private TrousseauException Failure(RpcException e, string call)
    {
        var detail = e.Status.Detail;
        var member = Member(e);
        if (detail.Contains("permission denied", StringComparison.OrdinalIgnoreCase))
        {
            return Unavailable(
                $"etcd denied the {call} at {member} to the user Etcd:Username names ({detail}): grant that user a role with "
                + "read-write permission on the keys under Etcd:Prefix",
                e);
        }

        if (e.StatusCode is StatusCode.Unauthenticated or StatusCode.PermissionDenied
            || detail.Contains("authentication failed", StringComparison.OrdinalIgnoreCase))
        {
            return Unavailable($"etcd refused Trousseau's credentials at {member} ({detail}): check Etcd:Username and Etcd:Password against etcd's users", e);
        }

        if (e.StatusCode == StatusCode.InvalidArgument)
        {
            return new InvalidInputException("request", $"etcd refused the request at {member}: {detail}.");
        }

        if (e.Status.DebugException is { } transport)
        {
            return Unavailable($"etcd cannot be reached: {Transport(transport, member, call)}", e);
        }

        return e.StatusCode switch
        {
            // A member took the call and did not answer it within its deadline (FailureAsync tells a call never sent).
            _ when TimedOut(e) => Unavailable(
                $"etcd cannot be reached: {member} did not answer the {call} within {Seconds(CallTimeout)} "
                + "(etcd is down, hung or overloaded there, or the network drops its packets)",
                e),
            StatusCode.ResourceExhausted when detail.Contains("space exceeded", StringComparison.Ordinal) => Unavailable(
                $"etcd refused the {call} at {member}: its database is full ({detail}): compact and defragment it, or raise "
                + "its --quota-backend-bytes, then clear the NOSPACE alarm with etcdctl alarm disarm",
                e),
            StatusCode.OutOfRange => Unavailable(
                $"etcd no longer holds the revision the {call} asked {member} for: it was compacted ({detail})",
                e),
            _ when detail.Contains("no leader", StringComparison.Ordinal) => Unavailable(NoLeader(call, member, detail), e),
            _ when detail.Contains("timed out", StringComparison.Ordinal) || detail.Contains("leader changed", StringComparison.Ordinal) => Unavailable(
                $"etcd did not serve the {call} at {member} in time ({detail}): the cluster is overloaded, or its leader changed",
                e),
            StatusCode.Unavailable => Unavailable($"etcd cannot be reached: {member} did not serve the {call} ({detail})", e),
            _ => Unavailable($"etcd did not serve the {call} at {member} ({detail})", e),
        };
    }

    /// <summary>
    /// What went wrong under a call that grpc-dotnet failed itself, read from the transport's exception rather than its
    /// status text (which names exception types): the connection refused, the TLS handshake failed, or the connection
    /// broken before the member answered (a member killed or restarted, a connection cut; also a client certificate
    /// the member refused, which it says after the handshake).
    /// </summary>
    private static string Transport(Exception transport, string member, string call)
    {
        var chain = new List<Exception>();
        for (var e = transport; e is not null; e = e.InnerException)
        {
            chain.Add(e);
        }

        if (chain.OfType<AuthenticationException>().FirstOrDefault() is { } tls)
        {
            var why = tls.Message.Contains("remote certificate", StringComparison.OrdinalIgnoreCase)
                ? "the remote certificate was rejected: no CA in Etcd:CaFile signed it, or it does not name the endpoint's host"
                : "the member and Trousseau share no TLS version or cipher, or the endpoint does not speak TLS";
            return $"the TLS handshake with {member} failed ({why}): check Etcd:CaFile, Etcd:CertFile and Etcd:KeyFile";
        }

        if (chain.OfType<HttpRequestException>().Any(h => h.HttpRequestError == HttpRequestError.SecureConnectionError))
        {
            return $"the TLS handshake with {member} failed: check Etcd:CaFile, Etcd:CertFile and Etcd:KeyFile";
        }

        if (chain.OfType<SocketException>().FirstOrDefault() is { SocketErrorCode: SocketError.ConnectionRefused }
            || chain.OfType<HttpRequestException>().Any(h => h.HttpRequestError == HttpRequestError.ConnectionError))
        {
            return $"{member} refused the connection (etcd is down or restarting there, or the endpoint is wrong)";
        }

        return $"the connection to {member} broke before it answered the {call} (the member stopped or restarted, the "
            + "connection was cut, or the member refused Trousseau's client certificate)";
    }

    /// <summary>
    /// The member a failure happened at: the configured endpoint the transport's error names, the only one when one
    /// is configured, else all of them (which one the channel picked is not known).
    /// </summary>
    private string Member(RpcException e)
    {
        if (_endpoints.Count == 1)
        {
            return Members;
        }

        for (Exception? inner = e.Status.DebugException; inner is not null; inner = inner.InnerException)
        {
            if (_endpoints.FirstOrDefault(endpoint => inner.Message.Contains($"({new Uri(endpoint).Authority})", StringComparison.Ordinal)) is { } named)
            {
                return $"member {named}";
            }
        }

        return Members;
    }

    /// <summary>
    /// Whether a call ran out of its deadline: here, or at its member, which answers "context deadline exceeded" (as
    /// <c>UNKNOWN</c>) when the deadline sent with the call passes while it waits there (for a leader, for example).
    /// </summary>
    private static bool TimedOut(RpcException e) =>
        e.Status.DebugException is null
        && (e.StatusCode == StatusCode.DeadlineExceeded || e.Status.Detail.Contains("context deadline exceeded", StringComparison.Ordinal));

    private static DependencyUnavailableException Unavailable(string sentence, RpcException e) =>
        new(Dependency, sentence + ".", e);

    /// <summary>A failure's message without its final period, to go on into a longer sentence.</summary>
    private static string Clause(Exception failure) => failure.Message.TrimEnd('.');

    /// <summary>
    /// Whether etcd refused a request as larger than it takes: over its <c>--max-request-bytes</c> (INVALID_ARGUMENT,
    /// "etcdserver: request is too large"), or over the gRPC message size its server reads, that limit plus 512 KiB
    /// (RESOURCE_EXHAUSTED, "grpc: received message larger than max"). Neither applied anything. RESOURCE_EXHAUSTED
    /// also means a full database or too many requests, which the message tells apart.
    /// </summary>
    private static bool IsTooLarge(RpcException e) =>
        (e.StatusCode == StatusCode.InvalidArgument && e.Status.Detail.Contains("request is too large", StringComparison.Ordinal))
        || (e.StatusCode == StatusCode.ResourceExhausted && e.Status.Detail.Contains("larger than max", StringComparison.Ordinal));

    /// <summary>
    /// Whether <paramref name="failure"/> is etcd's refusal of a read at a revision it does not hold: compacted since
    /// (<c>OUT_OF_RANGE</c>, "required revision has been compacted"), or not reached (etcd went back since the revision
    /// was answered).
    /// </summary>
    public static bool IsRevisionGone(TrousseauException failure) =>
        failure.InnerException is RpcException { StatusCode: StatusCode.OutOfRange };

    /// <summary>
    /// A transaction whose answer was lost, and whose read-back failed as well: the message names both, and, when both
    /// waited out their deadlines, the time the caller waited in all.
    /// </summary>
    private DependencyUnavailableException ReadBackFailure(RpcException txn, TrousseauException failure, DependencyUnavailableException readFailure)
    {
        var bothTimedOut = TimedOut(txn) && readFailure.InnerException is RpcException read && TimedOut(read);
        var message = bothTimedOut
            ? $"etcd cannot be reached: {Member(txn)} did not answer the txn within {Seconds(CallTimeout)}, nor the read of whether it was applied within {Seconds(CallTimeout)} more ({Seconds(CallTimeout * 2)} in all)"
            : $"{Clause(failure)}; the read of whether the txn was applied failed too: {Clause(readFailure)}";
        return new DependencyUnavailableException(Dependency, message + MayStillApply, txn);
    }

    private static string Seconds(TimeSpan time) => $"{time.TotalSeconds:0.#} s";

    /// <summary>
    /// Takes the user name and password of a changed configuration (one that validated: the options monitor does not
    /// call back with one that did not), and signs in with them on the next call when they differ. A configuration
    /// without a user is not taken: a file read half-way looks the same, and turning etcd auth off takes a restart.
    /// </summary>
    private void FollowCredentials(EtcdStoreOptions settings)
    {
        lock (_credentialsLock)
        {
            if (string.IsNullOrEmpty(settings.Username) || _credentials == (settings.Username, settings.Password))
            {
                return;
            }

            _credentials = (settings.Username, settings.Password);
        }

        SignInAgain();
    }

    /// <summary>Closes the connections; every later call throws <see cref="ObjectDisposedException"/> naming the store.</summary>
    public void Dispose()
    {
        _disposed = true;
        _credentialChanges?.Dispose();
        _client.Dispose();
    }

    private void ThrowIfDisposed()
    {
        if (_disposed)
        {
            throw Disposed();
        }
    }

    private ObjectDisposedException Disposed() => new(
        $"The etcd store ({Members}) has been disposed: the service provider (host) that made it has stopped, and its connections are closed.",
        innerException: null);

    /// <summary>
    /// A unary call's options: its deadline, the caller's token, and a wait for a connection within that deadline.
    /// </summary>
    private CallOptions Call(CancellationToken cancellationToken) =>
        new CallOptions(deadline: (_time.GetUtcNow() + CallTimeout).UtcDateTime, cancellationToken: cancellationToken)
            .WithWaitForReady();

    /// <summary>
    /// Replaces dotnet-etcd's retry policy (see the remarks on the class) and turns off its retry throttling (after a
    /// handful of refused attempts it stopped every retry, so from the sixth expired token on a call failed instead of
    /// signing in again; the retries here are few and within each call's deadline), keeps its balancing over the
    /// endpoints, and tries a member that is down again at least every second, so a call waiting for a connection finds
    /// the member back well within its deadline. A deadline or a cancellation is reported as gRPC's status (dotnet-etcd
    /// turns both into <see cref="OperationCanceledException"/>, which would hide a deadline from
    /// <see cref="Failure"/>). The channel logs nothing: an etcd outage is reported by the store's health, once, not by
    /// a log line per call. Its handler is wrapped in <see cref="EtcdRequestSending"/>, so that a failed call says
    /// whether its request was ever written to a member.
    /// </summary>
    /// <remarks>
    /// The handler has no <c>ConnectTimeout</c>. grpc-dotnet (2.85) bounds a member's whole reconnect loop by it, and
    /// when it expires the member goes idle and a new loop is started from that very state change, before the old
    /// loop has let go: if the new one looks first, it sees the old one still running and stops, and the member is left
    /// "connecting" with nothing connecting it. Every call then waits out its deadline until the process restarts. A
    /// member that refuses connections is still tried again at least every second; one whose address drops packets
    /// holds a connection attempt until the system gives up on it, while calls fail at their own deadlines.
    /// </remarks>
    private static void ConfigureChannel(GrpcChannelOptions channel)
    {
        channel.ThrowOperationCanceledOnCancellation = false;
        channel.HttpHandler = new EtcdRequestSending(channel.HttpHandler ?? new SocketsHttpHandler());
        var service = channel.ServiceConfig ??= new ServiceConfig();
        service.RetryThrottling = null;
        service.MethodConfigs.Clear();
        service.MethodConfigs.Add(new MethodConfig
        {
            Names = { new MethodName { Service = "etcdserverpb.KV", Method = "Range" } },
            HedgingPolicy = new HedgingPolicy
            {
                MaxAttempts = 3,
                HedgingDelay = ReadHedgingDelay,
                NonFatalStatusCodes = { StatusCode.Unavailable, StatusCode.Unauthenticated },
            },
        });
        service.MethodConfigs.Add(new MethodConfig
        {
            Names = { MethodName.Default },
            RetryPolicy = Retry(StatusCode.Unauthenticated),
        });
        channel.InitialReconnectBackoff = TimeSpan.FromMilliseconds(100);
        channel.MaxReconnectBackoff = TimeSpan.FromSeconds(1);
    }

    private static RetryPolicy Retry(params StatusCode[] codes)
    {
        var policy = new RetryPolicy
        {
            MaxAttempts = 3,
            InitialBackoff = TimeSpan.FromMilliseconds(100),
            MaxBackoff = TimeSpan.FromMilliseconds(500),
            BackoffMultiplier = 2,
        };
        foreach (var code in codes)
        {
            policy.RetryableStatusCodes.Add(code);
        }

        return policy;
    }
}
