using System.Diagnostics.CodeAnalysis;
using System.Globalization;
using System.Reflection;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.Configuration.Json;
using Trousseau.Etcd;
using Trousseau.Hosting;
using Trousseau.Kms;
using Trousseau.Sqlite;
using Trousseau.Vault;

namespace Trousseau.Server;

/// <summary>
/// The settings trousseaud knows below <c>Trousseau</c>: those its options classes bind and those it reads itself.
/// Any other key is refused at start, so that a misspelt setting (<c>Api:Tls:ClientCaFil</c>, <c>Audit:FailOpn</c>)
/// cannot leave a default in force unnoticed, as the configuration binder would.
/// </summary>
internal static class ServerSettings
{
    /// <summary>The section every setting is below.</summary>
    private const string SectionName = "Trousseau";

    /// <summary>Where a list's index stands in a known key.</summary>
    private const string Index = "#";

    /// <summary>
    /// The options classes trousseaud binds, each with the section below <c>Trousseau</c> it binds from and its public
    /// properties, read here, where each class is named, so that a trimmed or Native AOT trousseaud keeps them.
    /// </summary>
    private static readonly (Type Options, string Section, PropertyInfo[] Properties)[] Bound =
    [
        Binds<TrousseauOptions>(""),
        Binds<LocalKeyRingOptions>("Local"),
        Binds<SqliteStoreOptions>("Sqlite"),
        Binds<EtcdStoreOptions>("Etcd"),
        Binds<VaultOptions>("Vault"),
        Binds<KmsOptions>("Kms"),
        Binds<TrousseauApiOptions>("Api"),
        Binds<TrousseauWorkerOptions>("Worker"),
        Binds<TrousseauAuditOptions>("Audit"),
    ];

    /// <summary>The options classes trousseaud binds, with the section below <c>Trousseau</c> each binds from.</summary>
    public static readonly IReadOnlyList<(Type Options, string Section)> BoundOptions = [.. Bound.Select(b => (b.Options, b.Section))];

    /// <summary>Settings that trousseaud reads itself and no options class binds.</summary>
    private static readonly (string Key, Type Type)[] ReadByServer =
        [("DataDir", typeof(string)), ("Api:Enabled", typeof(bool)), ("Api:Urls", typeof(string)), ("Api:AllowInsecureHttp", typeof(bool))];

    /// <summary>
    /// The settings that a changed settings file changes while trousseaud runs, with every key below them: the etcd
    /// user and password (the next call to etcd signs in with them) and the API's policies (the next call is checked
    /// against them). Every other setting is read only at start.
    /// </summary>
    private static readonly string[] FollowedOnChange = ["Etcd:Username", "Etcd:Password", "Api:Policies"];

    private static readonly Type[] ListTypes =
        [typeof(IEnumerable<>), typeof(ICollection<>), typeof(IList<>), typeof(List<>), typeof(IReadOnlyCollection<>), typeof(IReadOnlyList<>), typeof(ISet<>), typeof(HashSet<>)];

    /// <summary>The public properties of every class bound below <c>Trousseau</c>: the bound options and the classes they hold.</summary>
    private static readonly Dictionary<Type, PropertyInfo[]> OptionsClasses = new(
    [
        .. Bound.Select(b => KeyValuePair.Create(b.Options, b.Properties)),
        Properties<DataKeyOptions>(),
        Properties<VaultAuthOptions>(),
        Properties<TrousseauApiAuthOptions>(),
        Properties<TrousseauApiTlsOptions>(),
        Properties<TrousseauApiPolicy>(),
    ]);

    private static readonly (string[] Key, Type Type)[] BoundKeys =
        [.. Bound.SelectMany(o => Keys(o.Options, o.Section.Length == 0 ? [] : [o.Section]))];

    /// <summary>Every setting, with the type its value is converted to.</summary>
    private static readonly (string[] Key, Type Type)[] Typed =
    [
        .. BoundKeys,
        .. ReadByServer.Select(read => (read.Key.Split(':'), read.Type)),
    ];

