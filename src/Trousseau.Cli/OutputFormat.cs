namespace Trousseau.Cli;

/// <summary>How clectl prints results: <c>-o table</c> (for people, the default), <c>-o json</c> or <c>-o yaml</c> (for scripts).</summary>
internal enum OutputFormat
{
    Table,
    Json,
    Yaml,
}
