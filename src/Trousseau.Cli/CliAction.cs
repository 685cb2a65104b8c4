using System.CommandLine;

namespace Trousseau.Cli;

/// <summary>Runs a command's body, turning failures into one line on stderr and the exit code of <see cref="ExitCodes"/>.</summary>
internal static class CliAction
{
    public static void Set(Command command, CliConsole console, Func<ParseResult, CancellationToken, Task<int>> body) =>
        command.SetAction(async (parse, cancellationToken) =>
        {
            try
            {
                await CommandLineExposure.WarnAsync(parse, console.Error);
                return await body(parse, cancellationToken);
            }
            catch (Exception e) when (e is TrousseauException or CliUsageException or KmsCallException or IOException or UnauthorizedAccessException)
            {
                await console.Error.WriteLineAsync("clectl: " + e.Message.ReplaceLineEndings(" "));
                return ExitCodes.For(e);
            }
        });

    /// <summary>
    /// Runs <paramref name="call"/> with a client for the resolved connection. A 401 becomes a message saying
    /// where the token came from, or where clectl looked for one; a TLS connection closed unanswered, one saying why
    /// that may be.
    /// </summary>
    public static async Task<int> WithClientAsync(ParseResult parse, Func<Remote.TrousseauClient, Task<int>> call)
    {
        var connection = GlobalOptions.Connection(parse);
        using var watch = new UnauthenticatedWatch(connection.CreateHandler());
        using var http = connection.CreateHttpClient(watch);
        try
        {
            return await call(connection.CreateClient(http));
        }
        catch (AccessForbiddenException e) when (watch.Seen)
        {
            throw new AccessForbiddenException(connection.Unauthenticated(e.Message), e);
        }
        catch (DependencyUnavailableException e) when (connection.ExplainUnanswered(e) is { } explained)
        {
            throw explained;
        }
    }
}
