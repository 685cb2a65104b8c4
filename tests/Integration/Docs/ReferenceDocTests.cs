using System.Collections;
using System.ComponentModel;
using System.Globalization;
using System.Reflection;
using System.Text;
using System.Text.RegularExpressions;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http.Metadata;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;
using OpenTelemetry.Metrics;
using Trousseau.Etcd;
using Trousseau.Hosting;
using Trousseau.Kms;
using Trousseau.Remote;
using Trousseau.Server;
using Trousseau.Sqlite;
using Trousseau.Tests.Integration.Infrastructure;
using Trousseau.Vault;

namespace Trousseau.Tests.Integration.Docs;

/// <summary>
/// <c>docs/reference.md</c> says what the code does, no more and no less: the settings the options classes bind and
/// trousseaud reads, the routes the hosting package maps, clectl's commands and options as its <c>--help</c>
/// shows them, the exit codes, problem types, flags and environment variables of both programs.
/// </summary>
public sealed partial class ReferenceDocTests : IDisposable
{
    private const string ReferencePath = "docs/reference.md";

    /// <summary>The options classes trousseaud binds, with the section below <c>Trousseau</c> each binds from.</summary>
    private static readonly IReadOnlyList<(Type Type, string Section)> BoundOptions = ServerSettings.BoundOptions;

    /// <summary>Public options types that are not configuration of trousseaud: set in code or sent in a request.</summary>
    private static readonly Type[] UnboundOptions = [typeof(SecretGenerationOptions), typeof(SecretRegenerationOptions), typeof(TrousseauSecretsConfigurationOptions)];

    private readonly MarkdownDocument _reference = MarkdownDocument.Load(ReferencePath);
    private readonly TempDirectory _temp = new();

    public void Dispose() => _temp.Dispose();

    [Fact]
    public void Every_setting_of_trousseaud_is_documented_and_every_documented_setting_exists()
    {
        var section = _reference.Section("Configuration keys");
        var problems = new List<string>();
        var documented = new List<string>();
        foreach (var row in section.TableRows())
        {
            if (ConfigurationKey().Match(row[0]) is { Success: true } key)
            {
                documented.Add(key.Groups["key"].Value);
            }
            else
            {
                problems.Add($"{section.Name}: the row '{string.Join(" | ", row)}' does not start with one key in backticks, like `Vault:Address`.");
            }
        }

        var bound = BoundOptions.SelectMany(o => BindableKeys(o.Type, o.Section, [])).ToList();
        var readByServer = ServerSource().SelectMany(s => ServerKey().Matches(s.Text).Select(m => (Key: Relative(m.Groups["key"].Value), s.File))).ToList();

        problems.AddRange(UnmappedOptionsTypes().Select(t =>
            $"{t.FullName} is a public options type that this test does not know: add it to {nameof(BoundOptions)} with its section (or to {nameof(UnboundOptions)}), and document its keys in {section.Name}."));
        problems.AddRange(bound.Where(b => !documented.Contains(b.Key, StringComparer.Ordinal)).Select(b =>
            $"{section.Name}: missing `{b.Key}`, bound to {b.Origin} (Trousseau:{b.Key})."));
        problems.AddRange(readByServer.Where(r => !documented.Contains(r.Key, StringComparer.Ordinal)).Select(r =>
            $"{section.Name}: missing `{r.Key}`, which {r.File} reads (Trousseau:{r.Key})."));
        problems.AddRange(documented.Where(d => !bound.Any(b => b.Key == d) && !readByServer.Any(r => r.Key == d)).Select(d =>
            $"{section.Name}: `{d}` is documented, but no options class binds Trousseau:{d} and no trousseaud code reads it."));
        problems.AddRange(documented.GroupBy(d => d, StringComparer.Ordinal).Where(g => g.Count() > 1).Select(g =>
            $"{section.Name}: `{g.Key}` is documented {g.Count()} times."));
        AssertNone(problems);
    }

