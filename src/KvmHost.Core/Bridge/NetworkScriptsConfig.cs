using System.Globalization;
using System.Text.RegularExpressions;
using KvmHost.Core.Platform;

namespace KvmHost.Core.Bridge;

/// <summary>
/// RHEL 7's network-scripts: /etc/sysconfig/network-scripts/ifcfg-&lt;bridge&gt; with TYPE=Bridge and the NIC's
/// layer 3 lines as they were, ifcfg-&lt;nic&gt; keeping only the link's keys plus BRIDGE=&lt;bridge&gt; (the port
/// keeps no IP settings: the slip of the manual procedure), the NIC's route and rule files moved to the
/// bridge's names (<see cref="IfcfgBridgeFiles"/>). NM_CONTROLLED=no, so a NetworkManager that is also
/// installed leaves both alone.
/// </summary>
internal sealed partial class NetworkScriptsConfig(HostRoot root) : IBridgeConfig
{
    public const string Directory = "/etc/sysconfig/network-scripts";

    public BridgeBackend Backend => BridgeBackend.NetworkScripts;

    public static string IfcfgPath(string device) => $"{Directory}/ifcfg-{device}";

    public BridgeRendering Render(BridgeSettings s) => IfcfgBridgeFiles.Render(root, s, networkManager: false);

    public IReadOnlyList<NicProfile> FindNicProfiles(string nic)
    {
        string? text = root.TryReadText(IfcfgPath(nic));
        if (text is null) return [];
        var file = IfcfgFile.Parse(text, IfcfgPath(nic));
        return [new NicProfile(IfcfgPath(nic), ReadIp(file), file.Get("BRIDGE") ?? file.Get("MASTER") ?? file.Get("TEAM_MASTER")) { Text = text }];
    }

    public NicProfile? FindSavedProfile(string bridge, string nic)
    {
        string path = IfcfgPath(nic);
        if (root.TryReadText(SavedOriginals.PathFor(path, bridge)) is not { } text) return null;
        return new NicProfile(path, ReadIp(IfcfgFile.Parse(text, path)), null) { Text = text, FromSavedOriginal = true };
    }

    public IReadOnlyList<string> ConfiguredNics() =>
        ReadAll().Where(f => f.File.Get("BRIDGE") is null && f.File.Get("MASTER") is null
                && (f.File.Get("TYPE") ?? "Ethernet").Equals("Ethernet", StringComparison.OrdinalIgnoreCase))
            .Select(f => f.File.Get("DEVICE") ?? Path.GetFileName(f.Path)["ifcfg-".Length..]).Distinct().ToList();

    public IReadOnlyList<ConfiguredBridge> FindBridges()
    {
        var files = ReadAll();
        var bridges = new List<ConfiguredBridge>();
        foreach (var (path, file) in files)
        {
            if (!string.Equals(file.Get("TYPE"), "Bridge", StringComparison.OrdinalIgnoreCase)) continue;
            string name = file.Get("DEVICE") ?? Path.GetFileName(path)["ifcfg-".Length..];
            var ports = files.Where(f => f.File.Get("BRIDGE") == name)
                .Select(f => f.File.Get("DEVICE") ?? Path.GetFileName(f.Path)["ifcfg-".Length..]).ToList();
            var owned = new List<string> { path };
            owned.AddRange(files.Where(f => f.File.Get("BRIDGE") == name).Select(f => f.Path));
            foreach (string routes in IfcfgBridgeFiles.RouteFileKinds.Select(kind => IfcfgBridgeFiles.RouteFilePath(kind, name)))
                if (root.FileExists(routes)) owned.Add(routes);
            int? delay = int.TryParse(file.Get("DELAY"), NumberStyles.None, CultureInfo.InvariantCulture, out int d) ? d : null;
            bridges.Add(new ConfiguredBridge(name, path, ReadIp(file), IsYes(file.Get("STP")), delay, ports, owned));
        }
        return bridges;
    }

    public BridgeRendering RenderRemoval(ConfiguredBridge bridge, string nic, ConfiguredIp ip, CarryContext context) =>
        IfcfgBridgeFiles.RenderRemoval(root, bridge, nic, ip, context, networkManager: false);

    internal static void WriteIp(IfcfgFile file, ConfiguredIp ip)
    {
        int n = 0;
        foreach (var address in ip.Addresses.Where(a => !a.IsIPv6))
        {
            string suffix = n == 0 ? string.Empty : n.ToString(CultureInfo.InvariantCulture);
            file.Set("IPADDR" + suffix, address.Address.ToString()).Set("PREFIX" + suffix, address.PrefixLength.ToString(CultureInfo.InvariantCulture));
            n++;
        }
        if (ip.Gateway is not null) file.Set("GATEWAY", ip.Gateway.ToString());
        int dns = 1;
        foreach (var server in ip.DnsServers) file.Set($"DNS{dns++}", server.ToString());
        var v6 = ip.Addresses.Where(a => a.IsIPv6).ToList();
        bool ipv6 = v6.Count > 0 || ip.Ipv6Auto || ip.Dhcp;
        file.Set("IPV6INIT", ipv6 ? "yes" : "no");
        if (ip.Ipv6Disabled && !ipv6) file.Set("IPV6_DISABLED", "yes");
        if (ipv6) file.Set("IPV6_AUTOCONF", ip.Ipv6Auto || ip.Dhcp ? "yes" : "no");
        if (v6.Count > 0) file.Set("IPV6ADDR", v6[0].ToString());
        if (v6.Count > 1) file.Set("IPV6ADDR_SECONDARIES", string.Join(' ', v6.Skip(1)));
        if (ip.Gateway6 is not null) file.Set("IPV6_DEFAULTGW", ip.Gateway6.ToString());
    }