    private static readonly string[][] Known = [.. Typed.Select(setting => setting.Key)];

    /// <summary>The settings that take a time span.</summary>
    private static readonly string[][] TimeSpans = [.. BoundKeys.Where(bound => bound.Type == typeof(TimeSpan)).Select(bound => bound.Key)];

    /// <summary>
    /// The list settings: each known key's part before an index, and whether the list's items are objects (keys below
    /// the index) rather than values.
    /// </summary>
    private static readonly (string[] Key, bool OfObjects)[] Lists =
    [
        .. Known
            .SelectMany(known => Enumerable.Range(0, known.Length).Where(i => known[i] == Index).Select(i => (Key: known[..i], OfObjects: known.Length > i + 1)))
            .GroupBy(list => string.Join(':', list.Key), StringComparer.Ordinal)
            .Select(group => (group.First().Key, group.Any(list => list.OfObjects))),
    ];

    /// <summary>
    /// Refuses the keys below <paramref name="section"/> that are no setting of trousseaud, naming each (never its
    /// value) with the nearest setting when one is a slip of the keyboard away, and a value given to the section itself.
    /// </summary>
    /// <param name="section">The <c>Trousseau</c> section.</param>
    /// <param name="origin">What set the keys, for the message, when it is not the local configuration.</param>
    /// <exception cref="InvalidConfigurationException">A key is not a setting.</exception>
    public static void RefuseUnknown(IConfigurationSection section, string? origin = null)
    {
        if (!string.IsNullOrEmpty(section.Value))
        {
            // Not shown: whatever it is, it is no setting.
            var given = origin is null ? $"{section.Path} is given a value of its own" : $"{origin} gives {section.Path} a value of its own";
            throw new InvalidConfigurationException(
                $"{given}, which trousseaud does not read: it is the section every setting is written in, as {{ \"{section.Path}\": {{ \"Store\": \"memory\" }} }} in a file or --{section.Path}:Store=memory on the command line.");
        }

        var unknown = section.AsEnumerable(makePathsRelative: true)
            .Where(pair => pair.Value is not null && !IsKnown(pair.Key.Split(':')))
            .Select(pair => Describe(section.Path, pair.Key))
            .Order(StringComparer.OrdinalIgnoreCase)
            .ToList();
        if (unknown.Count == 0)
        {
            return;
        }

        var named = Listed(unknown);
        var what = unknown.Count == 1 ? "is not a setting" : "are not settings";
        var refused = origin is null ? $"{named} {what}" : $"{origin} sets {named}, which {what}";
        throw new InvalidConfigurationException($"{refused} of trousseaud. Every setting is listed in docs/reference.md of the Trousseau repository.");
    }

    /// <summary>
    /// Refuses one value given to a list setting (<c>--Trousseau:Etcd:Endpoints=URL</c>, <c>"Endpoints": "URL"</c>), which
    /// the configuration binder would ignore, leaving the list empty, saying how a list is written instead.
    /// </summary>
    /// <param name="section">The <c>Trousseau</c> section.</param>
    /// <exception cref="InvalidConfigurationException">A list is given one value.</exception>
    public static void RefuseValuesOfLists(IConfigurationSection section)
    {
        var refusals = section.AsEnumerable(makePathsRelative: true)
            .Where(pair => !string.IsNullOrEmpty(pair.Value))
            .Select(pair => (Key: pair.Key, List: Lists.FirstOrDefault(list => Matches(list.Key, pair.Key.Split(':')))))
            .Where(found => found.List.Key is not null)
            .OrderBy(found => found.Key, StringComparer.OrdinalIgnoreCase)
            .Select(found => DescribeList($"{section.Path}:{found.Key}", found.List.OfObjects))
            .ToList();
        if (refusals.Count > 0)
        {
            throw new InvalidConfigurationException(string.Join(" ", refusals));
        }
    }