    [Fact]
    public void Every_option_is_set_by_its_key_under_Trousseau_through_the_registrations_of_trousseaud()
    {
        var keys = BoundOptions.Select(o => (o.Type, Keys: BindableKeys(o.Type, o.Section, []).ToList())).ToList();
        var values = keys.SelectMany(o => o.Keys.Select(k => (Key: k, Value: SampleValue(k, Activator.CreateInstance(o.Type)!)))).ToList();
        var configuration = new ConfigurationBuilder()
            .AddInMemoryCollection(values.Select(v => KeyValuePair.Create(v.Key.SampleConfigurationKey, (string?)v.Value)))
            .Build();

        // The registrations of trousseaud (src/Trousseau.Server/TrousseauServer.cs), with every backend at once.
        var services = new ServiceCollection();
        services.AddLogging();
        services.AddTrousseau(configuration.GetSection("Trousseau"))
            .UseLocalKeyRing().UseVaultTransit().UseEtcdStore().UseSqliteStore().UseInMemoryStore()
            .AddAuditTrail().AddKmsPlugin().AddWorker().AddHttpApi();
        using var provider = services.BuildServiceProvider();

        var problems = new List<string>();
        foreach (var (type, typeKeys) in keys)
        {
            var options = Activator.CreateInstance(type)!;
            var configure = typeof(IConfigureOptions<>).MakeGenericType(type);
            foreach (var step in provider.GetServices(configure))
            {
                configure.GetMethod(nameof(IConfigureOptions<object>.Configure))!.Invoke(step, [options]);
            }

            foreach (var key in typeKeys)
            {
                var expected = values.Single(v => v.Key == key).Value;
                var actual = key.Read(options);
                var bound = key.IsList
                    ? actual is IEnumerable items && items.Cast<object>().Any(i => key.ItemMember is { } member
                        ? Convert.ToString(member.GetValue(i) is IEnumerable<string> texts ? texts.FirstOrDefault() : member.GetValue(i), CultureInfo.InvariantCulture) == expected
                        : Convert.ToString(i, CultureInfo.InvariantCulture) == expected)
                    : Equals(actual, TypeDescriptor.GetConverter(Nullable.GetUnderlyingType(key.ValueType) ?? key.ValueType).ConvertFromInvariantString(expected));
                if (!bound)
                {
                    problems.Add($"Setting Trousseau:{key.Key} did not reach {key.Origin}: the section of {type.Name} in {nameof(BoundOptions)} is wrong, or trousseaud's registration binds it elsewhere.");
                }
            }
        }

        AssertNone(problems);
    }

    [Fact]
    public async Task Trousseaud_accepts_every_setting_it_binds_or_reads_and_refuses_only_the_misspelt_one()
    {
        var accepted = BoundOptions.SelectMany(o => BindableKeys(o.Type, o.Section, [])).SelectMany(k => k.EveryConfigurationKey)
            .Concat(ServerSource().SelectMany(s => ServerKey().Matches(s.Text)).Select(m => $"Trousseau:{Relative(m.Groups["key"].Value)}"))
            .Distinct(StringComparer.OrdinalIgnoreCase)
            .ToList();
        Assert.Contains("Trousseau:Api:Policies:0:Actions:0", accepted);

        // The values are never read: an unknown key is refused before any setting is used.
        var args = accepted.Select(k => $"--{k}=sample").Append("--Trousseau:Api:Tls:ClientCaFil=/etc/ca.pem");
        var result = await TrousseauServerProcess.RunToExitAsync(_temp.Combine("data"), args);

        Assert.Equal(2, result.ExitCode);
        Assert.Equal(
            "trousseaud: invalid configuration: Trousseau:Api:Tls:ClientCaFil (did you mean Trousseau:Api:Tls:ClientCaFile?) is not a setting of trousseaud. "
            + "Every setting is listed in docs/reference.md of the Trousseau repository.",
            Assert.Single(result.Stderr.Split('\n', StringSplitOptions.RemoveEmptyEntries)));
        Assert.False(Directory.Exists(_temp.Combine("data")));
    }