    internal static ConfiguredIp ReadIp(IfcfgFile file)
    {
        var addresses = new List<IpCidr>();
        foreach (string key in file.Keys.Where(k => IpAddrKey().IsMatch(k)).Distinct().OrderBy(k => k.Length).ThenBy(k => k, StringComparer.Ordinal))
        {
            string suffix = key["IPADDR".Length..];
            if (BridgeConfigs.TryAddress(file.Get(key)) is not { } address) continue;
            int prefix = int.TryParse(file.Get("PREFIX" + suffix), NumberStyles.None, CultureInfo.InvariantCulture, out int p) ? p
                : PrefixFromNetmask(file.Get("NETMASK" + suffix)) ?? 24;
            addresses.Add(new IpCidr(address, prefix));
        }
        if (BridgeConfigs.TryCidr(file.Get("IPV6ADDR")) is { } first) addresses.Add(first);
        foreach (string extra in (file.Get("IPV6ADDR_SECONDARIES") ?? string.Empty).Split(' ', StringSplitOptions.RemoveEmptyEntries))
            if (BridgeConfigs.TryCidr(extra) is { } cidr) addresses.Add(cidr);
        var dns = file.Keys.Where(k => DnsKey().IsMatch(k)).Distinct().OrderBy(k => k.Length).ThenBy(k => k, StringComparer.Ordinal)
            .Select(k => BridgeConfigs.TryAddress(file.Get(k))).OfType<System.Net.IPAddress>().ToList();
        return new ConfiguredIp
        {
            Dhcp = (file.Get("BOOTPROTO") ?? string.Empty).Equals("dhcp", StringComparison.OrdinalIgnoreCase),
            Ipv6Auto = IsYes(file.Get("IPV6_AUTOCONF")),
            Ipv6Disabled = IsYes(file.Get("IPV6_DISABLED")),
            Addresses = addresses,
            Gateway = BridgeConfigs.TryAddress(file.Get("GATEWAY")),
            Gateway6 = BridgeConfigs.TryAddress(file.Get("IPV6_DEFAULTGW")?.Split('%')[0]),
            DnsServers = dns,
            MacAddress = file.Get("MACADDR") ?? file.Get("HWADDR"),
            Mtu = int.TryParse(file.Get("MTU"), NumberStyles.None, CultureInfo.InvariantCulture, out int mtu) ? mtu : null,
        };
    }

    private List<(string Path, IfcfgFile File)> ReadAll() =>
        root.ReadTextFiles(Directory, IsProfileName, "ifcfg-*").Select(f => (f.Path, IfcfgFile.Parse(f.Text))).ToList();

    // initscripts skips backups and editor leftovers the same way.
    private static bool IsProfileName(string name) =>
        !(name.Contains(AtomicFileWriter.BackupMarker) || name.EndsWith(".bak", StringComparison.Ordinal) || name.EndsWith('~')
          || name.EndsWith(".orig", StringComparison.Ordinal) || name.EndsWith(".rpmnew", StringComparison.Ordinal)
          || name.EndsWith(".rpmsave", StringComparison.Ordinal) || name == "ifcfg-lo");

    internal static bool IsIpKey(string key) =>
        key is "BOOTPROTO" or "GATEWAY" or "DEFROUTE" or "PEERDNS" or "PEERROUTES" or "NETWORK" or "BROADCAST" or "DOMAIN"
            or "IPV4_FAILURE_FATAL" or "PERSISTENT_DHCLIENT" or "MACADDR"
        || IpAddrKey().IsMatch(key) || DnsKey().IsMatch(key)
        || key.StartsWith("PREFIX", StringComparison.Ordinal) || key.StartsWith("NETMASK", StringComparison.Ordinal)
        || key.StartsWith("GATEWAY", StringComparison.Ordinal) || key.StartsWith("IPV6", StringComparison.Ordinal)
        || key.StartsWith("DHCP", StringComparison.Ordinal);

    private static bool IsYes(string? value) => value is not null && (value.Equals("yes", StringComparison.OrdinalIgnoreCase) || value.Equals("on", StringComparison.OrdinalIgnoreCase) || value == "1");

    private static int? PrefixFromNetmask(string? netmask)
    {
        if (BridgeConfigs.TryAddress(netmask) is not { } mask) return null;
        return mask.GetAddressBytes().Sum(b => System.Numerics.BitOperations.PopCount(b));
    }

    [GeneratedRegex(@"^IPADDR[0-9]*$")]
    private static partial Regex IpAddrKey();

    [GeneratedRegex(@"^DNS[0-9]+$")]
    private static partial Regex DnsKey();
}