    /// <summary>How to write the items of the list <paramref name="key"/>, which was given one value.</summary>
    private static string DescribeList(string key, bool ofObjects)
    {
        var variable = key.Replace(":", "__", StringComparison.Ordinal);
        return ofObjects
            ? $"{key} is a list of objects, so the one value given to it would not be read: write each item's settings with its index, "
                + $"as --{key}:0:NAME=VALUE on the command line, {variable}__0__NAME=VALUE in the environment, or a JSON array of objects in a file."
            : $"{key} is a list, so the one value given to it would not be read: write each item with its index, "
                + $"as --{key}:0=VALUE on the command line, {variable}__0=VALUE in the environment, or a JSON array in a file.";
    }

    /// <summary>
    /// Refuses a time-span setting given a number alone (<c>DataKeys:MaxAge=3600</c>), which .NET reads as that many
    /// days, where a user most likely meant seconds; the line says how to write the span instead.
    /// </summary>
    /// <param name="section">The <c>Trousseau</c> section.</param>
    /// <exception cref="InvalidConfigurationException">A time span is given as a number alone.</exception>
    public static void RefuseNumbersAsTimeSpans(IConfigurationSection section)
    {
        var refusals = section.AsEnumerable(makePathsRelative: true)
            .Where(pair => pair.Value is { } value && long.TryParse(value, NumberStyles.AllowLeadingWhite | NumberStyles.AllowTrailingWhite, CultureInfo.InvariantCulture, out _)
                && TimeSpans.Any(span => Matches(span, pair.Key.Split(':'))))
            .OrderBy(pair => pair.Key, StringComparer.OrdinalIgnoreCase)
            .Select(pair => $"{section.Path}:{pair.Key} is '{pair.Value}', a number alone, which .NET reads as {pair.Value!.Trim()} days: "
                + "write a time span as [d.]hh:mm:ss, 00:00:30 for 30 seconds, 01:00:00 for an hour, 2.00:00:00 for two days.")
            .ToList();
        if (refusals.Count > 0)
        {
            throw new InvalidConfigurationException(string.Join(" ", refusals));
        }
    }

    /// <summary>
    /// Refuses a number, time span or boolean setting given an empty value (<c>Trousseau__DataKeys__MaxUses=</c>,
    /// <c>"Enabled": ""</c>, <c>--Trousseau:Api:Enabled=</c>), which the configuration binder passes over, leaving the
    /// default in force unnoticed: whoever wrote the key meant something. The line says what the setting takes.
    /// </summary>
    /// <param name="section">The <c>Trousseau</c> section.</param>
    /// <exception cref="InvalidConfigurationException">Such a setting is empty.</exception>
    public static void RefuseEmptyValues(IConfigurationSection section)
    {
        var refusals = section.AsEnumerable(makePathsRelative: true)
            .Where(pair => pair.Value is { Length: 0 })
            .Select(pair => (pair.Key, Setting: Typed.FirstOrDefault(setting => Matches(setting.Key, pair.Key.Split(':')))))
            .Where(found => found.Setting.Type is { } type && Expected(type) is not null)
            .OrderBy(found => found.Key, StringComparer.OrdinalIgnoreCase)
            .Select(found => $"{section.Path}:{found.Key} is '', which is not {Expected(found.Setting.Type)}: write one, or leave the setting out for its default.")
            .ToList();
        if (refusals.Count > 0)
        {
            throw new InvalidConfigurationException(string.Join(" ", refusals));
        }
    }

    /// <summary>What a value of <paramref name="type"/> is written as, for the number, time span and boolean settings; else <see langword="null"/>.</summary>
    private static string? Expected(Type type) =>
        type == typeof(bool) ? "true or false"
        : type == typeof(TimeSpan) ? "a time span such as 00:00:30"
        : type == typeof(int) || type == typeof(long) || type == typeof(uint) || type == typeof(ulong) || type == typeof(short) || type == typeof(ushort) || type == typeof(byte) ? "a whole number"
        : type == typeof(double) || type == typeof(float) || type == typeof(decimal) ? "a number"
        : null;

