using System.CommandLine;
using System.Net.Http.Json;
using System.Text.Json;

namespace Trousseau.Cli;

/// <summary>clectl's command tree and its invocation.</summary>
internal static class Clectl
{
    public const string DefaultServer = "http://127.0.0.1:8787";

    private static readonly Option<string?> ServerOption = new("--server")
    {
        Description = "The trousseaud URL (default: $TROUSSEAU_SERVER, else " + DefaultServer + ").",
        Recursive = true,
    };

    private static readonly Option<OutputFormat> OutputOption = new("--output", "-o")
    {
        Description = "Output format.",
        DefaultValueFactory = _ => OutputFormat.Table,
        Recursive = true,
    };

    public static async Task<int> RunAsync(string[] args, TextWriter output, TextWriter error)
    {
        var root = new RootCommand("clectl: create, read, update and delete Trousseau secrets on one or many trousseaud instances.")
        {
            ServerOption,
            OutputOption,
            HealthCommand(output, error),
        };

        var parsed = root.Parse(args);
        if (parsed.Errors.Count > 0)
        {
            var messages = string.Join(" ", parsed.Errors.Select(e => e.Message.ReplaceLineEndings(" ")));
            await error.WriteLineAsync($"clectl: {messages} (see clectl --help)");
            return ExitCodes.Usage;
        }

        return await parsed.InvokeAsync(new InvocationConfiguration { Output = output, Error = error });
    }

    private static Command HealthCommand(TextWriter output, TextWriter error)
    {
        var command = new Command("health", "Show whether trousseaud is ready, with the state of its key provider and store.");
        command.SetAction(async (parse, cancellationToken) =>
        {
            var server = new Uri(parse.GetValue(ServerOption) ?? Environment.GetEnvironmentVariable("TROUSSEAU_SERVER") ?? DefaultServer);
            using var http = new HttpClient { BaseAddress = server, Timeout = TimeSpan.FromSeconds(10) };
            HttpResponseMessage response;
            try
            {
                response = await http.GetAsync(new Uri("readyz", UriKind.Relative), cancellationToken);
            }
            catch (HttpRequestException e)
            {
                await error.WriteLineAsync($"clectl: cannot reach {server}: {e.Message}");
                return ExitCodes.Unavailable;
            }

            using (response)
            {
                var report = await response.Content.ReadFromJsonAsync<JsonElement>(cancellationToken);
                if (parse.GetValue(OutputOption) == OutputFormat.Json)
                {
                    await output.WriteLineAsync(report.GetRawText());
                }
                else
                {
                    await output.WriteLineAsync($"{"CHECK",-14} {"STATUS",-10} DETAIL");
                    foreach (var check in report.GetProperty("checks").EnumerateObject())
                    {
                        await output.WriteLineAsync(
                            $"{check.Name,-14} {check.Value.GetProperty("status").GetString(),-10} {check.Value.GetProperty("description").GetString()}");
                    }
                }

                return response.IsSuccessStatusCode ? ExitCodes.Ok : ExitCodes.Unavailable;
            }
        });
        return command;
    }
}
