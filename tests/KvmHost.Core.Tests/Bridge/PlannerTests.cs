using KvmHost.Core.Bridge;
using KvmHost.Core.Platform;
using Xunit;

namespace KvmHost.Core.Tests.Bridge;

public class PlannerTests
{
    private static LiveNetworkState Lab() => LiveNetworkState.Parse(
        File.ReadAllText(ScratchRoot.Fixture("ipjson/netlab-kvmt0-address.json")),
        File.ReadAllText(ScratchRoot.Fixture("ipjson/netlab-kvmt0-route4.json")),
        File.ReadAllText(ScratchRoot.Fixture("ipjson/netlab-kvmt0-route6.json")));

    private static BridgeRequest Request(string[]? addresses = null, string? gateway = null, bool dhcp = false) =>
        BridgeRequest.Create("br0", "kvmt0", addresses, gateway, null, dhcp, null, null, null, null);

    [Fact]
    public void Live_defaults_move_addresses_routes_and_mac_and_probe_the_gateways()
    {
        using var scratch = new ScratchRoot().Put("/etc/resolv.conf", "nameserver 127.0.0.53\nnameserver 192.0.2.53\n");
        var plan = BridgePlanner.Plan(Request(), scratch.Root, new NetworkScriptsConfig(scratch.Root), Lab(), "192.0.2.99 50000 192.0.2.10 22");
        Assert.Equal(["192.0.2.10/24", "2001:db8::10/64"], plan.Settings.Ip.Addresses.Select(a => a.ToString()));
        Assert.Equal("192.0.2.1", plan.Settings.Ip.Gateway!.ToString());
        Assert.Equal("2001:db8::1", plan.Settings.Ip.Gateway6!.ToString());
        Assert.Equal(["192.0.2.53"], plan.Settings.Ip.DnsServers.Select(d => d.ToString()));
        Assert.NotNull(plan.Settings.Ip.MacAddress);
        Assert.Equal(["192.0.2.1", "2001:db8::1"], plan.Live!.ProbeTargets.Select(p => p.ToString()));
        Assert.Equal(2, plan.Risks.Count); // default route and this SSH session
        var commands = IpRouteBridge.Commands(plan.Settings, plan.Live).Select(IpRouteBridge.Show).ToList();
        Assert.Equal("ip link add name br0 type bridge stp_state 0", commands[0]);
        Assert.Contains("ip link set dev kvmt0 master br0", commands);
        Assert.Contains("ip route replace default via 192.0.2.1 dev br0", commands);
        Assert.True(commands.IndexOf("ip address del 192.0.2.10/24 dev kvmt0") < commands.IndexOf("ip address add 192.0.2.10/24 dev br0"));
    }

    [Fact]
    public void Offline_defaults_come_from_the_nics_ifcfg_and_the_port_loses_its_ip_settings()
    {
        using var scratch = new ScratchRoot().Put("/etc/sysconfig/network-scripts/ifcfg-eth0",
            "# installer\nDEVICE=eth0\nTYPE=Ethernet\nHWADDR=52:54:00:12:34:56\nBOOTPROTO=none\nIPADDR=192.168.0.18\nNETMASK=255.255.255.0\nGATEWAY=192.168.0.1\nDNS1=192.168.0.1\nDNS2=9.9.9.9\nONBOOT=yes\nETHTOOL_OPTS=\"-K eth0 gro off\"\n");
        var request = BridgeRequest.Create("br0", "eth0", null, null, null, false, null, null, null, null);
        var plan = BridgePlanner.Plan(request, scratch.Root, new NetworkScriptsConfig(scratch.Root), null, null);
        Assert.Null(plan.Live);
        var bridge = plan.Files.Single(f => f.File.Purpose == "bridge").File.Content;
        // The NIC's layer 3 lines move as they were (NETMASK stays NETMASK: network-scripts reads them as it read them for the NIC).
        Assert.Equal("DEVICE=br0\nTYPE=Bridge\nBOOTPROTO=none\nIPADDR=192.168.0.18\nNETMASK=255.255.255.0\nGATEWAY=192.168.0.1\nDNS1=192.168.0.1\nDNS2=9.9.9.9\n"
            + "MACADDR=52:54:00:12:34:56\nSTP=no\nONBOOT=yes\nNM_CONTROLLED=no\n", bridge);
        var port = plan.Files.Single(f => f.File.Purpose == "port").File.Content;
        Assert.Equal("# installer\nDEVICE=eth0\nTYPE=Ethernet\nHWADDR=52:54:00:12:34:56\nONBOOT=yes\nETHTOOL_OPTS=\"-K eth0 gro off\"\nBRIDGE=br0\nNM_CONTROLLED=no\n", port);
    }

    [Fact]
    public void NetworkManager_files_use_the_legacy_names_on_old_versions_and_the_new_ones_on_new()
    {
        using var scratch = new ScratchRoot();
        var request = BridgeRequest.Create("br0", "eth0", ["192.168.0.18/24"], "192.168.0.1", ["192.168.0.1"], false, null, null, null, null);
        var legacy = BridgePlanner.Plan(request, scratch.Root, new NetworkManagerConfig(scratch.Root, false), null, null);
        string port = legacy.Files.Single(f => f.File.Purpose == "port").File.Content!;
        Assert.Contains("\nmaster=br0\nslave-type=bridge\n", port);
        Assert.Contains("autoconnect-slaves=1", legacy.Files.Single(f => f.File.Purpose == "bridge").File.Content);
        var modern = BridgePlanner.Plan(request, scratch.Root, new NetworkManagerConfig(scratch.Root, true), null, null);
        Assert.Contains("\ncontroller=br0\ninterface-name=eth0\nport-type=bridge\n", modern.Files.Single(f => f.File.Purpose == "port").File.Content);
        Assert.All(modern.Files, f => Assert.Equal(Modes.SecretFile, f.File.Mode));
        Assert.Equal("[connection]\nid=br0\nuuid=" + NetworkManagerConfig.StableUuid("br0") + "\ntype=bridge\nautoconnect-ports=1\ninterface-name=br0\n\n[ethernet]\n\n"
            + "[bridge]\nstp=false\n\n[ipv4]\naddress1=192.168.0.18/24\ndns=192.168.0.1;\ngateway=192.168.0.1\nmethod=manual\n\n[ipv6]\nmethod=ignore\n",
            modern.Files.Single(f => f.File.Purpose == "bridge").File.Content);
    }

