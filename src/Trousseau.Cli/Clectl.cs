using System.CommandLine;

namespace Trousseau.Cli;

/// <summary>clectl's command tree and its invocation.</summary>
internal static class Clectl
{
    public static async Task<int> RunAsync(string[] args, CliConsole console)
    {
        var root = new RootCommand("clectl: create, read, update and delete Trousseau secrets on one or many trousseaud instances.");
        foreach (var option in GlobalOptions.All)
        {
            root.Options.Add(option);
        }

        root.Subcommands.Add(SecretCommands.Create(console));
        root.Subcommands.Add(KeyCommands.Create(console));
        root.Subcommands.Add(HealthCommand.Create(console));
        root.Subcommands.Add(ContextCommands.Create(console));
        root.Subcommands.Add(KmsCommands.Create(console));

        var parsed = root.Parse(args);
        if (parsed.Errors.Count > 0)
        {
            var messages = string.Join(" ", parsed.Errors.Select(e => e.Message.ReplaceLineEndings(" ")));
            await console.Error.WriteLineAsync($"clectl: {messages} (see clectl --help)");
            return ExitCodes.Usage;
        }

        return await parsed.InvokeAsync(new InvocationConfiguration { Output = console.Out, Error = console.Error });
    }
}
