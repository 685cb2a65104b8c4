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

await builder.Build().RunAsync();
