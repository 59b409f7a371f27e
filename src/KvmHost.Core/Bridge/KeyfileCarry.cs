using System.Globalization;
using System.Text.RegularExpressions;

namespace KvmHost.Core.Bridge;

/// <summary>
/// The NIC's NetworkManager keyfile, split the way the bridge change needs it: what goes into the bridge's
/// profile (the whole layer 3 identity, verbatim), what stays with the port, and the effective values
/// written explicitly where a bridge would get another default. Property list and defaults:
/// nm-settings-nmcli(5) and nm-settings-keyfile(5) of NetworkManager 1.42.
/// </summary>
internal sealed partial record KeyfileCarry
{
    /// <summary>[connection] keys for the bridge profile (zone, autoconnect-priority, permissions...).</summary>
    public IReadOnlyList<(string Key, string Value)> BridgeConnection { get; init; } = [];
    /// <summary>Whole groups for the bridge profile, in the profile's order: ipv4, ipv6, hostname, proxy.</summary>
    public IReadOnlyList<(string Group, IReadOnlyList<(string Key, string Value)> Entries)> BridgeGroups { get; init; } = [];
    /// <summary>[connection] keys for the port profile (lldp, autoconnect-priority...).</summary>
    public IReadOnlyList<(string Key, string Value)> PortConnection { get; init; } = [];
    /// <summary>Whole groups for the port profile: ethernet, 802-1x, ethtool...</summary>
    public IReadOnlyList<(string Group, IReadOnlyList<(string Key, string Value)> Entries)> PortGroups { get; init; } = [];
    public IReadOnlyList<CarriedSetting> Report { get; init; } = [];
    public IReadOnlyList<string> Notes { get; init; } = [];

    private static readonly Dictionary<string, SettingPlace> GroupPlaces = new(StringComparer.Ordinal)
    {
        ["ipv4"] = SettingPlace.Bridge, ["ipv6"] = SettingPlace.Bridge, ["hostname"] = SettingPlace.Bridge, ["proxy"] = SettingPlace.Bridge,
        ["ethernet"] = SettingPlace.Port, ["802-3-ethernet"] = SettingPlace.Port, ["802-1x"] = SettingPlace.Port, ["ethtool"] = SettingPlace.Port,
        ["dcb"] = SettingPlace.Port, ["sriov"] = SettingPlace.Port, ["match"] = SettingPlace.Port, ["tc"] = SettingPlace.Port, ["link"] = SettingPlace.Port,
    };

    // [connection]: per key. Everything not listed (id, uuid, type, interface-name, autoconnect, timestamp,
    // read-only, multi-connect, master/controller...) is the NIC profile's own and stays there.
    private static readonly Dictionary<string, SettingPlace> ConnectionPlaces = new(StringComparer.Ordinal)
    {
        ["zone"] = SettingPlace.Bridge, ["stable-id"] = SettingPlace.Bridge, ["metered"] = SettingPlace.Bridge,
        ["mdns"] = SettingPlace.Bridge, ["llmnr"] = SettingPlace.Bridge, ["dns-over-tls"] = SettingPlace.Bridge,
        ["mptcp-flags"] = SettingPlace.Bridge, ["mud-url"] = SettingPlace.Bridge, ["gateway-ping-timeout"] = SettingPlace.Bridge,
        ["secondaries"] = SettingPlace.Bridge, ["wait-activation-delay"] = SettingPlace.Bridge,
        ["autoconnect-priority"] = SettingPlace.Both, ["autoconnect-retries"] = SettingPlace.Both, ["permissions"] = SettingPlace.Both,
        ["lldp"] = SettingPlace.Port, ["auth-retries"] = SettingPlace.Port, ["wait-device-timeout"] = SettingPlace.Port,
    };

    private static readonly HashSet<string> ProfileOwnConnectionKeys = new(StringComparer.Ordinal)
    {
        "id", "uuid", "type", "interface-name", "autoconnect", "timestamp", "read-only", "multi-connect",
        "master", "slave-type", "controller", "port-type", "autoconnect-slaves", "autoconnect-ports",
    };

    /// <summary>Keys whose values are secrets: listed by name, never by value.</summary>
    private static readonly HashSet<string> SecretKeys = new(StringComparer.Ordinal)
    {
        "password", "password-raw", "pin", "private-key-password", "phase2-private-key-password", "ca-cert-password",
        "client-cert-password", "phase2-ca-cert-password", "phase2-client-cert-password", "wake-on-lan-password", "psk",
    };

