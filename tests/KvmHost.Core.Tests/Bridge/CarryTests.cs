using KvmHost.Core.Bridge;
using KvmHost.Core.Platform;
using Xunit;

namespace KvmHost.Core.Tests.Bridge;

/// <summary>
/// Issue 18, property by property, offline: a NIC profile sets one property to a non-default value; after
/// New-HostBridge the property is where it belongs (bridge, port or both, verbatim), and after Remove-HostBridge
/// the NIC's own files are back byte for byte. The live proofs are in tests/HostBridge.Fidelity.Tests.ps1.
/// </summary>
public class CarryTests
{
    private const string Keyfiles = "/etc/NetworkManager/system-connections";
    private const string Scripts = "/etc/sysconfig/network-scripts";

    private const string NicKeyfile = "[connection]\nid=Wired eth0\nuuid=0d4b6a8e-3c2f-4e1a-9b7c-5d6e7f8a9b0c\ntype=ethernet\ninterface-name=eth0\n"
        + "\n[ethernet]\nmac-address=52:54:00:12:34:56\n\n[ipv4]\naddress1=192.168.0.18/24,192.168.0.1\nmethod=manual\n\n[ipv6]\naddr-gen-mode=eui64\nmethod=auto\n";

    private static BridgeRequest Request(string nic = "eth0") => BridgeRequest.Create("br0", nic, null, null, null, false, null, null, null, null);

    /// <summary>Writes a plan's changed files the way the applier does (the atomic writer, saved originals as bytes).</summary>
    private static void Write(HostRoot root, IEnumerable<FilePlan> files)
    {
        var writer = new AtomicFileWriter(root);
        foreach (var file in files.Where(f => f.Changes)) BridgeApplier.Write(writer, file.File);
    }

    private static (string Bridge, string Port) BridgeThenRemove(ScratchRoot scratch, IBridgeConfig config, string nicPath, string bridgePath, string portPath)
    {
        byte[] original = File.ReadAllBytes(scratch.HostPath(nicPath));
        var plan = BridgePlanner.Plan(Request(), scratch.Root, config, null, null);
        Write(scratch.Root, plan.Files);
        string bridge = scratch.Read(bridgePath), port = scratch.Read(portPath);
        var removal = BridgeRemover.Plan("br0", scratch.Root, [config], null, null);
        Write(scratch.Root, removal.Files);
        Assert.Equal(original, File.ReadAllBytes(scratch.HostPath(nicPath)));
        Assert.False(File.Exists(scratch.HostPath(bridgePath)));
        // The saved original goes once it is back (the writer's own hidden backups end in .bak).
        Assert.Empty(Directory.GetFiles(Path.GetDirectoryName(scratch.HostPath(nicPath))!, "*.orig", SearchOption.TopDirectoryOnly));
        return (bridge, port);
    }