    /// <summary>
    /// Refuses one setting given by several environment variables whose names differ only in case
    /// (<c>Trousseau__Store</c> and <c>TROUSSEAU__STORE</c>): .NET reads them as one key, and which value it keeps
    /// depends on the order in which the environment happens to list them. The line names the variables, never their values.
    /// </summary>
    /// <exception cref="InvalidConfigurationException">Two variables give one setting.</exception>
    public static void RefuseEnvironmentSpellings()
    {
        var refusals = Environment.GetEnvironmentVariables().Keys.Cast<string>()
            .Where(name => name.StartsWith(SectionName + "__", StringComparison.OrdinalIgnoreCase) || name.StartsWith(SectionName + ":", StringComparison.OrdinalIgnoreCase))
            .GroupBy(name => name.Replace("__", ":", StringComparison.Ordinal), StringComparer.OrdinalIgnoreCase)
            .Where(names => names.Count() > 1)
            .OrderBy(names => names.Key, StringComparer.OrdinalIgnoreCase)
            .Select(names =>
            {
                var spellings = names.Order(StringComparer.Ordinal).ToList();
                return $"The environment variables {string.Join(", ", spellings[..^1])} and {spellings[^1]} both set {Spelt(names.Key)}: setting names are "
                    + "case-insensitive, so .NET reads them as one, and which value it keeps is left to chance. Keep one of them.";
            })
            .ToList();
        if (refusals.Count > 0)
        {
            throw new InvalidConfigurationException(string.Join(" ", refusals));
        }
    }

    /// <summary>The full key <paramref name="key"/>, spelt as the setting it names is, when it names one.</summary>
    private static string Spelt(string key)
    {
        var relative = key.Split(':')[1..];
        return Known.FirstOrDefault(known => Matches(known, relative)) is { } setting
            ? $"{SectionName}:{string.Join(':', setting.Select((segment, i) => segment == Index ? relative[i] : segment))}"
            : $"{SectionName}:{string.Join(':', relative)}";
    }

    /// <summary>
    /// Refuses settings of trousseaud written at the top level of a JSON settings file (<c>appsettings.json</c>,
    /// <c>--config FILE</c>), outside the <c>Trousseau</c> section, where nothing would read them.
    /// </summary>
    /// <param name="configuration">trousseaud's configuration, with its sources.</param>
    /// <exception cref="InvalidConfigurationException">A file sets one.</exception>
    public static void RefuseOutsideSection(IConfigurationRoot configuration)
    {
        var settings = Known.Select(known => known[0]).ToHashSet(StringComparer.OrdinalIgnoreCase);
        foreach (var file in configuration.Providers.OfType<JsonConfigurationProvider>())
        {
            var misplaced = file.GetChildKeys([], parentPath: null)
                .Where(settings.Contains)
                .Distinct(StringComparer.OrdinalIgnoreCase)
                .Order(StringComparer.OrdinalIgnoreCase)
                .ToList();
            if (misplaced.Count == 0)
            {
                continue;
            }

            var path = file.Source.FileProvider?.GetFileInfo(file.Source.Path!).PhysicalPath ?? file.Source.Path;
            var named = Listed(misplaced);
            throw new InvalidConfigurationException(
                $"{path} sets {named} at its top level, outside the {SectionName} section, where trousseaud reads no setting: "
                + $"move {(misplaced.Count == 1 ? "it" : "them")} into that section, as {{ \"{SectionName}\": {{ \"{misplaced[0]}\": ... }} }}.");
        }
    }

    /// <summary>
    /// The values of the settings below <paramref name="section"/> that are read only at start, by key relative to it
    /// (case-insensitive): every setting of trousseaud but those that follow a changed settings file while it runs
    /// (<see cref="FollowedOnChange"/>).
    /// </summary>
    /// <param name="section">The <c>Trousseau</c> section.</param>
    public static IReadOnlyDictionary<string, string> ReadOnlyAtStart(IConfigurationSection section) =>
        section.AsEnumerable(makePathsRelative: true)
            .Where(pair => pair.Value is not null && IsKnown(pair.Key.Split(':'))
                && !FollowedOnChange.Any(followed => pair.Key.Equals(followed, StringComparison.OrdinalIgnoreCase)
                    || pair.Key.StartsWith(followed + ":", StringComparison.OrdinalIgnoreCase)))
            .ToDictionary(pair => pair.Key, pair => pair.Value!, StringComparer.OrdinalIgnoreCase);