    /// <summary>The addressing keys -IPAddress/-Dhcp replace; every other layer 3 setting is still carried.</summary>
    private static bool IsAddressingKey(string key) =>
        key is "method" or "addresses" or "gateway" or "dns" or "routes" || AddressingKey().IsMatch(key);

    public static KeyfileCarry Compute(NicProfile profile, Keyfile nic, CarryContext context)
    {
        string path = profile.Path;
        var report = new List<CarriedSetting>();
        var notes = new List<string>();
        var bridgeConnection = new List<(string, string)>();
        var portConnection = new List<(string, string)>();
        var bridgeGroups = new List<(string, IReadOnlyList<(string, string)>)>();
        var portGroups = new List<(string, IReadOnlyList<(string, string)>)>();

        foreach (var (key, value) in nic.Entries("connection"))
        {
            if (ProfileOwnConnectionKeys.Contains(key)) continue;
            var place = ConnectionPlaces.GetValueOrDefault(key, SettingPlace.NicProfile);
            if (place == SettingPlace.NicProfile)
            {
                if (value.Length > 0) report.Add(new CarriedSetting($"connection.{key}", value, place, "unknown to KvmHost"));
                continue;
            }
            if (place is SettingPlace.Bridge or SettingPlace.Both) bridgeConnection.Add((key, value));
            if (place is SettingPlace.Port or SettingPlace.Both) portConnection.Add((key, value));
            if (value.Length > 0) report.Add(new CarriedSetting($"connection.{key}", value, place));
        }

        string? stableId = nic.Get("connection", "stable-id");
        foreach (string group in nic.Groups.Where(g => g != "connection"))
        {
            var entries = nic.Entries(group).ToList();
            var place = GroupPlaces.GetValueOrDefault(group, SettingPlace.NicProfile);
            if (group is "ethernet" or "802-3-ethernet") CheckClonedMac(path, nic.Get(group, "cloned-mac-address"));
            if (place == SettingPlace.Bridge)
            {
                var carried = group is "ipv4" or "ipv6"
                    ? CarryIp(path, group, entries, nic, stableId, context, report, notes)
                    : entries;
                if (group is not ("ipv4" or "ipv6")) report.AddRange(entries.Select(e => new CarriedSetting($"{group}.{e.Key}", e.Value, place)));
                bridgeGroups.Add((group, carried));
            }
            else if (place == SettingPlace.Port)
            {
                portGroups.Add((group, entries));
                report.AddRange(entries.Where(e => e.Value.Length > 0).Select(e => new CarriedSetting($"{group}.{e.Key}", Shown(e.Key, e.Value),
                    group is "ethernet" or "802-3-ethernet" && e.Key == "mtu" ? SettingPlace.Both : SettingPlace.Port)));
            }
            else
            {
                report.AddRange(entries.Where(e => e.Value.Length > 0).Select(e => new CarriedSetting($"{group}.{e.Key}", Shown(e.Key, e.Value), place,
                    group == "user" ? null : "unknown to KvmHost")));
            }
        }
        // A NIC profile without [ipv4]/[ipv6] still has a method per family (auto): the bridge must get the same, not its own default.
        foreach (string family in new[] { "ipv4", "ipv6" }.Where(f => !nic.HasGroup(f)))
            bridgeGroups.Add((family, CarryIp(path, family, [], nic, stableId, context, report, notes)));

        return new KeyfileCarry
        {
            BridgeConnection = bridgeConnection,
            BridgeGroups = bridgeGroups,
            PortConnection = portConnection,
            PortGroups = portGroups,
            Report = report,
            Notes = notes,
        };
    }

    public static SettingPlace PlaceOfConnectionKey(string key) => ConnectionPlaces.GetValueOrDefault(key, SettingPlace.NicProfile);

    public static bool IsBridgeGroup(string group) => GroupPlaces.GetValueOrDefault(group, SettingPlace.NicProfile) == SettingPlace.Bridge;

    /// <summary>What the bridge's profile holds of the NIC's identity (its carried [connection] keys and layer 3 groups), as group.key=value.</summary>
    public static IReadOnlySet<string> BridgeProjection(Keyfile bridge)
    {
        var entries = new HashSet<string>(StringComparer.Ordinal);
        foreach (var (key, value) in bridge.Entries("connection"))
            if (PlaceOfConnectionKey(key) is SettingPlace.Bridge or SettingPlace.Both) entries.Add($"connection.{key}={value}");
        foreach (string group in bridge.Groups.Where(IsBridgeGroup))
            foreach (var (key, value) in bridge.Entries(group)) entries.Add($"{group}.{key}={value}");
        return entries;
    }

