using Trousseau.Cli;

return await Clectl.RunAsync(args, new CliConsole(Console.In, Console.Out, Console.Error, OutIsTerminal: !Console.IsOutputRedirected));