    [Fact]
    public async Task Every_mapped_route_is_documented_and_every_documented_route_is_mapped()
    {
        var section = _reference.Section("Routes");
        var documented = section.TableRows().Select(row => (Row: row[0], Route: DocumentedRoute().Match(row[0]))).ToList();
        var problems = documented.Where(d => !d.Route.Success).Select(d =>
            $"{section.Name}: the row starting '{d.Row}' does not start with a method and a path in backticks, like `GET /v1/keys`.").ToList();
        var routes = documented.Where(d => d.Route.Success)
            .Select(d => (Method: d.Route.Groups["method"].Value, Path: d.Route.Groups["path"].Value))
            .ToList();

        await using var app = BuildAppWithEveryRoute();
        var mapped = ((IEndpointRouteBuilder)app).DataSources.SelectMany(s => s.Endpoints).OfType<RouteEndpoint>()
            .Select(e => (Pattern: e.RoutePattern.RawText ?? "", Methods: e.Metadata.GetMetadata<IHttpMethodMetadata>()?.HttpMethods))
            .ToList();
        Assert.NotEmpty(mapped);

        foreach (var endpoint in mapped)
        {
            var methods = endpoint.Methods ?? ["any method"];
            foreach (var method in methods)
            {
                if (!routes.Any(r => (endpoint.Methods is null || r.Method == method) && Matches(endpoint.Pattern, r.Path)))
                {
                    problems.Add($"{section.Name}: missing {method} {endpoint.Pattern}, which MapTrousseauApi, MapTrousseauHealth or trousseaud's Prometheus exporter maps.");
                }
            }
        }

        foreach (var route in routes)
        {
            if (!mapped.Any(e => (e.Methods is null || e.Methods.Contains(route.Method)) && Matches(e.Pattern, route.Path)))
            {
                problems.Add($"{section.Name}: `{route.Method} {route.Path}` is documented, but no endpoint answers it.");
            }
        }

        AssertNone(problems);
    }

    [Fact]
    public async Task Every_command_and_option_of_clectl_is_documented_and_every_documented_one_exists()
    {
        var clectl = new ClectlRunner(_temp.Path, new Dictionary<string, string?> { ["XDG_CONFIG_HOME"] = _temp.Combine("config") });
        var tree = await ClectlHelp.WalkAsync(clectl);
        var root = tree[0];
        var problems = new List<string>();

        var globalSection = _reference.Section("Global options");
        var global = globalSection.TableRows().SelectMany(row => OptionNames(row[0])).ToHashSet(StringComparer.Ordinal);
        problems.AddRange(root.OptionNames.Where(o => !global.Contains(o)).Select(o =>
            $"{globalSection.Name}: missing `{o}`, which clectl --help lists."));
        problems.AddRange(global.Where(o => !root.OptionNames.Contains(o)).Select(o =>
            $"{globalSection.Name}: `{o}` is documented, but clectl --help does not list it."));

        var commands = _reference.Section("Commands");
        var leaves = tree.Where(c => c.Path.Count > 0 && c.Subcommands.Count == 0).ToList();
        foreach (var leaf in leaves)
        {
            if (commands.FindSection(leaf.Path[0]) is not { } group)
            {
                problems.Add($"{commands.Name}: missing a heading '{leaf.Path[0]}' with a row for `{leaf.CommandLine}`.");
                continue;
            }

            var row = CommandRows(group).FirstOrDefault(r => r.Command == string.Join(' ', leaf.Path));
            if (row.Command is null)
            {
                problems.Add($"{group.Name}: missing a row for `{leaf.CommandLine}`.");
                continue;
            }

            var own = leaf.Options.Where(aliases => !aliases.Any(root.OptionNames.Contains)).SelectMany(aliases => aliases);
            problems.AddRange(own.Where(o => !row.Options.Contains(o)).Select(o =>
                $"{group.Name}: the row of `{leaf.CommandLine}` is missing `{o}`, which `{leaf.CommandLine} --help` lists."));
            problems.AddRange(row.Options.Where(o => !leaf.OptionNames.Contains(o)).Select(o =>
                $"{group.Name}: the row of `{leaf.CommandLine}` documents `{o}`, but `{leaf.CommandLine} --help` does not list it."));
        }

        foreach (var row in CommandRows(commands))
        {
            if (row.Command is null)
            {
                problems.Add($"{commands.Name}: a row does not start with a command in backticks, like `clectl key status`.");
            }
            else if (!leaves.Any(l => string.Join(' ', l.Path) == row.Command))
            {
                problems.Add($"{commands.Name}: `clectl {row.Command}` is documented, but clectl has no such command.");
            }
        }

        AssertNone(problems);
    }

