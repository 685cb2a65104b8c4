using Trousseau.Cli;

// Standard output first: whether descriptor 1 is closed is told before anything opens a file that would take it.
var output = StandardOutput.Writer();
return await Clectl.RunAsync(args, new CliConsole(StandardInput.Reader(), output, Console.Error, OutIsTerminal: !Console.IsOutputRedirected));
