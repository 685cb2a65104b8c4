using Trousseau.Cli;

return await Clectl.RunAsync(args, Console.Out, Console.Error);
