using Microsoft.Extensions.Options;
using Trousseau.Remote;
using Trousseau.Samples.WebApp;

// An application that gets its database login from a trousseaud, as configuration. With the README's two commands
// and `clectl secret create db/orders --type login ...`, it runs as is: the defaults below are trousseaud's.
var builder = WebApplication.CreateBuilder(new WebApplicationOptions { Args = args, ContentRootPath = AppContext.BaseDirectory });
var broker = builder.Configuration.GetSection("Broker").Get<BrokerSettings>() ?? new BrokerSettings();

if (!File.Exists(broker.TokenFile))
{
    Console.Error.WriteLine(
        $"WebApp: the broker's token file {Path.GetFullPath(broker.TokenFile)} does not exist. Start trousseaud first " +
        "(dotnet run --project src/Trousseau.Server, from the repository root), or point --Broker:TokenFile at its api.token.");
    return 2;
}

// Secret db/orders, data key password, becomes configuration key orders:password, bound to OrdersDatabase. Optional:
// the app starts while the broker is down (answering 503 below) and reads the login once the broker is back; each
// failed read is one line on stderr, naming the broker and the failure, never a value. The client follows no redirect:
// one would send the request on to an address not configured.
using var http = new HttpClient(new SocketsHttpHandler { AllowAutoRedirect = false }) { BaseAddress = broker.Server };
builder.Configuration.AddTrousseauSecrets(secrets =>
{
    secrets.Trousseau = new TrousseauClient(http, File.ReadAllText(broker.TokenFile).Trim());
    secrets.Prefix = "db/";
    secrets.ReloadInterval = broker.ReloadInterval;
    secrets.Optional = true;
    secrets.OnLoadError = error => Console.Error.WriteLine($"WebApp: secrets not read from the broker: {error.Message}");
});
builder.Services.Configure<OrdersDatabase>(builder.Configuration.GetSection("orders"));

var app = builder.Build();

// Shows what the application would connect with, and never the password itself.
app.MapGet("/", (IOptionsMonitor<OrdersDatabase> database) => database.CurrentValue switch
{
    { Password.Length: > 0 } current => Results.Ok(new
    {
        current.Username,
        current.Endpoint,
        PasswordSet = true,
    }),
    _ => Results.Problem("Secret db/orders has no password yet.", statusCode: StatusCodes.Status503ServiceUnavailable),
});

await app.RunAsync();
return 0;
