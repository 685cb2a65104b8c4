using System.Net;
using System.Text;
using System.Text.Encodings.Web;
using System.Text.Json;

namespace Trousseau.Tests.Integration.Infrastructure;

/// <summary>
/// Looks for secrets a test planted or read back (values, passwords, tokens, plaintexts) in what a process left where
/// others can read it (its log, its telemetry exports, its files): each one as it is, and as base64 (at any alignment
/// in a longer encoded run), base64url, hex, URL-encoded and JSON-escaped, so that a secret encoded on its way out is
/// found too.
/// </summary>
internal sealed class SecretScan
{
    private static readonly JsonSerializerOptions Relaxed = new() { Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping };

    private readonly List<(string Name, string Value)> _secrets = [];
    private readonly List<(string Name, string Text)> _places = [];

    /// <summary>A secret to look for, and the name that says which one it is.</summary>
    public SecretScan Secret(string name, string value)
    {
        Assert.False(string.IsNullOrEmpty(value), $"the secret '{name}' to look for is empty");
        _secrets.Add((name, value));
        return this;
    }

    /// <summary>Text to look in, and the name that says where it came from.</summary>
    public SecretScan Place(string name, string text)
    {
        _places.Add((name, text));
        return this;
    }

    /// <summary>Bytes to look in (a telemetry export, a file), read byte for byte.</summary>
    public SecretScan Place(string name, byte[] bytes) => Place(name, Encoding.Latin1.GetString(bytes));

    /// <summary>
    /// Every file below <paramref name="directory"/> (which holds no socket), but those whose name
    /// <paramref name="except"/> accepts.
    /// </summary>
    public SecretScan Directory(string directory, Func<string, bool>? except = null)
    {
        foreach (var file in System.IO.Directory.EnumerateFiles(directory, "*", SearchOption.AllDirectories))
        {
            if (except?.Invoke(Path.GetFileName(file)) != true)
            {
                Place(file, File.ReadAllBytes(file));
            }
        }

        return this;
    }

    /// <summary>Fails naming each secret found, how it was written and where, with the line it was found on.</summary>
    public void AssertNothingFound()
    {
        var found = new List<string>();
        foreach (var (secret, value) in _secrets)
        {
            foreach (var (form, written) in Forms(value))
            {
                foreach (var (place, text) in _places)
                {
                    var at = text.IndexOf(written, form.StartsWith("hex", StringComparison.Ordinal) ? StringComparison.OrdinalIgnoreCase : StringComparison.Ordinal);
                    if (at >= 0)
                    {
                        found.Add($"the {secret} ({form}) in {place}: ...{Around(text, at, written.Length)}...");
                    }
                }
            }
        }

        Assert.True(found.Count == 0, $"{found.Count} secrets found where they must never be:\n{string.Join("\n", found.Distinct())}");
    }

    /// <summary>The ways <paramref name="value"/> may be written, each with its name.</summary>
    private static IEnumerable<(string Form, string Written)> Forms(string value)
    {
        var bytes = Encoding.UTF8.GetBytes(value);
        var forms = new Dictionary<string, string>
        {
            ["as is"] = value,
            ["hex"] = Convert.ToHexString(bytes),
            ["URL-encoded"] = Uri.EscapeDataString(value),
            ["form-encoded"] = WebUtility.UrlEncode(value),
            ["JSON-escaped"] = JsonSerializer.Serialize(value)[1..^1],
            ["JSON-escaped, relaxed"] = JsonSerializer.Serialize(value, Relaxed)[1..^1],
        };

        // In a longer base64 run the value starts at any of three byte offsets; only the characters made of its own
        // bytes alone are the same whatever came before and after it.
        for (var offset = 0; offset < 3; offset++)
        {
            var encoded = Convert.ToBase64String([.. new byte[offset], .. bytes]);
            var start = offset == 0 ? 0 : 4;
            var core = encoded[start..^4];
            if (core.Length >= 8)
            {
                forms[$"base64, offset {offset}"] = core;
                forms[$"base64url, offset {offset}"] = core.Replace('+', '-').Replace('/', '_');
            }
        }

        return forms.Select(f => (f.Key, f.Value)).DistinctBy(f => f.Value);
    }

    private static string Around(string text, int at, int length)
    {
        var start = Math.Max(0, at - 60);
        var end = Math.Min(text.Length, at + length + 60);
        return new string([.. text[start..end].Select(c => char.IsControl(c) ? '.' : c)]);
    }
}