    [Theory]
    // ipv4 and ipv6 methods, every value (DHCPv6 with an explicit IAID: see the refusals)
    [InlineData("ipv4", "method", "auto", "bridge")]
    [InlineData("ipv4", "method", "disabled", "bridge")]
    [InlineData("ipv4", "method", "link-local", "bridge")]
    [InlineData("ipv4", "method", "shared", "bridge")]
    [InlineData("ipv6", "method", "manual", "bridge")]
    [InlineData("ipv6", "method", "ignore", "bridge")]
    [InlineData("ipv6", "method", "disabled", "bridge")]
    [InlineData("ipv6", "method", "link-local", "bridge")]
    [InlineData("ipv6", "method", "shared", "bridge")]
    // addresses, gateway, routes with tables, rules, metrics
    [InlineData("ipv4", "address2", "10.9.8.7/16", "bridge")]
    [InlineData("ipv4", "gateway", "192.168.0.254", "bridge")]
    [InlineData("ipv4", "route1", "203.0.113.0/24,192.168.0.254,33", "bridge")]
    [InlineData("ipv4", "route1_options", "table=100", "bridge")]
    [InlineData("ipv4", "routing-rule1", "priority 1000 from 192.168.0.0/24 table 100", "bridge")]
    [InlineData("ipv4", "route-table", "100", "bridge")]
    [InlineData("ipv4", "route-metric", "77", "bridge")]
    [InlineData("ipv6", "route-metric", "78", "bridge")]
    [InlineData("ipv4", "never-default", "true", "bridge")]
    [InlineData("ipv4", "may-fail", "false", "bridge")]
    [InlineData("ipv6", "may-fail", "false", "bridge")]
    // DNS
    [InlineData("ipv4", "dns", "192.168.0.53;192.168.0.54;", "bridge")]
    [InlineData("ipv4", "dns-search", "lab.example;corp.example;", "bridge")]
    [InlineData("ipv4", "dns-options", "rotate;timeout:2;", "bridge")]
    [InlineData("ipv4", "dns-priority", "40", "bridge")]
    [InlineData("ipv4", "ignore-auto-dns", "true", "bridge")]
    [InlineData("ipv4", "ignore-auto-routes", "true", "bridge")]
    [InlineData("ipv6", "dns", "2001:db8::53;", "bridge")]
    // DHCP identity
    [InlineData("ipv4", "dhcp-client-id", "mac", "bridge")]
    [InlineData("ipv4", "dhcp-client-id", "01:52:54:00:12:34:56", "bridge")]
    [InlineData("ipv4", "dhcp-hostname", "kvm1", "bridge")]
    [InlineData("ipv4", "dhcp-send-hostname", "false", "bridge")]
    [InlineData("ipv4", "dhcp-fqdn", "kvm1.lab.example", "bridge")]
    [InlineData("ipv4", "dad-timeout", "0", "bridge")]
    // IPv6 addressing
    [InlineData("ipv6", "addr-gen-mode", "stable-privacy", "bridge")]
    [InlineData("ipv6", "token", "::abcd", "bridge")]
    [InlineData("ipv6", "ip6-privacy", "2", "bridge")]
    [InlineData("ipv6", "mtu", "1380", "bridge")]
    [InlineData("hostname", "from-dhcp", "0", "bridge")]
    // [connection]
    [InlineData("connection", "zone", "internal", "bridge")]
    [InlineData("connection", "stable-id", "kvm-host-1", "bridge")]
    [InlineData("connection", "metered", "1", "bridge")]
    [InlineData("connection", "autoconnect-priority", "5", "both")]
    [InlineData("connection", "autoconnect-retries", "3", "both")]
    [InlineData("connection", "permissions", "user:root;", "both")]
    [InlineData("connection", "lldp", "1", "port")]
    // the link
    [InlineData("ethernet", "mtu", "9000", "both")]
    [InlineData("ethernet", "cloned-mac-address", "52:54:00:AA:BB:CC", "port")]
    [InlineData("ethernet", "wake-on-lan", "64", "port")]
    [InlineData("802-1x", "eap", "peap;", "port")]
    [InlineData("802-1x", "identity", "host-kvm1", "port")]
    [InlineData("ethtool", "feature-gro", "false", "port")]
    public void A_keyfile_property_goes_where_it_belongs_and_comes_back_byte_for_byte(string group, string key, string value, string place)
    {
        var profile = Keyfile.Parse(NicKeyfile);
        if (group == "ipv4" && key == "method" && value != "manual") profile.RemoveWhere("ipv4", k => k.StartsWith("address", StringComparison.Ordinal));
        profile.Set(group, key, value);
        using var scratch = new ScratchRoot().Put($"{Keyfiles}/eth0.nmconnection", profile.Render());
        File.SetUnixFileMode(scratch.HostPath($"{Keyfiles}/eth0.nmconnection"), Modes.SecretFile);

        var (bridge, port) = BridgeThenRemove(scratch, new NetworkManagerConfig(scratch.Root, false), $"{Keyfiles}/eth0.nmconnection",
            $"{Keyfiles}/br0.nmconnection", $"{Keyfiles}/br0-port-eth0.nmconnection");

        string bridgeValue = Keyfile.Parse(bridge).Get(group, key) ?? "(absent)", portValue = Keyfile.Parse(port).Get(group, key) ?? "(absent)";
        Assert.Equal(place is "bridge" or "both" ? value : "(absent)", bridgeValue);
        Assert.Equal(place is "port" or "both" ? value : "(absent)", portValue);
    }

