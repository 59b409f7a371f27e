using System.Globalization;
using System.Text.RegularExpressions;
using KvmHost.Core.Platform;

namespace KvmHost.Core.Bridge;

/// <summary>
/// A bridge in ifcfg files: for network-scripts (RHEL 7; NM_CONTROLLED=no), and for NetworkManager's ifcfg-rh
/// plugin where the NIC's own profile is an ifcfg file (RHEL 8, hosts upgraded to 9). The NIC's layer 3
/// lines move to ifcfg-&lt;bridge&gt; as they were; its route-, route6-, rule- and rule6- files move to the
/// bridge's names with the device rewritten. The NIC's files are saved first, hidden, and Remove-HostBridge
/// writes them back byte for byte.
/// </summary>
internal static partial class IfcfgBridgeFiles
{
    public const string Directory = NetworkScriptsConfig.Directory;

    /// <summary>The files next to ifcfg-NAME that network-scripts (ifup-routes) and ifcfg-rh apply for that device.</summary>
    public static readonly string[] RouteFileKinds = ["route", "route6", "rule", "rule6"];

    public static string RouteFilePath(string kind, string device) => $"{Directory}/{kind}-{device}";

    public static BridgeRendering Render(HostRoot root, BridgeSettings s, bool networkManager)
    {
        string nicPath = NetworkScriptsConfig.IfcfgPath(s.Port);
        var source = s.Source is { IsIfcfg: true, Text: not null } p && p.Path == nicPath ? p : null;
        var carry = source is null ? null : IfcfgCarry.Compute(source, IfcfgFile.Parse(source.Text!, source.Path), s.Context, networkManager);
        var carried = carry?.Report.ToList() ?? [];
        var notes = carry?.Notes.ToList() ?? [];

        var bridge = IfcfgFile.Empty().Set("DEVICE", s.Name);
        if (networkManager) bridge.Set("NAME", s.Name).Set("UUID", NetworkManagerConfig.StableUuid(s.Name));
        bridge.Set("TYPE", "Bridge");
        if (carry is not null)
        {
            foreach (var (key, value) in carry.BridgeLines) bridge.Set(key, value);
        }
        else
        {
            bridge.Set("BOOTPROTO", s.Ip.Dhcp ? "dhcp" : "none");
            NetworkScriptsConfig.WriteIp(bridge, s.Ip);
            string origin = s.Context.Addressing is not null ? "from the parameters"
                : s.KeepBridgeFile is not null ? "as the bridge has it"
                : s.Source is { } other ? $"from {other.Path}: its addresses, gateway, DNS and routes (KvmHost carries a profile whole only into its own format)"
                : "as the NIC runs now";
            carried.AddRange(bridge.Keys.Where(k => k is not ("DEVICE" or "NAME" or "UUID" or "TYPE"))
                .Select(k => new CarriedSetting(k, bridge.Get(k)!, SettingPlace.Bridge, origin)));
        }
        bridge.SetOrRemove(networkManager ? "BRIDGE_MACADDR" : "MACADDR", s.Ip.MacAddress)
            .Set("STP", s.Stp ? "yes" : "no")
            .SetOrRemove("DELAY", s.ForwardDelay?.ToString(CultureInfo.InvariantCulture))
            .SetOrRemove("MTU", s.Ip.Mtu?.ToString(CultureInfo.InvariantCulture))
            .Set("ONBOOT", "yes");
        if (!networkManager) bridge.Set("NM_CONTROLLED", "no");
        string bridgePath = NetworkScriptsConfig.IfcfgPath(s.Name);
        string bridgeText = (s.KeepBridgeFile == bridgePath ? root.TryReadText(bridgePath) : null) ?? bridge.Render();
        var files = new List<PlannedFile> { new(bridgePath, bridgeText, Modes.ConfigFile, "bridge") };

        string? existing = root.TryReadText(nicPath);
        var port = carry?.Port ?? (existing is null ? IfcfgFile.Empty() : IfcfgFile.Parse(existing, nicPath).RemoveWhere(NetworkScriptsConfig.IsIpKey));
        port.Set("DEVICE", s.Port);
        if (port.Get("TYPE") is null) port.Set("TYPE", "Ethernet");
        // Ties the file to this NIC, as the initscripts bridge-port example does.
        if (port.Get("HWADDR") is null && s.Ip.MacAddress is not null) port.Set("HWADDR", s.Ip.MacAddress);
        port.Set("ONBOOT", "yes").Set("BRIDGE", s.Name);
        if (networkManager && port.Get("UUID") is null) port.Set("UUID", NetworkManagerConfig.StableUuid(NetworkManagerConfig.PortId(s.Name, s.Port)));
        if (!networkManager) port.Set("NM_CONTROLLED", "no");
        port.SetOrRemove("MTU", s.Ip.Mtu?.ToString(CultureInfo.InvariantCulture) ?? port.Get("MTU"));
        files.Add(new(nicPath, port.Render(), Modes.ConfigFile, "port"));
        if (source is not null) files.Add(SavedOriginals.Save(root, nicPath, s.Name, source.Text!, Modes.ConfigFile));

        // Static routes and rules move with the addresses (not with -IPAddress, whose subnets they may not fit).
        bool carryRoutes = source is not null && s.Context.Addressing is null;
        foreach (string kind in RouteFileKinds)
        {
            string nicFile = RouteFilePath(kind, s.Port), bridgeFile = RouteFilePath(kind, s.Name);
            string? original = carryRoutes ? root.TryReadText(SavedOriginals.PathFor(nicFile, s.Name)) ?? root.TryReadText(nicFile) : null;
            if (original is null) continue;
            string moved = RewriteDevice(original, s.Port, s.Name);
            files.Add(new PlannedFile(bridgeFile, moved, Modes.ConfigFile, "routes"));
            files.Add(SavedOriginals.Save(root, nicFile, s.Name, original, Modes.ConfigFile));
            files.Add(new PlannedFile(nicFile, null, Modes.ConfigFile, "routes, moved to the bridge"));
            carried.Add(new CarriedSetting($"{kind}-{s.Port}", $"{Lines(original)} line(s)", SettingPlace.Bridge,
                $"moved to {kind}-{s.Name}{(moved == original ? string.Empty : $", naming {s.Name}")}"));
        }
        if (!carryRoutes && s.Ip.Routes.Count > 0)
        {
            files.Add(new(RouteFilePath("route", s.Name), RenderRoutes(s.Ip.Routes.Where(r => !r.Destination.Contains(':')), s.Name), Modes.ConfigFile, "routes"));
            if (s.Ip.Routes.Any(r => r.Destination.Contains(':')))
                files.Add(new(RouteFilePath("route6", s.Name), RenderRoutes(s.Ip.Routes.Where(r => r.Destination.Contains(':')), s.Name), Modes.ConfigFile, "routes"));
        }
        return new BridgeRendering(files.Where(f => f.Content is not null || root.FileExists(f.Path)).ToList())
        {
            Carried = carried, Notes = notes, PortUuid = networkManager ? port.Get("UUID") : null,
        };
    }

