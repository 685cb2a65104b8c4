using System.CommandLine;

namespace Trousseau.Cli;

/// <summary>
/// Runs a command's body, turning failures into one line on stderr, every control character escaped (see
/// <see cref="TerminalText"/>), and the exit code of <see cref="ExitCodes"/>.
/// </summary>
internal static class CliAction
{
    public static void Set(Command command, CliConsole console, Func<ParseResult, CancellationToken, Task<int>> body) =>
        command.SetAction(async (parse, cancellationToken) =>
        {
            try
            {
                await CommandLineExposure.WarnAsync(parse, console.Error);
                if (CliContexts.Exposure(CliContexts.DefaultPath) is { } exposed)
                {
                    await console.Error.WriteLineAsync("clectl: warning: " + exposed);
                }

                return await body(parse, cancellationToken);
            }
            catch (OperationCanceledException e) when (cancellationToken.IsCancellationRequested)
            {
                await console.Error.WriteLineAsync("clectl: " + (e is CliInterruptedException interrupted ? interrupted.Message : "Interrupted."));
                return ExitCodes.Interrupted;
            }
            catch (StandardOutputException e) when (e.PipeClosed)
            {
                // As a Unix tool ended by SIGPIPE: nothing to say, the reader has what it wanted (| head).
                return ExitCodes.OutputPipeClosed;
            }
            catch (Exception e) when (e is TrousseauException or CliUsageException or KmsCallException or IOException or UnauthorizedAccessException)
            {
                // A server's words (problem details, a reason phrase, a Location) are in the message: escaped, no
                // control character of theirs reaches the terminal.
                await console.Error.WriteLineAsync("clectl: " + TerminalText.Cell(e.Message.ReplaceLineEndings(" ")));
                return ExitCodes.For(e);
            }
        });

    /// <summary>
    /// Runs <paramref name="call"/> with a client for the resolved connection, sending each request through
    /// <see cref="ServerFailover"/>. A 401 becomes a message saying where the token came from, or where clectl looked
    /// for one; any failing answer (401, 403, 404, 409, ...) that came after servers were passed over (one that refused
    /// the connection too) also names each of those and what it did, and keeps the exit code of the answer.
    /// </summary>
    public static Task<int> WithClientAsync(ParseResult parse, Func<Remote.TrousseauClient, Task<int>> call) =>
        WithClientAsync(parse, (client, _) => call(client));

    /// <summary>
    /// As <see cref="WithClientAsync(ParseResult, Func{Remote.TrousseauClient, Task{int}})"/>, giving
    /// <paramref name="call"/> the failover too, to name the server that answered.
    /// </summary>
    public static async Task<int> WithClientAsync(ParseResult parse, Func<Remote.TrousseauClient, ServerFailover, Task<int>> call)
    {
        using var failover = GlobalOptions.Failover(parse);
        using var watch = new AnswerWatch(failover);
        using var http = failover.Connection.CreateHttpClient(watch);
        try
        {
            return await call(Connection.CreateClient(http), failover);
        }
        catch (AccessForbiddenException e) when (watch.Unauthenticated)
        {
            throw new AccessForbiddenException(failover.Connection.Unauthenticated(failover.Current, e.Message) + PassedOver(failover), e);
        }
        catch (TrousseauException e) when (failover.ServersPassedOver is not null)
        {
            throw new PassedOverException(e.Message + PassedOver(failover), e);
        }
        catch (OperationCanceledException e)
        {
            // The command's token, cancelled by Ctrl-C: the client has no other (its timeouts are the failover's).
            throw new CliInterruptedException(failover.Interrupted(), e);
        }
    }

    /// <summary>What the servers passed over before the refusal did, to end its line, or nothing when none was.</summary>
    private static string PassedOver(ServerFailover failover) =>
        failover.ServersPassedOver is { } passed ? $" Before it, clectl passed over: {passed}." : "";
}

/// <summary>clectl was interrupted (Ctrl-C) during a call; the message says what a server may have been left with.</summary>
internal sealed class CliInterruptedException(string message, Exception inner) : OperationCanceledException(message, inner);

/// <summary>
/// A server's failing answer that came after servers were passed over: the answer's message, then each server passed
/// over and what it did. The exit code is that of <see cref="Answer"/>.
/// </summary>
internal sealed class PassedOverException(string message, TrousseauException answer) : TrousseauException(message, answer)
{
    /// <summary>The failing answer of the server the request ended on.</summary>
    public TrousseauException Answer => answer;
}
