using KvmHost.Core.Bridge;
using Xunit;

namespace KvmHost.Core.Tests.Bridge;

public class LiveNetworkStateTests
{
    private static string Fixture(string name) => File.ReadAllText(ScratchRoot.Fixture("ipjson/" + name));

    [Fact]
    public void Reads_links_addresses_and_routes_from_ip_json()
    {
        var state = LiveNetworkState.Parse(Fixture("netlab-kvmt0-address.json"), Fixture("netlab-kvmt0-route4.json"), Fixture("netlab-kvmt0-route6.json"));
        var nic = state.Link("kvmt0")!;
        Assert.Equal("veth", nic.Kind);
        Assert.True(nic.Up);
        Assert.Null(nic.Master);
        Assert.Equal(["192.0.2.10/24", "2001:db8::10/64"], nic.Addresses.Where(a => a.IsGlobal).Select(a => a.Cidr.ToString()));
        var defaults = state.RoutesVia("kvmt0").Where(r => r.IsDefault).ToList();
        Assert.Equal(["192.0.2.1", "2001:db8::1"], defaults.Select(r => r.Gateway));
        Assert.Equal(1024, defaults.Single(r => r.IPv6).Metric);
        Assert.All(state.RoutesVia("kvmt0").Where(r => !r.IsDefault), r => Assert.True(r.FollowsAddress));
    }

    [Fact]
    public void Sees_a_bridge_and_its_port()
    {
        var state = LiveNetworkState.Parse(Fixture("netlab-br9-port-kvmt0-address.json"), "[]", "[]");
        Assert.True(state.Link("br9")!.IsBridge);
        Assert.Equal("br9", state.Link("kvmt0")!.Master);
        Assert.Equal(["kvmt0"], state.PortsOf("br9").Select(l => l.Name));
    }
}