    [Fact]
    public void The_exit_codes_documented_are_those_of_the_code()
    {
        var problems = new List<string>();
        var server = ServerSource().SelectMany(s => ExitConstant().Matches(s.Text)).Select(m => int.Parse(m.Groups["code"].Value, CultureInfo.InvariantCulture)).Append(0);
        CompareCodes(problems, _reference.Section("trousseaud exit codes"), server, "src/Trousseau.Server (its Exit* constants, and 0)");

        var cliSource = File.ReadAllText(Path.Combine(RepositoryPaths.Root, "src/Trousseau.Cli/ExitCodes.cs"));
        var cli = CliExitCode().Matches(cliSource).Select(m => int.Parse(m.Groups["code"].Value, CultureInfo.InvariantCulture));
        CompareCodes(problems, _reference.Section("clectl exit codes"), cli, "src/Trousseau.Cli/ExitCodes.cs");
        AssertNone(problems);
    }

    [Fact]
    public void Every_problem_type_the_api_answers_with_is_documented()
    {
        var section = _reference.Section("Errors");
        var documented = section.TableRows().SelectMany(row => MarkdownDocument.CodeSpans(row[0])).ToHashSet(StringComparer.Ordinal);
        var problemTypes = typeof(ProblemTypes)
            .GetFields(BindingFlags.Public | BindingFlags.Static)
            .Select(f => (string)f.GetRawConstantValue()!)
            .ToList();
        Assert.NotEmpty(problemTypes);

        AssertNone(problemTypes.Where(t => !documented.Contains(t)).Select(t => $"{section.Name}: missing `{t}`.")
            .Concat(documented.Where(d => !problemTypes.Contains(d)).Select(d => $"{section.Name}: `{d}` is documented, but the API has no such problem type.")));
    }

    [Fact]
    public void Every_flag_and_environment_variable_the_programs_read_is_documented()
    {
        var problems = new List<string>();
        var serverLiterals = ServerSource().SelectMany(s => StringLiteral().Matches(s.Text).Select(m => (Value: m.Groups["value"].Value, s.File))).ToList();

        var commandLine = _reference.Section("Command line");
        var documentedFlags = commandLine.TableRows().SelectMany(row => MarkdownDocument.CodeSpans(row[0])).Select(c => c.Split(' ')[0])
            .Where(f => ServerFlag().IsMatch(f)).ToHashSet(StringComparer.Ordinal);
        var flags = serverLiterals.Where(l => ServerFlag().IsMatch(l.Value)).ToList();
        problems.AddRange(flags.Where(f => !documentedFlags.Contains(f.Value)).Select(f => $"{commandLine.Name}: missing `{f.Value}`, which {f.File} handles."));
        problems.AddRange(documentedFlags.Where(d => !flags.Any(f => f.Value == d)).Select(d => $"{commandLine.Name}: `{d}` is documented, but trousseaud does not handle it."));

        var serverVariables = _reference.Section("Environment variables");
        var documentedServerVariables = serverVariables.TableRows().SelectMany(row => MarkdownDocument.CodeSpans(row[0])).ToHashSet(StringComparer.Ordinal);
        problems.AddRange(serverLiterals.Where(l => EnvironmentVariable().IsMatch(l.Value) && !documentedServerVariables.Contains(l.Value)).Select(l =>
            $"{serverVariables.Name}: missing `{l.Value}`, which {l.File} reads."));

        var cliVariables = _reference.Section("clectl environment");
        var documentedCliVariables = cliVariables.TableRows().SelectMany(row => MarkdownDocument.CodeSpans(row[0])).ToHashSet(StringComparer.Ordinal);
        var cliLiterals = Source("src/Trousseau.Cli").SelectMany(s => StringLiteral().Matches(s.Text).Select(m => (Value: m.Groups["value"].Value, s.File)))
            .Where(l => EnvironmentVariable().IsMatch(l.Value)).ToList();
        problems.AddRange(cliLiterals.Where(l => !documentedCliVariables.Contains(l.Value)).Select(l => $"{cliVariables.Name}: missing `{l.Value}`, which {l.File} reads."));
        problems.AddRange(documentedCliVariables.Where(d => !cliLiterals.Any(l => l.Value == d)).Select(d => $"{cliVariables.Name}: `{d}` is documented, but clectl does not read it."));
        AssertNone(problems);
    }

