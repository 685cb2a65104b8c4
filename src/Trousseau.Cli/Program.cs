using Trousseau.Cli;

return await Clectl.RunAsync(args, new CliConsole(StandardInput.Reader(), StandardOutput.Writer(), Console.Error, OutIsTerminal: !Console.IsOutputRedirected));