    [Fact]
    public void The_nics_own_keyfile_is_kept_but_stops_autoconnecting()
    {
        using var scratch = new ScratchRoot().PutFixture("/etc/NetworkManager/system-connections/wired.nmconnection", "keyfile/nm-writer-Test_Write_Wired.nmconnection");
        File.AppendAllText(scratch.HostPath("/etc/NetworkManager/system-connections/wired.nmconnection"), "");
        string text = scratch.Read("/etc/NetworkManager/system-connections/wired.nmconnection").Replace("type=ethernet\n", "type=ethernet\ninterface-name=eth0\n");
        scratch.Put("/etc/NetworkManager/system-connections/wired.nmconnection", text);
        var request = BridgeRequest.Create("br0", "eth0", null, null, null, false, null, null, null, null);
        var plan = BridgePlanner.Plan(request, scratch.Root, new NetworkManagerConfig(scratch.Root, false), null, null);
        Assert.Equal(["192.168.0.5/24", "1.2.3.4/8", "abcd::beef/64", "dcba::beef/56"], plan.Settings.Ip.Addresses.Select(a => a.ToString()));
        Assert.Equal(4, plan.Settings.Ip.DnsServers.Count);
        var disabled = plan.Files.Single(f => f.File.Purpose.StartsWith("previous", StringComparison.Ordinal));
        // The profile says autoconnect=false already: the one-line edit leaves it exactly as it is.
        Assert.Equal(text, disabled.File.Content);
        Assert.False(disabled.Changes);
        Assert.Contains("route4=3.3.3.3/6,0.0.0.0,4\nroute4_options=cwnd=10,mtu=1492,src=1.2.3.4,weight=5\n", disabled.File.Content);
    }

    [Fact]
    public void A_different_bridge_with_the_same_name_is_a_conflict_not_an_overwrite()
    {
        using var scratch = new ScratchRoot().PutFixture("/etc/sysconfig/network-scripts/ifcfg-br0", "ifcfg/initscripts-example-ifcfg-br0");
        var request = BridgeRequest.Create("br0", "eth1", ["192.168.7.1/24"], null, null, false, null, null, null, null);
        var e = Assert.Throws<KvmHostException>(() => BridgePlanner.Plan(request, scratch.Root, new NetworkScriptsConfig(scratch.Root), null, null));
        Assert.Equal(ErrorIds.BridgeConflict, e.ErrorId);
    }

    [Fact]
    public void A_nic_that_is_port_of_another_bridge_is_a_conflict()
    {
        using var scratch = new ScratchRoot()
            .PutFixture("/etc/sysconfig/network-scripts/ifcfg-br0", "ifcfg/initscripts-example-ifcfg-br0")
            .PutFixture("/etc/sysconfig/network-scripts/ifcfg-eth1", "ifcfg/initscripts-example-ifcfg-eth1-bridge-port");
        var request = BridgeRequest.Create("br1", "eth1", ["192.168.7.1/24"], null, null, false, null, null, null, null);
        var e = Assert.Throws<KvmHostException>(() => BridgePlanner.Plan(request, scratch.Root, new NetworkScriptsConfig(scratch.Root), null, null));
        Assert.Equal(ErrorIds.BridgeConflict, e.ErrorId);
    }

    [Fact]
    public void A_missing_nic_on_the_live_host_is_refused()
    {
        using var scratch = new ScratchRoot();
        var request = BridgeRequest.Create("br0", "nosuch0", ["192.0.2.10/24"], null, null, false, null, null, null, null);
        var e = Assert.Throws<KvmHostException>(() => BridgePlanner.Plan(request, scratch.Root, new NetworkScriptsConfig(scratch.Root), Lab(), null));
        Assert.Equal(ErrorIds.InterfaceNotFound, e.ErrorId);
    }

    [Fact]
    public void NetworkManager_refuses_a_forward_delay_below_two_seconds()
    {
        using var scratch = new ScratchRoot();
        var request = BridgeRequest.Create("br0", "eth0", ["10.0.0.2/24"], null, null, false, true, 0, null, null);
        var e = Assert.Throws<KvmHostException>(() => BridgePlanner.Plan(request, scratch.Root, new NetworkManagerConfig(scratch.Root, false), null, null));
        Assert.Equal(ErrorIds.InvalidBridgeOption, e.ErrorId);
    }

    [Fact]
    public void Stable_uuids_are_version_5_and_differ_per_profile()
    {
        string a = NetworkManagerConfig.StableUuid("br0"), b = NetworkManagerConfig.StableUuid("br0-port-eth0");
        Assert.NotEqual(a, b);
        Assert.Equal('5', a[14]);
        Assert.True(Guid.TryParse(a, out _));
    }
}
