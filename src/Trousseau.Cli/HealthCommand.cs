using System.CommandLine;
using System.Text.Json;

namespace Trousseau.Cli;

/// <summary><c>clectl health</c>: the readiness of trousseaud and of each of its dependencies.</summary>
internal static class HealthCommand
{
    public static Command Create(CliConsole console)
    {
        var command = new Command("health", "Show whether trousseaud is ready, with the state of its key provider, store and audit trail.");
        CliAction.Set(command, console, async (parse, cancellationToken) =>
        {
            var connection = GlobalOptions.Connection(parse);
            using var http = connection.CreateHttpClient();
            HttpResponseMessage response;
            try
            {
                // The token, when clectl has one, lets the server show each check's details.
                using var request = new HttpRequestMessage(HttpMethod.Get, new Uri("readyz", UriKind.Relative));
                if (connection.Token is { } token)
                {
                    request.Headers.Authorization = new("Bearer", token);
                }

                response = await http.SendAsync(request, cancellationToken);
            }
            catch (HttpRequestException e)
            {
                throw new DependencyUnavailableException("trousseaud", $"cannot reach {connection.Server}: {connection.Describe(e)}", e);
            }

            using (response)
            {
                JsonElement report;
                try
                {
                    using var document = await JsonDocument.ParseAsync(await response.Content.ReadAsStreamAsync(cancellationToken), cancellationToken: cancellationToken);
                    report = document.RootElement.Clone();
                }
                catch (JsonException e)
                {
                    throw new DependencyUnavailableException("trousseaud", $"{connection.Server}readyz did not answer with a health report.", e);
                }

                await Output.WriteAsync(
                    console.Out,
                    parse.GetValue(GlobalOptions.Output),
                    report.WriteTo,
                    w => Output.TableAsync(w, ["CHECK", "STATUS", "DETAIL"], report.GetProperty("checks").EnumerateObject().Select(check => new[]
                    {
                        check.Name,
                        check.Value.GetProperty("status").GetString() ?? "",
                        check.Value.TryGetProperty("description", out var d) ? d.GetString() ?? "" : "",
                    })));

                return response.IsSuccessStatusCode ? ExitCodes.Ok : ExitCodes.Unavailable;
            }
        });
        return command;
    }
}
