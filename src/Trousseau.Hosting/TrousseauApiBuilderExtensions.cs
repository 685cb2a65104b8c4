using Microsoft.Extensions.Configuration;
using Microsoft.AspNetCore.Diagnostics;
using Microsoft.AspNetCore.Hosting;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using Trousseau;
using Trousseau.Hosting;
using Trousseau.Hosting.Api;

namespace Microsoft.Extensions.DependencyInjection;

/// <summary>Registers the services of Trousseau's HTTP API.</summary>
public static class TrousseauApiBuilderExtensions
{
    /// <summary>
    /// Registers what <c>app.MapTrousseauApi()</c> needs, with options bound from <c>Trousseau:Api</c> and validated
    /// at start (a token file is required in token mode; the TLS files of <c>Trousseau:Api:Tls</c>, when set, must be
    /// usable; each of <c>Api:Policies</c> must name identities, known actions and valid globs), the reloading
    /// certificate that <c>UseTrousseauApiTls</c> serves, and an <see cref="IExceptionHandler"/> with the exception
    /// handler middleware at the start of the pipeline: a failure the API did not expect is answered with problem
    /// details (500, <c>urn:trousseau:problem:internal</c>) and logged. The handler answers for the API's routes
    /// only; the application's other routes and its own exception handlers keep working as before.
    /// </summary>
    /// <param name="builder">The Trousseau builder.</param>
    /// <param name="configure">Sets the options, after configuration binding.</param>
    /// <returns>The builder.</returns>
    public static ITrousseauBuilder AddHttpApi(this ITrousseauBuilder builder, Action<TrousseauApiOptions>? configure = null)
    {
        ArgumentNullException.ThrowIfNull(builder);
        builder.AddBackendOptions<TrousseauApiOptions>(
            "Api",
            static (options, section) =>
            {
                ApiAuthModeSetting.Check(section.GetSection("Auth:Mode"));
                section.Bind(options);
            },
            configure);
        builder.AddAnnotationsValidator<TrousseauApiOptions, TrousseauApiOptionsAnnotationsValidator>();
        builder.AddSectionValidator<TrousseauApiOptions, TrousseauApiOptionsValidator>(services => new TrousseauApiOptionsValidator(builder.ConfigurationPath("Api"), builder.ConfigurationPath("KeyProvider"), services));
        builder.Services.TryAddSingleton(services => new ApiTlsCertificate(
            builder.ConfigurationPath("Api:Tls"),
            services.GetRequiredService<IOptions<TrousseauApiOptions>>().Value.Tls,
            (services.GetService<ILoggerFactory>() ?? NullLoggerFactory.Instance).CreateLogger<ApiTlsCertificate>()));
        builder.Services.TryAddSingleton<ApiToken>();
        builder.Services.TryAddSingleton(services => new ApiAuthenticationFilter(services.GetRequiredService<IOptions<TrousseauApiOptions>>(), services, builder.ConfigurationPath("Api")));
        builder.Services.TryAddSingleton(services => new CallerCheck(
            services.GetRequiredService<ICallerVerifier>(), services.GetRequiredService<IOptions<TrousseauApiOptions>>(), services.GetRequiredService<TimeProvider>()));
        builder.Services.TryAddSingleton(services => new ApiPolicies(
            services.GetRequiredService<IOptions<TrousseauApiOptions>>(),
            services.GetRequiredService<IOptionsMonitor<TrousseauApiOptions>>(),
            builder.ConfigurationPath("Api:Policies"),
            (services.GetService<ILoggerFactory>() ?? NullLoggerFactory.Instance).CreateLogger<ApiPolicies>()));
        builder.Services.TryAddSingleton<ApiExceptionFilter>();
        builder.Services.TryAddEnumerable(ServiceDescriptor.Singleton<IExceptionHandler, ApiExceptionHandler>());
        builder.Services.TryAddEnumerable(ServiceDescriptor.Transient<IStartupFilter, ApiExceptionHandlerStartupFilter>());
        builder.Services.TryAddEnumerable(ServiceDescriptor.Singleton<IHostedService, ApiTokenInitializer>());
        return builder;
    }
}
