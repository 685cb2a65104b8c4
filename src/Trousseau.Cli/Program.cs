using Trousseau.Cli;

return await Clectl.RunAsync(args, new CliConsole(StandardInput.Reader(), Console.Out, Console.Error, OutIsTerminal: !Console.IsOutputRedirected));