    public static BridgeRendering RenderRemoval(HostRoot root, ConfiguredBridge bridge, string nic, ConfiguredIp ip, CarryContext context, bool networkManager)
    {
        string nicPath = NetworkScriptsConfig.IfcfgPath(nic);
        var files = new List<PlannedFile>();
        var notes = new List<string>();
        var bridgeFile = IfcfgFile.Parse(root.TryReadText(bridge.Path) ?? string.Empty, bridge.Path);
        string? original = root.TryReadText(SavedOriginals.PathFor(nicPath, bridge.Name));
        if (original is not null)
        {
            var originalFile = IfcfgFile.Parse(original, nicPath);
            bool unchanged;
            try
            {
                var carry = IfcfgCarry.Compute(new NicProfile(nicPath, ip, null) { Text = original }, originalFile, context, networkManager);
                unchanged = carry.BridgeLines.Select(l => $"{l.Key}={l.Value}").ToHashSet(StringComparer.Ordinal).SetEquals(IfcfgCarry.BridgeProjection(bridgeFile));
            }
            catch (KvmHostException) { unchanged = false; }
            if (unchanged)
                files.Add(SavedOriginals.Restore(root, nicPath, bridge.Name, Modes.ConfigFile, "interface, as it was"));
            else
            {
                var restored = originalFile.RemoveWhere(k => IfcfgCarry.PlaceOf(k) == SettingPlace.Bridge);
                foreach (string key in bridgeFile.Keys.Distinct().Where(k => IfcfgCarry.PlaceOf(k) == SettingPlace.Bridge))
                    restored.Set(key, IfcfgCarry.RewriteDevice(key, bridgeFile.Get(key) ?? string.Empty, bridge.Name, nic));
                files.Add(new PlannedFile(nicPath, restored.Render(), Modes.ConfigFile, "interface, with the bridge's settings"));
                notes.Add($"{bridge.Name}'s settings changed after it was made: {nicPath} gets the bridge's layer 3 settings, the rest as it was.");
            }
            files.Add(SavedOriginals.Remove(nicPath, bridge.Name, Modes.ConfigFile));
        }
        else
        {
            // No saved original (a bridge made by hand or by an older KvmHost): the NIC's file gets the bridge's settings.
            string? existing = root.TryReadText(nicPath);
            var port = existing is null ? IfcfgFile.Empty().Set("DEVICE", nic).Set("TYPE", "Ethernet") : IfcfgFile.Parse(existing, nicPath);
            port.Remove("BRIDGE").Set("BOOTPROTO", ip.Dhcp ? "dhcp" : "none");
            NetworkScriptsConfig.WriteIp(port, ip with { MacAddress = null });
            port.Set("ONBOOT", "yes");
            files.Add(new PlannedFile(nicPath, port.Render(), Modes.ConfigFile, "interface"));
        }

        foreach (string kind in RouteFileKinds)
        {
            string nicFile = RouteFilePath(kind, nic), bridgeRoutes = RouteFilePath(kind, bridge.Name);
            if (root.TryReadText(SavedOriginals.PathFor(nicFile, bridge.Name)) is not { } saved) continue;
            string? now = root.TryReadText(bridgeRoutes);
            files.Add(now is null || now == RewriteDevice(saved, nic, bridge.Name)
                ? SavedOriginals.Restore(root, nicFile, bridge.Name, Modes.ConfigFile, "routes, as they were")
                : new PlannedFile(nicFile, RewriteDevice(now, bridge.Name, nic), Modes.ConfigFile, "routes, as the bridge has them"));
            files.Add(SavedOriginals.Remove(nicFile, bridge.Name, Modes.ConfigFile));
        }
        files.AddRange(bridge.Files.Where(f => f != nicPath).Select(f => new PlannedFile(f, null, Modes.ConfigFile, "bridge")));
        return new BridgeRendering(files) { Notes = notes };
    }

    /// <summary>"... dev eth0 ...", "iif eth0", "oif eth0": the NIC's name where a route or rule file names the device.</summary>
    public static string RewriteDevice(string text, string from, string to) =>
        Regex.Replace(text, $@"(?<=(^|\s)(dev|iif|oif)\s+){Regex.Escape(from)}(?=\s|$)", to, RegexOptions.Multiline);

    private static int Lines(string text) => text.Split('\n').Count(l => l.Trim().Length > 0 && !l.TrimStart().StartsWith('#'));

    private static string RenderRoutes(IEnumerable<BridgeRoute> routes, string device) =>
        string.Concat(routes.Select(r => IfcfgFile.Quote(r.Destination, "route") + (r.Gateway is null ? string.Empty : " via " + r.Gateway)
            + $" dev {device}" + (r.Metric is { } m ? $" metric {m}" : string.Empty) + "\n"));
}
