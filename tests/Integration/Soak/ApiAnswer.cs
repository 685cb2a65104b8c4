using System.Globalization;
using System.Net;
using System.Text.Json;

namespace Trousseau.Tests.Integration.Soak;

/// <summary>An HTTP answer: its status (null when none came), media type and body, or why none came.</summary>
internal sealed record ApiAnswer(HttpStatusCode? Status, string? MediaType, string Body)
{
    public string? ProblemType => Problem("type");

    public string Detail => Problem("detail") ?? Body;

    /// <summary>The answer as a history records it: status (or "no answer"), problem type and detail.</summary>
    public string Summary => $"{(Status is { } s ? ((int)s).ToString(CultureInfo.InvariantCulture) : "no answer")} {ProblemType} {Detail}";

    public JsonElement Json()
    {
        using var document = JsonDocument.Parse(Body);
        return document.RootElement.Clone();
    }

    private string? Problem(string field)
    {
        if (MediaType != "application/problem+json")
        {
            return null;
        }

        try
        {
            return Json().TryGetProperty(field, out var value) && value.ValueKind == JsonValueKind.String ? value.GetString() : null;
        }
        catch (JsonException)
        {
            return null;
        }
    }
}