    /// <summary>
    /// Names, in one sentence, the settings read only at start whose values in <paramref name="now"/> differ from
    /// those trousseaud started with, each with its new value (a credential's never shown), and says that they take a
    /// restart; <see langword="null"/> when none differs.
    /// </summary>
    /// <param name="atStart">The settings read only at start as trousseaud started with them (<see cref="ReadOnlyAtStart"/>).</param>
    /// <param name="now">The same settings as the changed configuration gives them.</param>
    /// <param name="toldApart">Settings whose change another sentence of the same warning tells.</param>
    public static string? DescribeRestartNeeded(IReadOnlyDictionary<string, string> atStart, IReadOnlyDictionary<string, string> now, IEnumerable<string> toldApart)
    {
        var told = toldApart.ToHashSet(StringComparer.OrdinalIgnoreCase);
        var changed = now.Keys.Concat(atStart.Keys.Where(key => !now.ContainsKey(key)))
            .Where(key => !told.Contains(key) && (!atStart.TryGetValue(key, out var was) || !now.TryGetValue(key, out var value) || !string.Equals(was, value, StringComparison.Ordinal)))
            .Order(StringComparer.OrdinalIgnoreCase)
            .Select(key => !now.TryGetValue(key, out var value) ? $"{SectionName}:{key} is no longer set"
                : IsCredential(key) ? $"{SectionName}:{key} is changed (its value is not shown)"
                : $"{SectionName}:{key} is now '{value}'")
            .ToList();
        return changed.Count switch
        {
            0 => null,
            1 => $"{changed[0]}: this setting is read only at start, so it takes effect when trousseaud restarts, and until then the value it started with stays in use.",
            _ => $"{Listed(changed)}: these settings are read only at start, so they take effect when trousseaud restarts, and until then the values it started with stay in use.",
        };
    }

    /// <summary>
    /// Whether the value of <paramref name="key"/> (relative to the section) is a credential, or half of one, which no
    /// message shows: <c>Etcd:Password</c>, <c>Vault:Auth:Token</c>, AppRole's <c>Vault:Auth:RoleId</c> and
    /// <c>Vault:Auth:SecretId</c>, in <c>KeyProviders</c> too.
    /// </summary>
    private static bool IsCredential(string key) =>
        key.Split(':')[^1].ToUpperInvariant() is "PASSWORD" or "TOKEN" or "ROLEID" or "SECRETID";

    /// <summary><c>A</c>, <c>A and B</c>, <c>A, B and C</c>.</summary>
    private static string Listed(List<string> items) =>
        items.Count == 1 ? items[0] : $"{string.Join(", ", items[..^1])} and {items[^1]}";

    private static bool IsKnown(string[] key) => Known.Any(known => Matches(known, key));

    private static bool Matches(string[] known, string[] key) =>
        known.Length == key.Length
        && known.Zip(key).All(pair => pair.First == Index ? pair.Second.All(char.IsAsciiDigit) && pair.Second.Length > 0 : string.Equals(pair.First, pair.Second, StringComparison.OrdinalIgnoreCase));

    /// <summary>The key, with the nearest known setting when it differs by at most a slip or two.</summary>
    private static string Describe(string sectionPath, string relativeKey)
    {
        var key = relativeKey.Split(':');
        var nearest = Known
            .Select(known => string.Join(':', known.Select((segment, i) => segment == Index ? (i < key.Length && key[i].All(char.IsAsciiDigit) && key[i].Length > 0 ? key[i] : "0") : segment)))
            .Select(candidate => (Candidate: candidate, Distance: EditDistance(candidate.ToLowerInvariant(), relativeKey.ToLowerInvariant())))
            .MinBy(c => c.Distance);
        var full = $"{sectionPath}:{relativeKey}";
        return nearest.Distance <= Math.Max(2, relativeKey.Length / 6) ? $"{full} (did you mean {sectionPath}:{nearest.Candidate}?)" : full;
    }

