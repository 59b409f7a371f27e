using System.Globalization;
using System.Text.RegularExpressions;

namespace KvmHost.Core.Bridge;

/// <summary>
/// The NIC's ifcfg file, split the way the bridge change needs it: its layer 3 lines move to ifcfg-&lt;bridge&gt;
/// verbatim (so network-scripts, and NetworkManager's ifcfg-rh plugin, read them exactly as they read them
/// for the NIC), the link's lines stay in the port file. Keys: initscripts' sysconfig.txt and the keys
/// NetworkManager's ifcfg-rh reader knows (nms-ifcfg-rh-utils.c).
/// </summary>
internal sealed partial record IfcfgCarry
{
    /// <summary>KEY=value lines for ifcfg-&lt;bridge&gt;, in the NIC file's order (device names already rewritten).</summary>
    public IReadOnlyList<(string Key, string Value)> BridgeLines { get; init; } = [];
    /// <summary>The NIC's file without the lines that moved: the port keeps the rest (comments included).</summary>
    public required IfcfgFile Port { get; init; }
    public IReadOnlyList<CarriedSetting> Report { get; init; } = [];
    public IReadOnlyList<string> Notes { get; init; } = [];

    // The profile's own identity, or what makes it a port of something else: never carried.
    private static readonly HashSet<string> ProfileOwn = new(StringComparer.Ordinal)
    {
        "DEVICE", "NAME", "UUID", "TYPE", "ONBOOT", "NM_CONTROLLED", "DEVICETYPE", "BRIDGE", "BRIDGE_UUID", "MASTER", "MASTER_UUID",
        "SLAVE", "TEAM_MASTER", "TEAM_MASTER_UUID", "OVS_PORT", "OVS_PORT_UUID", "VRF", "VRF_UUID", "HOTPLUG", "AUTOCONNECT_SLAVES",
    };

    private static readonly HashSet<string> Both = new(StringComparer.Ordinal)
    {
        "MTU", "MACADDR", "AUTOCONNECT_PRIORITY", "AUTOCONNECT_RETRIES", "USERS", "USERCTL",
    };

    // Layer 3 and what belongs to the host's address (initscripts' sysconfig.txt, NetworkManager's ifcfg-rh keys).
    private static readonly HashSet<string> BridgeKeys = new(StringComparer.Ordinal)
    {
        "BOOTPROTO", "DEFROUTE", "PEERDNS", "PEERROUTES", "DOMAIN", "SEARCH", "RES_OPTIONS", "ZONE", "SRCADDR", "SCOPE", "WINDOW",
        "ARPCHECK", "ARPUPDATE", "ARPING_WAIT", "ARPING_UPDATE_WAIT", "ACD_TIMEOUT", "STABLE_ID", "MDNS", "LLMNR", "DNS_OVER_TLS",
        "MUD_URL", "CONNECTION_METERED", "GATEWAY_PING_TIMEOUT", "MPTCP_FLAGS", "WAIT_ACTIVATION_DELAY", "PROXY_METHOD", "BROWSER_ONLY",
        "PAC_URL", "PAC_SCRIPT", "SECONDARY_UUIDS", "NOZEROCONF", "DHCLIENTARGS", "DHCLIENT_IGNORE_GATEWAY", "DHCPRELEASE",
        "PERSISTENT_DHCLIENT", "PERSISTENT_DHCLIENT_IPV6", "NO_DHCP_HOSTNAME", "GATEWAYDEV", "IPV4_FAILURE_FATAL", "IPV6FORWARDING",
    };

    [GeneratedRegex(@"^(IPADDR|PREFIX|NETMASK|GATEWAY|METRIC|BROADCAST|NETWORK)[0-9]*$|^DNS[0-9]+$|^DHCP_|^DHCPV6|^IPV4_|^IPV6|^HOSTNAME_|^ROUTING_RULE6?_")]
    private static partial Regex BridgeKeyPattern();

