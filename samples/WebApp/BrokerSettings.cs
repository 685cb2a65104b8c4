namespace Trousseau.Samples.WebApp;

/// <summary>Where the secrets broker is: the <c>Broker</c> configuration section.</summary>
internal sealed class BrokerSettings
{
    /// <summary>trousseaud's address; its embedded default unless set.</summary>
    public Uri Server { get; set; } = new("http://127.0.0.1:8787");

    /// <summary>The file holding the API token; where trousseaud writes it by default.</summary>
    public string TokenFile { get; set; } = ".trousseau/api.token";

    /// <summary>How often the secrets are read again.</summary>
    public TimeSpan ReloadInterval { get; set; } = TimeSpan.FromSeconds(30);
}
