using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;

namespace Trousseau.Hosting.Api;

/// <summary>
/// Puts the exception handler middleware first in the pipeline, so that <see cref="ApiExceptionHandler"/> answers the
/// API's unexpected failures without the application calling <c>UseExceptionHandler</c>. For other routes nothing
/// changes: a failure the application's own handlers leave is still a bare 500. Inside it, routing's own 404 and 405
/// below <c>/v1</c> become problem details (<see cref="ApiRoutingProblems"/>).
/// </summary>
internal sealed class ApiExceptionHandlerStartupFilter : IStartupFilter
{
    public Action<IApplicationBuilder> Configure(Action<IApplicationBuilder> next) => app =>
    {
        app.UseExceptionHandler(new ExceptionHandlerOptions { ExceptionHandler = static _ => Task.CompletedTask });
        app.Use(ApiRoutingProblems.InvokeAsync);
        next(app);
    };
}
