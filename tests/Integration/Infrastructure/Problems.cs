using System.Net;
using System.Text.Json;

namespace Trousseau.Tests.Integration.Infrastructure;

/// <summary>Checks the API's error answers: RFC 9457 problem details.</summary>
internal static class Problems
{
    /// <summary>The problem type of input the API refuses.</summary>
    public const string InvalidInput = "urn:trousseau:problem:invalid-input";

    /// <summary>Asserts the status, the media type and the problem's own status and title; returns the problem.</summary>
    public static async Task<JsonElement> AssertAsync(HttpResponseMessage response, HttpStatusCode status)
    {
        Assert.Equal(status, response.StatusCode);
        Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
        using var document = JsonDocument.Parse(await response.Content.ReadAsStringAsync());
        var problem = document.RootElement.Clone();
        Assert.Equal((int)status, problem.GetProperty("status").GetInt32());
        Assert.False(string.IsNullOrEmpty(problem.GetProperty("title").GetString()));
        return problem;
    }

    /// <summary>As <see cref="AssertAsync"/>, for an answer that refuses the request's input (<see cref="InvalidInput"/>).</summary>
    public static async Task<JsonElement> AssertInvalidInputAsync(HttpResponseMessage response, HttpStatusCode status)
    {
        var problem = await AssertAsync(response, status);
        Assert.Equal(InvalidInput, problem.GetProperty("type").GetString());
        return problem;
    }
}