    /// <summary>The same projection of what this carry puts into the bridge: equal sets mean the bridge was not changed since.</summary>
    public IReadOnlySet<string> ExpectedProjection()
    {
        var entries = new HashSet<string>(StringComparer.Ordinal);
        foreach (var (key, value) in BridgeConnection) entries.Add($"connection.{key}={value}");
        foreach (var (group, groupEntries) in BridgeGroups)
            foreach (var (key, value) in groupEntries) entries.Add($"{group}.{key}={value}");
        return entries;
    }

    private static List<(string, string)> CarryIp(string path, string group, List<(string Key, string Value)> entries, Keyfile nic, string? stableId,
        CarryContext context, List<CarriedSetting> report, List<string> notes)
    {
        bool v6 = group == "ipv6";
        var result = new List<(string, string)>();
        bool replaceAddressing = context.Addressing is not null;
        foreach (var (key, value) in entries)
        {
            if (replaceAddressing && IsAddressingKey(key)) continue;
            string carried = value;
            if (key.StartsWith("routing-rule", StringComparison.Ordinal) && RewriteRule(value, context.Nic, context.Bridge) is var rule && rule != value)
            {
                carried = rule;
                report.Add(new CarriedSetting($"{group}.{key}", carried, SettingPlace.Bridge, $"was '{value}': the rule now names {context.Bridge}"));
            }
            else report.Add(new CarriedSetting($"{group}.{key}", value, SettingPlace.Bridge));
            result.Add((key, carried));
        }
        if (replaceAddressing)
        {
            var written = new Keyfile();
            NetworkManagerConfig.WriteIp(written, context.Addressing!);
            foreach (var (key, value) in written.Entries(group))
            {
                result.Add((key, value));
                report.Add(new CarriedSetting($"{group}.{key}", value, SettingPlace.Bridge, "from the parameters, instead of the NIC's"));
            }
        }

        // NetworkManager's default method is auto for both families when the profile says nothing.
        string method = result.LastOrDefault(e => e.Item1 == "method").Item2 ?? "auto";
        if (!result.Any(e => e.Item1 == "method"))
        {
            result.Add(("method", method));
            report.Add(new CarriedSetting($"{group}.method", method, SettingPlace.Bridge, "written: NetworkManager's default when the profile names none"));
        }
        RefuseDerivedIdentities(path, group, result, nic, stableId);

        // The effective route metric: unset means "by device type", 100 for ethernet and 425 for a bridge.
        string? metric = result.LastOrDefault(e => e.Item1 == "route-metric").Item2;
        if (method is not ("disabled" or "ignore") && (metric is null or "-1"))
        {
            int? live = v6 ? context.LiveMetric6 : context.LiveMetric4;
            int effective = live ?? BridgeSettingsCatalog.NetworkManagerEthernetMetric;
            result.RemoveAll(e => e.Item1 == "route-metric");
            result.Add(("route-metric", effective.ToString(CultureInfo.InvariantCulture)));
            report.Add(new CarriedSetting($"{group}.route-metric", effective.ToString(CultureInfo.InvariantCulture), SettingPlace.Bridge,
                live is null ? "written: NetworkManager gives an ethernet NIC 100 and a bridge 425 when the profile sets none"
                    : "written: the metric the NIC's routes have now; a bridge would get 425"));
        }

        if (!v6 && result.LastOrDefault(e => e.Item1 == "dhcp-client-id").Item2 == "perm-mac")
        {
            // A bridge has no permanent MAC of its own; the NIC's, as client id type 1 (ethernet), is what the DHCP server knows.
            if (context.PermanentMac is not { } mac)
                throw BridgeSettingsCatalog.NotCarried(path, "ipv4.dhcp-client-id", "perm-mac", "the NIC's permanent MAC is not known here, and a bridge has none of its own.",
                    "Set ipv4.dhcp-client-id to the value the DHCP server knows (01:<MAC>) on the NIC's profile, or run on the host itself.");
            string clientId = "01:" + mac.ToLowerInvariant();
            result.RemoveAll(e => e.Item1 == "dhcp-client-id");
            result.Add(("dhcp-client-id", clientId));
            report.Add(new CarriedSetting("ipv4.dhcp-client-id", clientId, SettingPlace.Bridge, "written: perm-mac of the NIC, which the bridge does not have"));
        }

        if (v6 && method == "auto" && (result.LastOrDefault(e => e.Item1 == "addr-gen-mode").Item2 ?? "default") is "stable-privacy" or "default" or "default-or-eui64")
            notes.Add($"IPv6 addresses that {context.Nic} makes for itself from router advertisements use stable privacy (RFC 7217) or the global default, "
                + $"which include the interface name: {context.Bridge} makes other ones. Static addresses, the link-local address and DHCPv6 leases are not affected.");
        if (!v6 && method == "link-local")
            notes.Add($"{context.Bridge} picks its own 169.254.0.0/16 address (ipv4.method=link-local), as {context.Nic} did at each activation.");
        return result;
    }