    [Fact]
    public void Where_the_NIC_had_no_route_metric_the_bridge_gets_NetworkManagers_ethernet_default_written_out()
    {
        using var scratch = new ScratchRoot().Put($"{Keyfiles}/eth0.nmconnection", NicKeyfile);
        var plan = BridgePlanner.Plan(Request(), scratch.Root, new NetworkManagerConfig(scratch.Root, false), null, null);
        var bridge = Keyfile.Parse(plan.Files.Single(f => f.File.Purpose == "bridge").File.Content!);
        Assert.Equal("100", bridge.Get("ipv4", "route-metric"));
        Assert.Equal("100", bridge.Get("ipv6", "route-metric"));
        Assert.Contains(plan.Carried, c => c.Setting == "ipv4.route-metric" && c.Value == "100" && c.Reason!.Contains("425", StringComparison.Ordinal));
    }

    [Fact]
    public void A_profile_without_an_ipv6_group_gives_the_bridge_ipv6_auto_as_NetworkManager_reads_it()
    {
        using var scratch = new ScratchRoot().Put($"{Keyfiles}/eth0.nmconnection", "[connection]\nid=eth0\ntype=ethernet\ninterface-name=eth0\n\n[ipv4]\naddress1=10.0.0.2/24\nmethod=manual\n");
        var plan = BridgePlanner.Plan(Request(), scratch.Root, new NetworkManagerConfig(scratch.Root, false), null, null);
        var bridge = Keyfile.Parse(plan.Files.Single(f => f.File.Purpose == "bridge").File.Content!);
        Assert.Equal("auto", bridge.Get("ipv6", "method"));
    }

    [Fact]
    public void Live_the_effective_metric_is_the_one_the_NICs_routes_run_with()
    {
        var live = LiveNetworkState.Parse(File.ReadAllText(ScratchRoot.Fixture("ipjson/netlab-kvmt0-address.json")),
            File.ReadAllText(ScratchRoot.Fixture("ipjson/netlab-kvmt0-route4.json")), File.ReadAllText(ScratchRoot.Fixture("ipjson/netlab-kvmt0-route6.json")));
        using var scratch = new ScratchRoot();
        var plan = BridgePlanner.Plan(BridgeRequest.Create("br0", "kvmt0", null, null, null, false, null, null, null, null), scratch.Root,
            new NetworkManagerConfig(scratch.Root, false), live, null);
        var bridge = Keyfile.Parse(plan.Files.Single(f => f.File.Purpose == "bridge").File.Content!);
        // The lab NIC's IPv4 default route has no metric (0), its IPv6 one 1024: a bridge without them would get 425.
        Assert.Equal("0", bridge.Get("ipv4", "route-metric"));
        Assert.Equal("1024", bridge.Get("ipv6", "route-metric"));
    }

    [Theory]
    [InlineData("ethernet", "cloned-mac-address", "random", "ethernet.cloned-mac-address")]
    [InlineData("ethernet", "cloned-mac-address", "stable", "ethernet.cloned-mac-address")]
    [InlineData("ipv4", "dhcp-client-id", "stable", "ipv4.dhcp-client-id")]
    [InlineData("ipv4", "dhcp-client-id", "duid", "ipv4.dhcp-client-id")]
    [InlineData("ipv6", "method", "dhcp", "ipv6.dhcp-iaid")]
    public void A_setting_the_bridge_cannot_honour_is_refused_with_its_id_before_anything_is_planned(string group, string key, string value, string setting)
    {
        var profile = Keyfile.Parse(NicKeyfile);
        if (group == "ipv4" && key == "dhcp-client-id") profile.Set("ipv4", "method", "auto").RemoveWhere("ipv4", k => k.StartsWith("address", StringComparison.Ordinal));
        profile.Set(group, key, value);
        using var scratch = new ScratchRoot().Put($"{Keyfiles}/eth0.nmconnection", profile.Render());
        var e = Assert.Throws<KvmHostException>(() => BridgePlanner.Plan(Request(), scratch.Root, new NetworkManagerConfig(scratch.Root, false), null, null));
        Assert.Equal(ErrorIds.InterfaceSettingNotCarried, e.ErrorId);
        Assert.Equal(FailureKind.InvalidOperation, e.Kind);
        Assert.Contains(setting, e.Message, StringComparison.Ordinal);
        Assert.Equal($"{Keyfiles}/eth0.nmconnection", e.Target);
        Assert.NotNull(e.Hint);
    }

