namespace KvmHost.Core.Services;

/// <summary>One unit as systemd reports it (the properties of `systemctl show`).</summary>
internal sealed record SystemdUnitState(string Name, string LoadState, string ActiveState, string SubState, string UnitFileState)
{
    /// <summary>Unit file states that need no `systemctl enable`: linked in already, or nothing to link.</summary>
    private static readonly HashSet<string> BootReady = new(StringComparer.Ordinal)
        { "enabled", "static", "indirect", "alias", "generated" };

    public bool Exists => LoadState is not ("not-found" or "") || UnitFileState is "masked" or "masked-runtime";
    public bool IsActive => ActiveState is "active" or "reloading" or "activating";
    public bool IsMasked => LoadState == "masked" || UnitFileState is "masked" or "masked-runtime";
    public bool IsEnabled => BootReady.Contains(UnitFileState);

    /// <summary>Enabled by an admin (or a preset): the unit is "in use" at boot, which static units are not.</summary>
    public bool IsExplicitlyEnabled => UnitFileState is "enabled" or "enabled-runtime";

    public static SystemdUnitState NotFound(string name) => new(name, "not-found", "inactive", "dead", string.Empty);
}

/// <summary>
/// Parses `systemctl show -p Id,LoadState,ActiveState,SubState,UnitFileState UNIT...`: one block of
/// KEY=value lines per unit, blocks separated by an empty line, in the order the units were named.
/// </summary>
internal static class SystemctlShowParser
{
    public static IReadOnlyList<SystemdUnitState> Parse(string output)
    {
        var units = new List<SystemdUnitState>();
        var block = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (string rawLine in output.Replace("\r\n", "\n").Split('\n'))
        {
            string line = rawLine.TrimEnd();
            if (line.Length == 0)
            {
                Flush(block, units);
                continue;
            }
            int eq = line.IndexOf('=');
            if (eq <= 0) continue;
            string key = line[..eq];
            // A full `systemctl show` repeats no keys within one unit; a repeat means a new block without a blank line.
            if (block.ContainsKey(key) && key == "Id") Flush(block, units);
            block[key] = line[(eq + 1)..];
        }
        Flush(block, units);
        return units;
    }

    private static void Flush(Dictionary<string, string> block, List<SystemdUnitState> units)
    {
        if (block.Count == 0) return;
        if (block.TryGetValue("Id", out var id) && id.Length > 0)
        {
            units.Add(new SystemdUnitState(id, Get(block, "LoadState"), Get(block, "ActiveState"),
                Get(block, "SubState"), Get(block, "UnitFileState")));
        }
        block.Clear();
    }

    private static string Get(Dictionary<string, string> block, string key) =>
        block.TryGetValue(key, out var value) ? value : string.Empty;
}
