using KvmHost.Core.Platform;

namespace KvmHost.Core.Sysctl;

/// <summary>One file systemd-sysctl reads at boot: as listed in its sysctl.d directory, and the real file.</summary>
internal sealed record SysctlSource(string ListedPath, string RealPath)
{
    public string Name => Path.GetFileName(ListedPath);

    /// <summary>"/etc/sysctl.d/99-sysctl.conf -> /etc/sysctl.conf", or just the path.</summary>
    public override string ToString() => ListedPath == RealPath ? ListedPath : $"{ListedPath} -> {RealPath}";
}

/// <summary>What boot leaves a key at, and which line decided it. Source null: nothing sets the key.</summary>
internal sealed record SysctlBootValue(string Key, string? Value, SysctlSource? Source, int? LineNumber, string? Pattern)
{
    public bool IsSet => Value is not null;
}

/// <summary>
/// Which file wins at boot, computed the way systemd-sysctl does it (sysctl.d(5), src/sysctl/sysctl.c):
/// *.conf files from /etc, /run, /usr/local/lib, /usr/lib (and /lib) "/sysctl.d"; a name in an earlier
/// directory hides the same name in a later one (a link to /dev/null masks it); all files are read in
/// the lexical order of their names and a later assignment of a key replaces an earlier one (unless the
/// value is the same, which keeps the earlier location). An explicit key beats every glob; among globs
/// the last one read wins. /etc/sysctl.conf counts only through a link such as
/// /etc/sysctl.d/99-sysctl.conf. procps "sysctl --system" would read /etc/sysctl.conf once more at the
/// very end; boot does not, so this class takes the boot path as the truth.
/// </summary>
internal sealed class SysctlBootOrder
{
    public static readonly string[] Directories =
        ["/etc/sysctl.d", "/run/sysctl.d", "/usr/local/lib/sysctl.d", "/usr/lib/sysctl.d", "/lib/sysctl.d"];

    private readonly HostRoot _root;
    private readonly IReadOnlyDictionary<string, string> _planned;

    /// <param name="planned">Content by real path that replaces (or creates) files: the state after a planned write.</param>
    public SysctlBootOrder(HostRoot root, IReadOnlyDictionary<string, string>? planned = null)
    {
        _root = root;
        _planned = planned ?? new Dictionary<string, string>();
        Sources = ListSources();
    }

    /// <summary>The files boot reads, in the order it reads them.</summary>
    public IReadOnlyList<SysctlSource> Sources { get; }

    public SysctlSource? SourceFor(string realPath) => Sources.FirstOrDefault(s => s.RealPath == realPath);

    /// <summary>Evaluates the keys (normalized) as boot would leave them.</summary>
    public IReadOnlyDictionary<string, SysctlBootValue> Evaluate(IEnumerable<string> keys)
    {
        // Ordered like systemd's ordered hashmap: a replaced key moves to the end.
        var options = new List<(string Key, string? Value, SysctlSource Source, int Line)>();
        foreach (var source in Sources)
        {
            foreach (var entry in ReadFile(source.RealPath).Entries())
            {
                int existing = options.FindIndex(o => o.Key == entry.Key);
                if (existing >= 0)
                {
                    if (options[existing].Value == entry.Value) continue;
                    options.RemoveAt(existing);
                }
                options.Add((entry.Key, entry.Value, source, entry.LineNumber));
            }
        }

        var result = new Dictionary<string, SysctlBootValue>();
        foreach (string key in keys)
        {
            int explicitIndex = options.FindIndex(o => o.Key == key);
            if (explicitIndex >= 0)
            {
                var o = options[explicitIndex];
                result[key] = new SysctlBootValue(key, o.Value, o.Source, o.Line, null);
                continue;
            }
            var glob = options.LastOrDefault(o => o.Value is not null && SysctlKey.IsGlob(o.Key) && SysctlKey.GlobMatches(o.Key, key));
            result[key] = glob.Source is null
                ? new SysctlBootValue(key, null, null, null, null)
                : new SysctlBootValue(key, glob.Value, glob.Source, glob.Line, SysctlKey.ToDotted(glob.Key));
        }
        return result;
    }

    /// <summary>The file's content as planned or as on disk; empty when it is missing or masked.</summary>
    /// <summary>True when the file exists, or this evaluation plans it.</summary>
    public bool FileExists(string realPath) => _planned.ContainsKey(realPath) || _root.FileExists(realPath);

    public SysctlFile ReadFile(string realPath)
    {
        if (_planned.TryGetValue(realPath, out string? planned)) return SysctlFile.Parse(planned);
        if (realPath == "/dev/null") return SysctlFile.Empty;
        string? text = _root.TryReadText(realPath);
        return text is null ? SysctlFile.Empty : SysctlFile.Parse(text);
    }

    private List<SysctlSource> ListSources()
    {
        var byName = new Dictionary<string, SysctlSource>(StringComparer.Ordinal);
        foreach (string directory in Directories)
        {
            // Files and links count (a link to /dev/null masks a name); a directory named *.conf does not.
            var names = _root.List(directory, "*.conf").Where(e => e.Kind != FileKind.Directory).Select(e => e.Name).ToList();
            foreach (string plannedPath in _planned.Keys)
                if (Path.GetDirectoryName(plannedPath) == directory && plannedPath.EndsWith(".conf", StringComparison.Ordinal))
                    names.Add(Path.GetFileName(plannedPath));

            foreach (string name in names)
            {
                if (byName.ContainsKey(name)) continue;
                string listed = $"{directory}/{name}";
                byName[name] = new SysctlSource(listed, _root.RealPath(listed));
            }
        }
        return byName.Values.OrderBy(s => s.Name, StringComparer.Ordinal).ToList();
    }
}
