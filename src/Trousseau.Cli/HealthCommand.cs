using System.CommandLine;
using System.Text.Json;

namespace Trousseau.Cli;

/// <summary><c>clectl health</c>: the readiness of trousseaud and of each of its dependencies.</summary>
internal static class HealthCommand
{
    public static Command Create(CliConsole console)
    {
        var command = new Command("health", "Show which server answered and whether it is ready, with the state of its key provider, store and audit trail.");
        CliAction.Set(command, console, async (parse, cancellationToken) =>
        {
            using var failover = GlobalOptions.Failover(parse);
            using var http = failover.Connection.CreateHttpClient(failover);

            // The token, when clectl has one for the server, lets the server show each check's details.
            // A server that is not ready answers 503 with its report, which is printed even when it is the last of a list.
            using var request = new HttpRequestMessage(HttpMethod.Get, new Uri("readyz", UriKind.Relative));
            request.Options.Set(ServerFailover.LastAnswerAsItIs, true);
            using var response = await http.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, cancellationToken);
            var server = failover.Current;
            JsonElement report;
            try
            {
                using var document = await JsonDocument.ParseAsync(await response.Content.ReadAsStreamAsync(cancellationToken), cancellationToken: cancellationToken);
                report = document.RootElement.Clone();
            }
            catch (JsonException e)
            {
                throw NoReport(server, e);
            }

            if (!IsReport(report))
            {
                throw NoReport(server, inner: null);
            }

            await Output.WriteAsync(
                console.Out,
                parse.GetValue(GlobalOptions.Output),
                json =>
                {
                    json.WriteStartObject();
                    foreach (var property in report.EnumerateObject())
                    {
                        property.WriteTo(json);
                    }

                    json.WriteString("server", server.ToString());
                    json.WriteEndObject();
                },
                async w =>
                {
                    await Output.TableAsync(w, ["SERVER"], [[server.ToString()]]);
                    await w.WriteLineAsync();
                    await Output.TableAsync(w, ["CHECK", "STATUS", "DETAIL"], report.GetProperty("checks").EnumerateObject().Select(check => new[]
                    {
                        check.Name,
                        check.Value.GetProperty("status").GetString()!,
                        check.Value.TryGetProperty("description", out var d) ? d.GetString() ?? "" : "",
                    }));
                });

            return response.IsSuccessStatusCode ? ExitCodes.Ok : ExitCodes.Unavailable;
        });
        return command;
    }

    private static DependencyUnavailableException NoReport(ServerEndpoint server, JsonException? inner) =>
        new("trousseaud", $"{server}readyz did not answer with a health report.", inner);

    /// <summary>
    /// Whether <paramref name="report"/> has the shape of trousseaud's health report: an object whose <c>checks</c>
    /// object holds, for each check, an object with a string <c>status</c> and, when there is one, a
    /// <c>description</c> that is a string or null.
    /// </summary>
    private static bool IsReport(JsonElement report) =>
        report.ValueKind == JsonValueKind.Object
        && report.TryGetProperty("checks", out var checks)
        && checks.ValueKind == JsonValueKind.Object
        && checks.EnumerateObject().All(check =>
            check.Value.ValueKind == JsonValueKind.Object
            && check.Value.TryGetProperty("status", out var status)
            && status.ValueKind == JsonValueKind.String
            && (!check.Value.TryGetProperty("description", out var description) || description.ValueKind is JsonValueKind.String or JsonValueKind.Null));
}