    /// <summary>Keys the port keeps: the link itself (802.1X, ethtool, offloads, the hardware address, SR-IOV, qdiscs).</summary>
    [GeneratedRegex(@"^(HWADDR|HWADDR_BLACKLIST|ETHTOOL_OPTS|ETHTOOL_WAKE_ON_LAN|LINKDELAY|LLDP|KEY_MGMT|AUTH_RETRIES|DEVTIMEOUT|ACCEPT_ALL_MAC_ADDRESSES|GENERATE_MAC_ADDRESS_MASK|SUBCHANNELS|NETTYPE|PORTNAME|OPTIONS|CTCPROT|TC_COMMIT|DCB|MAC_ADDRESS_RANDOMIZATION)$|^IEEE_8021X_|^SRIOV_|^MATCH_|^DCB_|^QDISC[0-9]*$|^FILTER[0-9]*$")]
    private static partial Regex PortKeyPattern();

    [GeneratedRegex(@"PASSWORD|PSK|PIN$|PASSPHRASE")]
    private static partial Regex SecretKey();

    public static SettingPlace PlaceOf(string key) =>
        ProfileOwn.Contains(key) || key.StartsWith("NM_USER_", StringComparison.Ordinal) ? SettingPlace.NicProfile
        : Both.Contains(key) ? SettingPlace.Both
        : BridgeKeys.Contains(key) || BridgeKeyPattern().IsMatch(key) ? SettingPlace.Bridge
        : SettingPlace.Port; // the link's keys, and keys KvmHost does not know: they stay where they were, on the NIC

    /// <param name="nmControlled">The file is NetworkManager's (ifcfg-rh): its rules apply (MACADDR=random refused, metric written).</param>
    public static IfcfgCarry Compute(NicProfile profile, IfcfgFile nic, CarryContext context, bool nmControlled)
    {
        var report = new List<CarriedSetting>();
        var notes = new List<string>();
        var bridgeLines = new List<(string, string)>();
        foreach (string key in nic.Keys.Distinct())
        {
            string value = nic.Get(key) ?? string.Empty;
            var place = PlaceOf(key);
            if (place == SettingPlace.NicProfile) continue;
            if (place is SettingPlace.Bridge or SettingPlace.Both && key != "MTU" && key != "MACADDR")
            {
                if (context.Addressing is not null && IsAddressingKey(key)) continue;
                string carried = RewriteDevice(key, value, context.Nic, context.Bridge);
                bridgeLines.Add((key, carried));
                report.Add(new CarriedSetting(key, carried, place, carried == value ? null : $"was {value}: it names {context.Bridge} now"));
            }
            else
            {
                if (key == "MACADDR" && nmControlled && value is "random" or "stable")
                    throw BridgeSettingsCatalog.NotCarried(profile.Path, key, value,
                        "NetworkManager gives the NIC a generated MAC, so the network knows no MAC the bridge could keep.",
                        "Set MACADDR to the MAC the network should see on the NIC's profile first.");
                bool known = place != SettingPlace.Port || PortKeyPattern().IsMatch(key);
                report.Add(new CarriedSetting(key, SecretKey().IsMatch(key) ? "(secret, not shown)" : value, place, known ? null : "unknown to KvmHost: kept where it was"));
            }
        }
        if (context.Addressing is { } addressing)
        {
            var written = IfcfgFile.Empty();
            written.Set("BOOTPROTO", addressing.Dhcp ? "dhcp" : "none");
            NetworkScriptsConfig.WriteIp(written, addressing);
            foreach (string key in written.Keys)
            {
                bridgeLines.Add((key, written.Get(key)!));
                report.Add(new CarriedSetting(key, written.Get(key)!, SettingPlace.Bridge, "from the parameters, instead of the NIC's"));
            }
        }
        if (nmControlled) AddEffectiveMetrics(nic, context, bridgeLines, report);
        if (nmControlled) RefuseDerivedIdentities(profile.Path, bridgeLines);

        var port = IfcfgFile.Parse(nic.Render(), profile.Path).RemoveWhere(k => PlaceOf(k) == SettingPlace.Bridge);
        return new IfcfgCarry { BridgeLines = bridgeLines, Port = port, Report = report, Notes = notes };
    }

    /// <summary>What a bridge's ifcfg file holds of the NIC's identity, as KEY=value: equal to a carry's lines means unchanged since.</summary>
    public static IReadOnlySet<string> BridgeProjection(IfcfgFile bridge) =>
        bridge.Keys.Distinct().Where(k => PlaceOf(k) is SettingPlace.Bridge or SettingPlace.Both && k is not ("MTU" or "MACADDR"))
            .Select(k => $"{k}={bridge.Get(k)}").ToHashSet(StringComparer.Ordinal);

