using System.Text;

namespace Trousseau.Tests.Integration.Infrastructure;

/// <summary>Request bodies as the API takes them.</summary>
internal static class JsonBody
{
    /// <summary>JSON text sent as <c>application/json</c> in UTF-8.</summary>
    public static StringContent Of(string json) => new(json, Encoding.UTF8, "application/json");
}