    [Fact]
    public void The_docs_link_only_inside_the_repository_and_no_comment_cites_an_outside_spec()
    {
        var problems = new List<string>();
        var docs = Directory.GetFiles(Path.Combine(RepositoryPaths.Root, "docs"), "*.md").Select(f => "docs/" + Path.GetFileName(f)).Order().ToList();
        Assert.NotEmpty(docs);
        foreach (var doc in docs)
        {
            var markdown = MarkdownDocument.Load(doc);
            foreach (var target in markdown.LinkTargets().Where(t => !t.Contains("://", StringComparison.Ordinal)))
            {
                var (file, anchor) = target.Split('#', 2) is [var f, var a] ? (f, a) : (target, null);
                var linked = file.Length == 0 ? doc : Path.GetRelativePath(RepositoryPaths.Root, Path.GetFullPath(Path.Combine(RepositoryPaths.Root, "docs", file)));
                if (!File.Exists(Path.Combine(RepositoryPaths.Root, linked)) && !Directory.Exists(Path.Combine(RepositoryPaths.Root, linked)))
                {
                    problems.Add($"{doc}: the link ({target}) points to {linked}, which is not in the repository.");
                }
                else if (anchor is not null && linked.EndsWith(".md", StringComparison.Ordinal) && !MarkdownDocument.Load(linked).Anchors().Contains(anchor))
                {
                    problems.Add($"{doc}: the link ({target}) names a heading that {linked} does not have.");
                }
            }

            problems.AddRange(markdown.LinkTargets().Where(t => t.Contains("://", StringComparison.Ordinal)).Select(t => $"{doc}: the link ({t}) leaves the repository."));
            problems.AddRange(markdown.Lines.Where(l => OutsideSpec().IsMatch(l))
                .Select(l => $"{doc}: '{l.Trim()}' refers to a document outside the repository."));
        }

        foreach (var source in Source("src"))
        {
            problems.AddRange(source.Text.Split('\n').Where(l => l.TrimStart().StartsWith("//", StringComparison.Ordinal) && OutsideSpec().IsMatch(l))
                .Select(l => $"{source.File}: the comment '{l.Trim()}' refers to a document outside the repository or to an issue."));
        }

        AssertNone(problems);
    }

    private WebApplication BuildAppWithEveryRoute()
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.Services.AddTrousseau(_ => { })
            .UseLocalKeyRing(ring => ring.KeyFile = _temp.Combine("local.keyring"))
            .UseInMemoryStore()
            .AddHttpApi(api => api.Auth.TokenFile = _temp.Combine("api.token"));
        builder.Services.AddHealthChecks().AddTrousseau();
        builder.Services.AddOpenTelemetry().WithMetrics(metrics => metrics.AddTrousseauInstrumentation().AddPrometheusExporter());
        var app = builder.Build();
        app.MapTrousseauApi();
        app.MapTrousseauHealth();