    [Theory]
    [InlineData("ipv4", "dhcp-client-id", "stable", "connection", "stable-id", "kvm-host-1")]
    [InlineData("ipv4", "dhcp-client-id", "duid", "ipv4", "dhcp-iaid", "mac")]
    [InlineData("ipv6", "method", "dhcp", "ipv6", "dhcp-iaid", "mac")]
    public void Made_explicit_on_the_NIC_first_the_same_setting_is_carried(string group, string key, string value, string fixGroup, string fixKey, string fixValue)
    {
        var profile = Keyfile.Parse(NicKeyfile);
        if (group == "ipv4") profile.Set("ipv4", "method", "auto").RemoveWhere("ipv4", k => k.StartsWith("address", StringComparison.Ordinal));
        profile.Set(group, key, value).Set(fixGroup, fixKey, fixValue);
        using var scratch = new ScratchRoot().Put($"{Keyfiles}/eth0.nmconnection", profile.Render());
        var plan = BridgePlanner.Plan(Request(), scratch.Root, new NetworkManagerConfig(scratch.Root, false), null, null);
        var bridge = Keyfile.Parse(plan.Files.Single(f => f.File.Purpose == "bridge").File.Content!);
        Assert.Equal(value, bridge.Get(group, key));
        Assert.Equal(fixValue, bridge.Get(fixGroup, fixKey));
    }

    [Fact]
    public void Perm_mac_becomes_the_client_id_the_DHCP_server_knows()
    {
        var profile = Keyfile.Parse(NicKeyfile).Set("ipv4", "method", "auto").Set("ipv4", "dhcp-client-id", "perm-mac").RemoveWhere("ipv4", k => k.StartsWith("address", StringComparison.Ordinal));
        using var scratch = new ScratchRoot().Put($"{Keyfiles}/eth0.nmconnection", profile.Render());
        var plan = BridgePlanner.Plan(Request(), scratch.Root, new NetworkManagerConfig(scratch.Root, false), null, null);
        Assert.Equal("01:52:54:00:12:34:56", Keyfile.Parse(plan.Files.Single(f => f.File.Purpose == "bridge").File.Content!).Get("ipv4", "dhcp-client-id"));
    }

    [Fact]
    public void A_rule_that_names_the_NIC_names_the_bridge_and_the_NIC_again_after_removal()
    {
        var profile = Keyfile.Parse(NicKeyfile).Set("ipv4", "routing-rule1", "priority 1001 iif eth0 table 100");
        using var scratch = new ScratchRoot().Put($"{Keyfiles}/eth0.nmconnection", profile.Render());
        var (bridge, _) = BridgeThenRemove(scratch, new NetworkManagerConfig(scratch.Root, false), $"{Keyfiles}/eth0.nmconnection",
            $"{Keyfiles}/br0.nmconnection", $"{Keyfiles}/br0-port-eth0.nmconnection");
        Assert.Equal("priority 1001 iif br0 table 100", Keyfile.Parse(bridge).Get("ipv4", "routing-rule1"));
    }

    [Fact]
    public void The_NICs_keyfile_is_disabled_with_one_line_and_keeps_its_comments()
    {
        string text = "# managed by the admin\n[connection]\nid=eth0\ntype=ethernet\n# keep this\ninterface-name=eth0\n\n[ipv4]\naddress1=10.0.0.2/24\nmethod=manual\n";
        using var scratch = new ScratchRoot().Put($"{Keyfiles}/eth0.nmconnection", text);
        var plan = BridgePlanner.Plan(Request(), scratch.Root, new NetworkManagerConfig(scratch.Root, false), null, null);
        Assert.Equal(text.Replace("type=ethernet\n", "type=ethernet\nautoconnect=false\n"),
            plan.Files.Single(f => f.File.Path == $"{Keyfiles}/eth0.nmconnection").File.Content);
        Assert.Equal(text, plan.Files.Single(f => f.File.Path == $"{Keyfiles}/.eth0.nmconnection.kvmhost-br0.orig").File.Content);
    }

