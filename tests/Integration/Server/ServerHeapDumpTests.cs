using System.Diagnostics.Tracing;
using System.Net;
using System.Net.Http.Json;
using Microsoft.Diagnostics.NETCore.Client;
using Trousseau.Tests.Integration.Infrastructure;

namespace Trousseau.Tests.Integration.Server;

/// <summary>
/// An operator who wonders whether a long-running trousseaud leaks memory takes a heap dump of it, with
/// <c>dotnet-gcdump collect -p PID</c>: an EventPipe session that asks the runtime for a collection and a walk of its
/// heap. trousseaud must go on serving through it. The session here is the one dotnet-gcdump opens (the runtime
/// provider's GC, Type, GCHeapDump, GCHeapCollect and GCHeapAndTypeNames keywords), opened with the diagnostics
/// client library dotnet-gcdump is built on, and stopped once it has started, as dotnet-gcdump stops it once the dump
/// is written.
/// </summary>
public sealed class ServerHeapDumpTests
{
    /// <summary>The runtime provider's keywords that dotnet-gcdump enables (the values of the runtime's event manifest).</summary>
    private const long GcKeyword = 0x1;
    private const long TypeKeyword = 0x80000;
    private const long GcHeapDumpKeyword = 0x100000;
    private const long GcHeapCollectKeyword = 0x800000;
    private const long GcHeapAndTypeNamesKeyword = 0x1000000;

    private static readonly TimeSpan SessionTimeout = TimeSpan.FromSeconds(60);

    [Fact]
    public async Task A_heap_dump_taken_as_dotnet_gcdump_takes_it_leaves_trousseaud_serving()
    {
        using var temp = new TempDirectory();
        var dataDir = temp.Combine("data");
        await using var server = await TrousseauServerProcess.StartAsync(dataDir);
        using var api = await BearerClient.FromTokenFileAsync(server.BaseAddress, Path.Combine(dataDir, "api.token"));
        using (var created = await api.PostAsJsonAsync("v1/secrets", new { name = "heap/dump", data = new { k = "v" } }))
        {
            Assert.Equal(HttpStatusCode.Created, created.StatusCode);
        }

        var providers = new[]
        {
            new EventPipeProvider(
                "Microsoft-Windows-DotNETRuntime",
                EventLevel.Verbose,
                GcKeyword | TypeKeyword | GcHeapDumpKeyword | GcHeapCollectKeyword | GcHeapAndTypeNamesKeyword),
        };
        using var deadline = new CancellationTokenSource(SessionTimeout);
        try
        {
            using var session = await new DiagnosticsClient(server.ProcessId).StartEventPipeSessionAsync(providers, requestRundown: false, token: deadline.Token);
            var drained = session.EventStream.CopyToAsync(Stream.Null, deadline.Token);
            await session.StopAsync(deadline.Token);
            await drained;
        }
        catch (Exception e) when (e is ServerNotAvailableException or EndOfStreamException or IOException)
        {
            // The process ended under the session: the assertion below says so, with its output.
        }

        await server.AssertAnswersOkAsync(api, "v1/secrets/heap/dump", "trousseaud answering a read, or ending, after the heap dump");
    }
}
