using BenchmarkDotNet.Running;
using Trousseau.Benchmarks;

if (args is ["listing", .. var listing])
{
    return await ListingProbe.RunAsync(listing);
}

if (args is ["config", .. var config])
{
    return await ConfigPollProbe.RunAsync(config);
}

BenchmarkSwitcher.FromAssembly(typeof(Program).Assembly).Run(args);
return 0;
