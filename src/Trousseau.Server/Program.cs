using Trousseau.Server;

return await TrousseauServer.RunAsync(args);