    /// <summary>The addressing keys -IPAddress/-Dhcp replace.</summary>
    private static bool IsAddressingKey(string key) =>
        key is "BOOTPROTO" or "IPV6ADDR" or "IPV6ADDR_SECONDARIES" or "IPV6_DEFAULTGW" or "IPV6_AUTOCONF" or "DHCPV6C"
        || AddressingKey().IsMatch(key);

    [GeneratedRegex(@"^(IPADDR|PREFIX|NETMASK|GATEWAY|DNS)[0-9]*$")]
    private static partial Regex AddressingKey();

    /// <summary>IPV6_DEFAULTDEV=eth0 and IPV6_DEFAULTGW=fe80::1%eth0 name the device: on the bridge they name the bridge.</summary>
    internal static string RewriteDevice(string key, string value, string from, string to) => key switch
    {
        "IPV6_DEFAULTDEV" or "GATEWAYDEV" when value == from => to,
        "IPV6_DEFAULTGW" when value.EndsWith($"%{from}", StringComparison.Ordinal) => value[..^from.Length] + to,
        _ when key.StartsWith("ROUTING_RULE", StringComparison.Ordinal) => KeyfileCarry.RewriteRule(value, from, to),
        _ => value,
    };

    private static void AddEffectiveMetrics(IfcfgFile nic, CarryContext context, List<(string, string)> lines, List<CarriedSetting> report)
    {
        // ifcfg-rh reads IPV4_ROUTE_METRIC/IPV6_ROUTE_METRIC; unset means by device type (ethernet 100, bridge 425).
        foreach (var (key, live, disabled) in new[]
                 {
                     ("IPV4_ROUTE_METRIC", context.LiveMetric4, false),
                     ("IPV6_ROUTE_METRIC", context.LiveMetric6, IsNo(nic.Get("IPV6INIT")) || IsYes(nic.Get("IPV6_DISABLED"))),
                 })
        {
            if (disabled || lines.Any(l => l.Item1 == key && l.Item2 != "-1")) continue;
            int effective = live ?? BridgeSettingsCatalog.NetworkManagerEthernetMetric;
            lines.RemoveAll(l => l.Item1 == key);
            lines.Add((key, effective.ToString(CultureInfo.InvariantCulture)));
            report.Add(new CarriedSetting(key, effective.ToString(CultureInfo.InvariantCulture), SettingPlace.Bridge,
                "written: NetworkManager gives an ethernet NIC 100 and a bridge 425 when the profile sets none"));
        }
    }

    private static void RefuseDerivedIdentities(string path, List<(string Key, string Value)> lines)
    {
        string? Get(string key) => lines.LastOrDefault(l => l.Key == key).Value;
        if (Get("DHCP_CLIENT_ID") == "stable" && Get("STABLE_ID") is null && (Get("BOOTPROTO") ?? "none") is "dhcp" or "bootp")
            throw BridgeSettingsCatalog.NotCarried(path, "DHCP_CLIENT_ID", "stable",
                "NetworkManager derives it from the NIC profile's UUID when STABLE_ID is unset, and the bridge's profile has another UUID.",
                "Set STABLE_ID on the NIC's profile first; it is carried and keeps the client id.");
        if (IsYes(Get("DHCPV6C")) && Get("DHCPV6_IAID") is null or "ifname" or "stable")
            throw BridgeSettingsCatalog.NotCarried(path, "DHCPV6_IAID", Get("DHCPV6_IAID") ?? "(unset: ifname)",
                "DHCPv6 binds the address to an IAID NetworkManager derives from the interface name, so the bridge would get another address.",
                "Set DHCPV6_IAID=mac on the NIC's profile first; it is carried and keeps the address.");
    }

    internal static bool IsYes(string? value) => value is not null && (value.Equals("yes", StringComparison.OrdinalIgnoreCase) || value.Equals("on", StringComparison.OrdinalIgnoreCase) || value == "1" || value.Equals("true", StringComparison.OrdinalIgnoreCase));

    internal static bool IsNo(string? value) => value is not null && (value.Equals("no", StringComparison.OrdinalIgnoreCase) || value.Equals("off", StringComparison.OrdinalIgnoreCase) || value == "0" || value.Equals("false", StringComparison.OrdinalIgnoreCase));
}