    [Fact]
    public void A_bridge_changed_after_it_was_made_gives_the_NIC_its_new_layer_3_and_keeps_the_rest()
    {
        using var scratch = new ScratchRoot().Put($"{Keyfiles}/eth0.nmconnection", NicKeyfile);
        var config = new NetworkManagerConfig(scratch.Root, false);
        Write(scratch.Root, BridgePlanner.Plan(Request(), scratch.Root, config, null, null).Files);
        scratch.Put($"{Keyfiles}/br0.nmconnection", scratch.Read($"{Keyfiles}/br0.nmconnection").Replace("method=manual\n", "dns=192.168.0.99;\nmethod=manual\n"));
        var removal = BridgeRemover.Plan("br0", scratch.Root, [config], null, null);
        Write(scratch.Root, removal.Files);
        var nic = Keyfile.Parse(scratch.Read($"{Keyfiles}/eth0.nmconnection"));
        Assert.Equal("192.168.0.99;", nic.Get("ipv4", "dns"));
        Assert.Equal("52:54:00:12:34:56", nic.Get("ethernet", "mac-address"));
        Assert.Null(nic.Get("connection", "autoconnect"));
        Assert.Contains(removal.Notes, n => n.Contains("changed after it was made", StringComparison.Ordinal));
    }

    private const string NicIfcfg = "# as installed\nDEVICE=eth0\nTYPE=Ethernet\nHWADDR=52:54:00:12:34:56\nBOOTPROTO=none\nIPADDR=192.168.0.18\nPREFIX=24\nGATEWAY=192.168.0.1\nONBOOT=yes\n";

    [Theory]
    [InlineData("IPV6INIT", "no", "bridge")]
    [InlineData("IPV6_DISABLED", "yes", "bridge")]
    [InlineData("IPV6_AUTOCONF", "yes", "bridge")]
    [InlineData("IPV6ADDR", "2001:db8::18/64", "bridge")]
    [InlineData("IPV6_PRIVACY", "rfc3041", "bridge")]
    [InlineData("ZONE", "internal", "bridge")]
    [InlineData("METRIC", "77", "bridge")]
    [InlineData("IPV4_ROUTE_METRIC", "77", "bridge")]
    [InlineData("DEFROUTE", "no", "bridge")]
    [InlineData("DOMAIN", "lab.example corp.example", "bridge")]
    [InlineData("PEERDNS", "no", "bridge")]
    [InlineData("PEERROUTES", "no", "bridge")]
    [InlineData("DHCP_HOSTNAME", "kvm1", "bridge")]
    [InlineData("DNS1", "192.168.0.53", "bridge")]
    [InlineData("NETMASK1", "255.255.0.0", "bridge")]
    [InlineData("IPV6_DEFAULTGW", "2001:db8::1", "bridge")]
    [InlineData("MTU", "9000", "both")]
    [InlineData("USERS", "root", "both")]
    [InlineData("ETHTOOL_OPTS", "-K eth0 gro off", "port")]
    [InlineData("LINKDELAY", "5", "port")]
    public void An_ifcfg_key_goes_where_it_belongs_and_the_NICs_file_comes_back_byte_for_byte(string key, string value, string place)
    {
        using var scratch = new ScratchRoot().Put($"{Scripts}/ifcfg-eth0", IfcfgFile.Parse(NicIfcfg).Set(key, value).Render());
        var (bridge, port) = BridgeThenRemove(scratch, new NetworkScriptsConfig(scratch.Root), $"{Scripts}/ifcfg-eth0", $"{Scripts}/ifcfg-br0", $"{Scripts}/ifcfg-eth0");
        Assert.Equal(place is "bridge" or "both" ? value : null, IfcfgFile.Parse(bridge).Get(key));
        Assert.Equal(place is "port" or "both" ? value : null, IfcfgFile.Parse(port).Get(key));
    }