        // trousseaud serves /metrics with OpenTelemetry's Prometheus exporter.
        app.MapPrometheusScrapingEndpoint();
        return app;
    }

    /// <summary>
    /// The configuration keys of <paramref name="type"/> below <paramref name="prefix"/>, as the configuration binder
    /// sees them: a value it can convert from a string, or a list, is one key; an object's properties are keys below it.
    /// </summary>
    private static IEnumerable<BoundKey> BindableKeys(Type type, string prefix, IReadOnlyList<PropertyInfo> parents)
    {
        foreach (var property in type.GetProperties(BindingFlags.Public | BindingFlags.Instance).Where(p => p.GetMethod?.IsPublic == true && p.GetIndexParameters().Length == 0))
        {
            var name = property.GetCustomAttribute<ConfigurationKeyNameAttribute>()?.Name ?? property.Name;
            var key = prefix.Length == 0 ? name : $"{prefix}:{name}";
            var path = parents.Append(property).ToList();
            var propertyType = Nullable.GetUnderlyingType(property.PropertyType) ?? property.PropertyType;
            if (TypeDescriptor.GetConverter(propertyType).CanConvertFrom(typeof(string)))
            {
                if (property.SetMethod?.IsPublic == true)
                {
                    yield return new BoundKey(key, path);
                }
            }
            else if (typeof(IEnumerable).IsAssignableFrom(propertyType))
            {
                yield return new BoundKey(key, path);
            }
            else
            {
                foreach (var nested in BindableKeys(propertyType, key, path))
                {
                    yield return nested;
                }
            }
        }
    }

    /// <summary>A value for <paramref name="key"/> that differs from its default, as configuration text.</summary>
    private static string SampleValue(BoundKey key, object defaults)
    {
        var type = Nullable.GetUnderlyingType(key.ValueType) ?? key.ValueType;
        return type switch
        {
            _ when type == typeof(bool) => (!(bool)key.Read(defaults)!).ToString(CultureInfo.InvariantCulture),
            _ when type == typeof(TimeSpan) => "00:00:07",
            _ when type == typeof(int) || type == typeof(long) => "7",
            _ when type == typeof(Uri) || key.IsList => "http://sample.test:7/",
            _ when type.IsEnum => Enum.GetNames(type).First(n => !Equals(Enum.Parse(type, n), key.Read(defaults))),
            _ => "sample-" + key.Key.Replace(':', '-'),
        };
    }

    /// <summary>A configuration key and the chain of properties it binds to, from the options class down.</summary>
    private sealed record BoundKey(string Key, IReadOnlyList<PropertyInfo> Path)
    {
        public string Origin => Path[0].DeclaringType!.Name + "." + string.Join('.', Path.Select(p => p.Name));

        public Type ValueType => Path[^1].PropertyType;

        public bool IsList => ValueType != typeof(string) && typeof(IEnumerable).IsAssignableFrom(ValueType);

        /// <summary>
        /// For a list of objects (such as <c>Api:Policies</c>), the first property of an item, which the sample value
        /// sets (its first entry, when it is a list of strings); <see langword="null"/> for a list of values.
        /// </summary>
        public PropertyInfo? ItemMember => ItemType is { } item && !TypeDescriptor.GetConverter(item).CanConvertFrom(typeof(string))
            ? item.GetProperties(BindingFlags.Public | BindingFlags.Instance)[0]
            : null;

        private Type? ItemType => IsList
            && ValueType.GetInterfaces().Append(ValueType).FirstOrDefault(i => i.IsGenericType && i.GetGenericTypeDefinition() == typeof(IEnumerable<>)) is { } enumerable
                ? enumerable.GetGenericArguments()[0]
                : null;

        /// <summary>The configuration key the sample value is set at: the key, its first item, or its first item's first member.</summary>
        public string SampleConfigurationKey => (IsList, ItemMember) switch
        {
            (false, _) => $"Trousseau:{Key}",
            (true, null) => $"Trousseau:{Key}:0",
            (true, { } member) => $"Trousseau:{Key}:0:{member.Name}{(member.PropertyType != typeof(string) && typeof(IEnumerable).IsAssignableFrom(member.PropertyType) ? ":0" : "")}",
        };

        /// <summary>
        /// Every configuration key that sets this one: the key, its first item, or each member of its first item.
        /// </summary>
        public IEnumerable<string> EveryConfigurationKey => IsList && ItemMember is not null
            ? ItemType!.GetProperties(BindingFlags.Public | BindingFlags.Instance).Select(member =>
                $"Trousseau:{Key}:0:{member.Name}{(member.PropertyType != typeof(string) && typeof(IEnumerable).IsAssignableFrom(member.PropertyType) ? ":0" : "")}")
            : [SampleConfigurationKey];

        public object? Read(object options) => Path.Aggregate<PropertyInfo, object?>(options, (target, property) => target is null ? null : property.GetValue(target));
    }

    private static IEnumerable<Type> UnmappedOptionsTypes()
    {
        var known = BoundOptions.Select(o => o.Type).Concat(UnboundOptions).ToList();
        var reachable = new HashSet<Type>(known);
        foreach (var type in known)
        {
            foreach (var property in type.GetProperties(BindingFlags.Public | BindingFlags.Instance))
            {
                reachable.Add(property.PropertyType);
            }
        }

        Assembly[] assemblies = [typeof(TrousseauOptions).Assembly, typeof(SqliteStoreOptions).Assembly, typeof(EtcdStoreOptions).Assembly,
            typeof(VaultOptions).Assembly, typeof(KmsOptions).Assembly, typeof(TrousseauApiOptions).Assembly];
        return assemblies.SelectMany(a => a.GetExportedTypes())
            .Where(t => t.IsClass && t.Name.EndsWith("Options", StringComparison.Ordinal) && !reachable.Contains(t));
    }

    private static IEnumerable<(string File, string Text)> ServerSource() => Source("src/Trousseau.Server");

    private static IEnumerable<(string File, string Text)> Source(string directory) =>
        Directory.GetFiles(Path.Combine(RepositoryPaths.Root, directory), "*.cs", SearchOption.AllDirectories)
            .Where(f => !f.Contains($"{Path.DirectorySeparatorChar}obj{Path.DirectorySeparatorChar}", StringComparison.Ordinal)
                && !f.Contains($"{Path.DirectorySeparatorChar}bin{Path.DirectorySeparatorChar}", StringComparison.Ordinal))
            .Order(StringComparer.Ordinal)
            .Select(f => (Path.GetRelativePath(RepositoryPaths.Root, f), File.ReadAllText(f)));

    private static string Relative(string key) => key.StartsWith("Trousseau:", StringComparison.Ordinal) ? key["Trousseau:".Length..] : key;

    /// <summary>Whether a documented path, its <c>{placeholders}</c> filled in, is one a mapped route pattern answers.</summary>
    private static bool Matches(string pattern, string documentedPath)
    {
        var regex = new StringBuilder("^");
        var literalStart = 0;
        foreach (Match parameter in RouteParameter().Matches(pattern))
        {
            regex.Append(Regex.Escape(pattern[literalStart..parameter.Index])).Append(parameter.Groups["catchAll"].Success ? ".+" : "[^/]+");
            literalStart = parameter.Index + parameter.Length;
        }

        regex.Append(Regex.Escape(pattern[literalStart..])).Append('$');
        return Regex.IsMatch(RouteParameter().Replace(documentedPath, "x"), regex.ToString());
    }

    /// <summary>
    /// The command rows of a section: the command's words (<c>secret create</c> from <c>`clectl secret create NAME`</c>,
    /// or null when the first cell is not a command) and the options its second cell names.
    /// </summary>
    private static List<(string? Command, List<string> Options)> CommandRows(MarkdownDocument section) =>
    [
        .. section.TableRows().Select(row => (
            DocumentedCommandLine().Match(row[0]) is { Success: true } m
                ? string.Join(' ', m.Groups["words"].Value.Split(' ', StringSplitOptions.RemoveEmptyEntries).TakeWhile(w => CommandWord().IsMatch(w)))
                : null,
            row.Length > 1 ? OptionNames(row[1]).ToList() : [])),
    ];

    private static IEnumerable<string> OptionNames(string cell) =>
        MarkdownDocument.CodeSpans(cell).Select(code => code.Split(' ')[0]).Where(word => CliOption().IsMatch(word));

    private static void CompareCodes(List<string> problems, MarkdownDocument section, IEnumerable<int> codes, string source)
    {
        var documented = section.TableRows().Select(row => int.TryParse(row[0], out var code) ? code : -1).ToHashSet();
        var actual = codes.ToHashSet();
        problems.AddRange(actual.Where(c => !documented.Contains(c)).Order().Select(c => $"{section.Name}: missing exit code {c}, which {source} has."));
        problems.AddRange(documented.Where(c => !actual.Contains(c)).Order().Select(c => $"{section.Name}: exit code {c} is documented, but {source} has no such code."));
    }

    private static void AssertNone(IEnumerable<string> problems)
    {
        var list = problems.Distinct(StringComparer.Ordinal).ToList();
        Assert.True(list.Count == 0, $"{ReferencePath} and the code disagree:\n" + string.Join('\n', list));
    }

    [GeneratedRegex(@"^`(?<key>[A-Z][A-Za-z]*(?::[A-Z][A-Za-z]*)*)`$")]
    private static partial Regex ConfigurationKey();

    // A key trousseaud reads in its own code: an indexer or GetValue with a literal, relative to Trousseau or below it.
    [GeneratedRegex(@"(?:\[|GetValue(?:<[^>]*>)?\()\s*""(?<key>[A-Z][A-Za-z]*(?::[A-Z][A-Za-z]*)*)""")]
    private static partial Regex ServerKey();

    [GeneratedRegex(@"^`(?<method>GET|POST|PUT|PATCH|DELETE|HEAD|OPTIONS) (?<path>/[^`\s]*)`$")]
    private static partial Regex DocumentedRoute();

    [GeneratedRegex(@"\{(?<catchAll>\*\*)?[^}]+\}")]
    private static partial Regex RouteParameter();

    [GeneratedRegex(@"^`clectl (?<words>[^`]+)`$")]
    private static partial Regex DocumentedCommandLine();

    [GeneratedRegex(@"^[a-z][a-z0-9-]*$")]
    private static partial Regex CommandWord();

    [GeneratedRegex(@"^(--[a-z][a-z0-9-]*|-[a-zA-Z?])$")]
    private static partial Regex CliOption();

    [GeneratedRegex(@"^--[a-z][a-z0-9-]*$")]
    private static partial Regex ServerFlag();

    [GeneratedRegex(@"^[A-Z][A-Z0-9]*(?:_[A-Z0-9]+)+$")]
    private static partial Regex EnvironmentVariable();

    [GeneratedRegex(@"(?<![@$\\])""(?<value>[^""\\\r\n]*)""")]
    private static partial Regex StringLiteral();

    [GeneratedRegex(@"const int Exit\w* = (?<code>\d+);")]
    private static partial Regex ExitConstant();

    [GeneratedRegex(@"public const int \w+ = (?<code>\d+);")]
    private static partial Regex CliExitCode();

    [GeneratedRegex(@"CONTRACT\.md|DESIGN\.md|STYLE\.md|contract\s+document|project's\s+contract|arrives\s+with\s+issue|issue\s+#\d", RegexOptions.IgnoreCase)]
    private static partial Regex OutsideSpec();
}