    /// <summary>
    /// The configuration keys of <paramref name="type"/> below <paramref name="prefix"/>, as the binder reads them: a
    /// value converted from a string is one key, a list's items are keys below an index, an object's properties are
    /// keys below it.
    /// </summary>
    private static IEnumerable<(string[] Key, Type Type)> Keys(Type type, string[] prefix)
    {
        var properties = OptionsClasses.TryGetValue(type, out var listed)
            ? listed
            : throw new InvalidOperationException($"{type.FullName}, bound at Trousseau:{string.Join(':', prefix)}, is missing from {nameof(ServerSettings)}.{nameof(OptionsClasses)}.");
        foreach (var property in properties.Where(p => p.GetMethod?.IsPublic == true && p.GetIndexParameters().Length == 0))
        {
            string[] key = [.. prefix, property.GetCustomAttribute<ConfigurationKeyNameAttribute>()?.Name ?? property.Name];
            foreach (var nested in ValueKeys(Nullable.GetUnderlyingType(property.PropertyType) ?? property.PropertyType, key, settable: property.SetMethod?.IsPublic == true))
            {
                yield return nested;
            }
        }
    }

    private static IEnumerable<(string[] Key, Type Type)> ValueKeys(Type type, string[] key, bool settable)
    {
        if (IsValue(type))
        {
            return settable ? [(key, type)] : [];
        }

        if (ItemType(type) is { } item)
        {
            // A list is also one key, whose value the binder ignores: RefuseValuesOfLists refuses one.
            return ValueKeys(item, [.. key, Index], settable: true).Prepend((key, type));
        }

        return Keys(type, key);
    }

    /// <summary>Whether the binder converts <paramref name="type"/> from one string, as it does the types options use.</summary>
    private static bool IsValue(Type type) =>
        type.IsPrimitive || type.IsEnum || type == typeof(string) || type == typeof(decimal) || type == typeof(TimeSpan)
        || type == typeof(DateTimeOffset) || type == typeof(DateTime) || type == typeof(Guid) || type == typeof(Uri) || type == typeof(Version);

    /// <summary>The item type of an array or of a generic list, set or sequence; otherwise <see langword="null"/>.</summary>
    private static Type? ItemType(Type type) =>
        type.IsArray ? type.GetElementType()
        : type.IsGenericType && ListTypes.Contains(type.GetGenericTypeDefinition()) ? type.GetGenericArguments()[0]
        : null;

    private static (Type Options, string Section, PropertyInfo[] Properties) Binds<[DynamicallyAccessedMembers(DynamicallyAccessedMemberTypes.PublicProperties)] T>(string section) =>
        (typeof(T), section, Properties<T>().Value);

    private static KeyValuePair<Type, PropertyInfo[]> Properties<[DynamicallyAccessedMembers(DynamicallyAccessedMemberTypes.PublicProperties)] T>() =>
        new(typeof(T), typeof(T).GetProperties(BindingFlags.Public | BindingFlags.Instance));

    /// <summary>The Levenshtein distance: how many characters to insert, delete or replace to turn one text into the other.</summary>
    private static int EditDistance(string a, string b)
    {
        var previous = new int[b.Length + 1];
        var current = new int[b.Length + 1];
        for (var j = 0; j <= b.Length; j++)
        {
            previous[j] = j;
        }

        for (var i = 1; i <= a.Length; i++)
        {
            current[0] = i;
            for (var j = 1; j <= b.Length; j++)
            {
                current[j] = Math.Min(Math.Min(current[j - 1], previous[j]) + 1, previous[j - 1] + (a[i - 1] == b[j - 1] ? 0 : 1));
            }

            (previous, current) = (current, previous);
        }

        return previous[b.Length];
    }
}