    [Fact]
    public void The_NICs_route_route6_and_rule_files_move_to_the_bridge_naming_it_and_come_back_byte_for_byte()
    {
        using var scratch = new ScratchRoot()
            .Put($"{Scripts}/ifcfg-eth0", NicIfcfg + "IPV6_DEFAULTDEV=eth0\n")
            .Put($"{Scripts}/route-eth0", "# the lab\n10.99.0.0/16 via 192.168.0.253 dev eth0 table 100\nADDRESS0=203.0.113.0\n")
            .Put($"{Scripts}/route6-eth0", "2001:db8:99::/48 via 2001:db8::fe dev eth0 metric 44\n")
            .Put($"{Scripts}/rule-eth0", "iif eth0 table 100 priority 1001\n");
        var originals = new[] { "route-eth0", "route6-eth0", "rule-eth0" }.ToDictionary(f => f, f => File.ReadAllBytes(scratch.HostPath($"{Scripts}/{f}")));
        var config = new NetworkScriptsConfig(scratch.Root);
        var plan = BridgePlanner.Plan(Request(), scratch.Root, config, null, null);
        Write(scratch.Root, plan.Files);
        Assert.Equal("# the lab\n10.99.0.0/16 via 192.168.0.253 dev br0 table 100\nADDRESS0=203.0.113.0\n", scratch.Read($"{Scripts}/route-br0"));
        Assert.Equal("2001:db8:99::/48 via 2001:db8::fe dev br0 metric 44\n", scratch.Read($"{Scripts}/route6-br0"));
        Assert.Equal("iif br0 table 100 priority 1001\n", scratch.Read($"{Scripts}/rule-br0"));
        Assert.Equal("br0", IfcfgFile.Parse(scratch.Read($"{Scripts}/ifcfg-br0")).Get("IPV6_DEFAULTDEV"));
        Assert.False(File.Exists(scratch.HostPath($"{Scripts}/route-eth0")));
        Assert.Contains(plan.Carried, c => c.Setting == "route-eth0" && c.Value == "2 line(s)");

        Write(scratch.Root, BridgeRemover.Plan("br0", scratch.Root, [config], null, null).Files);
        foreach (var (file, bytes) in originals) Assert.Equal(bytes, File.ReadAllBytes(scratch.HostPath($"{Scripts}/{file}")));
        Assert.False(File.Exists(scratch.HostPath($"{Scripts}/route-br0")));
        Assert.False(File.Exists(scratch.HostPath($"{Scripts}/rule-br0")));
    }

    [Fact]
    public void A_second_run_on_a_bridged_NIC_carries_from_the_saved_original_and_changes_nothing()
    {
        using var scratch = new ScratchRoot().Put($"{Scripts}/ifcfg-eth0", NicIfcfg + "ZONE=internal\n");
        var config = new NetworkScriptsConfig(scratch.Root);
        Write(scratch.Root, BridgePlanner.Plan(Request(), scratch.Root, config, null, null).Files);
        var again = BridgePlanner.Plan(Request(), scratch.Root, config, null, null);
        Assert.False(again.Changes);
        Assert.Contains(again.Notes, n => n.Contains("existing bridge", StringComparison.Ordinal));
    }

    [Fact]
    public void Bytes_that_are_not_UTF8_come_back_exactly()
    {
        using var scratch = new ScratchRoot();
        Directory.CreateDirectory(scratch.HostPath(Scripts));
        byte[] latin1 = [.. System.Text.Encoding.ASCII.GetBytes("# Server M"), 0xFC, .. System.Text.Encoding.ASCII.GetBytes("ller\n" + NicIfcfg)];
        File.WriteAllBytes(scratch.HostPath($"{Scripts}/ifcfg-eth0"), latin1);
        BridgeThenRemove(scratch, new NetworkScriptsConfig(scratch.Root), $"{Scripts}/ifcfg-eth0", $"{Scripts}/ifcfg-br0", $"{Scripts}/ifcfg-eth0");
    }