    private static void RefuseDerivedIdentities(string path, string group, List<(string, string)> ip, Keyfile nic, string? stableId)
    {
        string? Get(string key) => ip.LastOrDefault(e => e.Item1 == key).Item2;
        string method = Get("method") ?? "auto";
        if (group == "ipv4" && method == "auto")
        {
            string? clientId = Get("dhcp-client-id");
            string? iaid = Get("dhcp-iaid") ?? nic.Get("ipv6", "dhcp-iaid");
            if (clientId == "stable" && stableId is null)
                throw BridgeSettingsCatalog.NotCarried(path, "ipv4.dhcp-client-id", "stable",
                    "NetworkManager derives it from the NIC profile's UUID when connection.stable-id is unset, and the bridge's profile has another UUID, so the DHCP server would see another client.",
                    "Set connection.stable-id on the NIC's profile first (nmcli connection modify <profile> connection.stable-id <text>); it is carried and keeps the client id.");
            if (clientId is "duid" or "ipv6-duid" && iaid is null or "ifname" or "stable")
                throw BridgeSettingsCatalog.NotCarried(path, "ipv4.dhcp-client-id", clientId,
                    $"its IAID ({iaid ?? "unset: ifname"}) is derived from the interface name, so the bridge would ask for another lease.",
                    "Set ipv4.dhcp-iaid to mac or a number on the NIC's profile first; it is carried and keeps the lease.");
        }
        if (group == "ipv6" && method == "dhcp")
        {
            string? iaid = Get("dhcp-iaid");
            if (iaid is null or "ifname" or "stable")
                throw BridgeSettingsCatalog.NotCarried(path, "ipv6.dhcp-iaid", iaid ?? "(unset: ifname)",
                    "DHCPv6 binds the address to an IAID NetworkManager derives from the interface name, so the bridge would get another address.",
                    "Set ipv6.dhcp-iaid to mac or a number on the NIC's profile first; it is carried and keeps the address.");
            if (Get("dhcp-duid") is { } duid && duid.StartsWith("stable-", StringComparison.Ordinal) && stableId is null)
                throw BridgeSettingsCatalog.NotCarried(path, "ipv6.dhcp-duid", duid,
                    "NetworkManager derives it from the NIC profile's UUID when connection.stable-id is unset, and the bridge's profile has another UUID.",
                    "Set connection.stable-id on the NIC's profile first; it is carried and keeps the DUID.");
        }
    }

    private static void CheckClonedMac(string path, string? cloned)
    {
        if (cloned is "random" or "stable")
            throw BridgeSettingsCatalog.NotCarried(path, "ethernet.cloned-mac-address", cloned,
                cloned == "random"
                    ? "the NIC shows a new random MAC at every activation, so the network knows no MAC the bridge could keep."
                    : "NetworkManager derives that MAC from the profile and the interface name, so the bridge would show another MAC to the network.",
                "Set ethernet.cloned-mac-address to the MAC the network should see (or to permanent) on the NIC's profile first.");
    }

    /// <summary>"priority 5 iif eth0 table 100" for br0: the words after iif/oif that name the NIC.</summary>
    internal static string RewriteRule(string rule, string from, string to)
    {
        var words = rule.Split(' ');
        for (int i = 1; i < words.Length; i++)
            if (words[i - 1] is "iif" or "oif" && words[i] == from) words[i] = to;
        return string.Join(' ', words);
    }

    private static string Shown(string key, string value) => SecretKeys.Contains(key) && value.Length > 0 ? "(secret, not shown)" : value;

    [GeneratedRegex(@"^(address|route|routing-rule)[0-9]+(_options)?$")]
    private static partial Regex AddressingKey();
}
