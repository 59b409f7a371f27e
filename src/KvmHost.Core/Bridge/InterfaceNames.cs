using KvmHost.Core.Platform;

namespace KvmHost.Core.Bridge;

/// <summary>
/// Interface names as a root knows them, for tab completion: the devices in the root's /sys/class/net
/// (on the live root: the running system's) and the ones its configuration files name. The same
/// sources New-, Get- and Remove-HostBridge read, so what completes is what the cmdlets can find.
/// </summary>
public static class InterfaceNames
{
    /// <summary>NICs that could become a bridge port: not loopback, not a bridge, not already a port in the files.</summary>
    public static IReadOnlyList<string> Nics(HostRoot root)
    {
        var bridges = Bridges(root).ToHashSet(StringComparer.Ordinal);
        return Devices(root).Where(d => !d.IsBridge).Select(d => d.Name)
            .Concat(Configs(root).SelectMany(SafeConfiguredNics))
            .Where(n => n != "lo" && !bridges.Contains(n))
            .Distinct().Order(StringComparer.Ordinal).ToList();
    }

    /// <summary>Bridges running in the root's /sys and bridges its configuration files define.</summary>
    public static IReadOnlyList<string> Bridges(HostRoot root) =>
        Devices(root).Where(d => d.IsBridge).Select(d => d.Name)
            .Concat(Configs(root).SelectMany(SafeConfiguredBridges))
            .Distinct().Order(StringComparer.Ordinal).ToList();

    private static IBridgeConfig[] Configs(HostRoot root) => [new NetworkScriptsConfig(root), new NetworkManagerConfig(root, false)];

    // Completion must never throw at the prompt: an unreadable or malformed file just completes nothing from it.
    private static IEnumerable<string> SafeConfiguredNics(IBridgeConfig config)
    {
        try { return config.ConfiguredNics(); }
        catch (KvmHostException) { return []; }
    }

    private static IEnumerable<string> SafeConfiguredBridges(IBridgeConfig config)
    {
        try { return config.FindBridges().Select(b => b.Name).ToList(); }
        catch (KvmHostException) { return []; }
    }

    private static IEnumerable<(string Name, bool IsBridge)> Devices(HostRoot root)
    {
        IReadOnlyList<DirectoryEntry> entries;
        try { entries = root.List("/sys/class/net"); }
        catch (KvmHostException) { return []; }
        var result = new List<(string, bool)>();
        foreach (var entry in entries)
        {
            bool isBridge;
            try { isBridge = root.DirectoryExists($"{entry.Path}/bridge"); }
            catch (KvmHostException) { continue; }
            result.Add((entry.Name, isBridge));
        }
        return result;
    }
}