    [Fact]
    public void NetworkManagers_ifcfg_profile_gets_an_ifcfg_bridge_with_the_effective_metric_and_its_refusals()
    {
        using var scratch = new ScratchRoot().Put($"{Scripts}/ifcfg-eth0", NicIfcfg + "ZONE=internal\nUUID=5fb06bd0-0bb0-7ffb-45f1-d6edd65f3e03\n");
        var config = new NetworkManagerConfig(scratch.Root, false);
        var plan = BridgePlanner.Plan(Request(), scratch.Root, config, null, null);
        var bridge = IfcfgFile.Parse(plan.Files.Single(f => f.File.Purpose == "bridge").File.Content!);
        Assert.Equal($"{Scripts}/ifcfg-br0", plan.Files.Single(f => f.File.Purpose == "bridge").File.Path);
        Assert.Equal("internal", bridge.Get("ZONE"));
        Assert.Equal("100", bridge.Get("IPV4_ROUTE_METRIC"));
        Assert.Equal(NetworkManagerConfig.StableUuid("br0"), bridge.Get("UUID"));
        Assert.Null(bridge.Get("NM_CONTROLLED"));
        Assert.Equal("5fb06bd0-0bb0-7ffb-45f1-d6edd65f3e03", plan.PortUuid);
        Write(scratch.Root, plan.Files);
        Assert.Equal("br0", config.FindBridges().Single(b => b.Path.Contains("ifcfg-", StringComparison.Ordinal)).Name);

        using var refused = new ScratchRoot().Put($"{Scripts}/ifcfg-eth0", NicIfcfg + "MACADDR=random\n");
        Assert.Equal(ErrorIds.InterfaceSettingNotCarried, Assert.Throws<KvmHostException>(() =>
            BridgePlanner.Plan(Request(), refused.Root, new NetworkManagerConfig(refused.Root, false), null, null)).ErrorId);
    }

    [Fact]
    public void The_iproute2_commands_move_tables_rules_flags_and_ipv6_sysctls()
    {
        const string addresses = """
            [{"ifname":"eth0","mtu":1500,"flags":["UP"],"address":"52:54:00:12:34:56","linkinfo":{"info_kind":"veth"},
              "addr_info":[{"local":"192.168.0.18","prefixlen":24,"scope":"global","noprefixroute":true},{"local":"2001:db8::18","prefixlen":64,"scope":"global"}]}]
            """;
        const string routes4 = """
            [{"dst":"default","gateway":"192.168.0.1","dev":"eth0","metric":77,"flags":[]},
             {"dst":"192.168.0.0/24","dev":"eth0","protocol":"kernel","scope":"link","prefsrc":"192.168.0.18","metric":77,"flags":[]},
             {"dst":"10.99.0.0/16","gateway":"192.168.0.253","dev":"eth0","table":"100","flags":[]}]
            """;
        var live = LiveNetworkState.Parse(addresses, routes4, "[]") with
        {
            Rules = LiveNetworkState.ParseRules("0:\tfrom all lookup local\n1001:\tfrom all iif eth0 lookup 100\n32766:\tfrom all lookup main\n", false),
            DefaultIpv6Settings = new Dictionary<string, string> { ["accept_ra"] = "1", ["disable_ipv6"] = "0" },
        };
        live = live with { Links = [live.Links[0] with { Ipv6Settings = new Dictionary<string, string> { ["accept_ra"] = "0", ["disable_ipv6"] = "0" } }] };
        using var scratch = new ScratchRoot();
        var plan = BridgePlanner.Plan(Request(), scratch.Root, new NetworkScriptsConfig(scratch.Root), live, null);
        var commands = IpRouteBridge.Commands(plan.Settings, plan.Live!).Select(IpRouteBridge.Show).ToList();
        Assert.Contains("sysctl -w net/ipv6/conf/br0/accept_ra=0", commands);
        Assert.DoesNotContain(commands, c => c.Contains("disable_ipv6", StringComparison.Ordinal));
        Assert.True(commands.IndexOf("sysctl -w net/ipv6/conf/br0/accept_ra=0") < commands.IndexOf("ip link set dev br0 up"));
        Assert.Contains("ip route del 10.99.0.0/16 via 192.168.0.253 dev eth0 table 100", commands);
        Assert.Contains("ip route replace 10.99.0.0/16 via 192.168.0.253 dev br0 table 100", commands);
        Assert.Contains("ip address add 192.168.0.18/24 dev br0 noprefixroute", commands);
        Assert.Contains("ip route replace 192.168.0.0/24 dev br0 metric 77", commands);
        Assert.Contains("ip route replace default via 192.168.0.1 dev br0 metric 77", commands);
        Assert.Contains("ip rule del priority 1001 from all iif eth0 lookup 100", commands);
        Assert.Contains("ip rule add priority 1001 from all iif br0 lookup 100", commands);
        Assert.DoesNotContain(commands, c => c.Contains("priority 32766", StringComparison.Ordinal));
    }
}
