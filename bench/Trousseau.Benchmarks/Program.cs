using BenchmarkDotNet.Running;
using Trousseau.Benchmarks;

if (args is ["listing", .. var listing])
{
    return await ListingProbe.RunAsync(listing);
}

BenchmarkSwitcher.FromAssembly(typeof(Program).Assembly).Run(args);
return 0;
