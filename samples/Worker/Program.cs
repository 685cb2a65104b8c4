using Trousseau;
using Trousseau.Samples.Worker;

// A worker that seals the reports it writes with Trousseau: each report is encrypted with ITrousseau and signed with
// a key that Trousseau generated and keeps. Local key ring and SQLite, as configured in appsettings.json.
var builder = Host.CreateApplicationBuilder(new HostApplicationBuilderSettings { Args = args, ContentRootPath = AppContext.BaseDirectory });
builder.Services.AddTrousseau(builder.Configuration.GetSection("Trousseau"))
    .UseLocalKeyRing()
    .UseSqliteStore()
    .AddWorker();
builder.Services.AddOptions<ReportOptions>()
    .Bind(builder.Configuration.GetSection("Reports"))
    .Validate(o => !string.IsNullOrWhiteSpace(o.Outbox), "Reports:Outbox is required.")
    .ValidateOnStart();
builder.Services.AddHostedService<ReportWorker>();

using var host = builder.Build();

// The store opens at its first use: a data directory that another process holds (a worker still running) stops the
// start here, with one line, before the workers run.
try
{
    await host.Services.GetRequiredService<ITrousseau>().ListSecretsAsync("reports/").CountAsync();
}
catch (TrousseauException e)
{
    Console.Error.WriteLine($"Worker: {e.Message}");
    return 1;
}

await host.RunAsync();
return 0;
