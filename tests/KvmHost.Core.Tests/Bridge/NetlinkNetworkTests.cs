using KvmHost.Core.Bridge;
using KvmHost.Core.Platform;
using KvmHost.Core.Sysctl;
using KvmHost.Core.Tests.Packages;
using Xunit;

namespace KvmHost.Core.Tests.Bridge;

/// <summary>
/// The in-process rtnetlink reader against iproute2 on this machine's own network namespace (read only): both must
/// describe every link, address and route the same way. tests/NetworkReaders.Tests.ps1 does the same in a namespace
/// lab with bridges, ports, policy tables, IPv6 and noprefixroute addresses.
/// </summary>
public sealed class NetlinkNetworkTests
{
    [Fact]
    public void Netlink_reads_this_namespace_exactly_as_iproute2_prints_it()
    {
        var runner = new CommandRunner();
        var reader = new LiveNetworkReader(runner, new KernelParameters());
        // Other tests create and move interfaces while this runs: a difference must survive three reads to count.
        (string[] Ip, string[] Netlink) last = ([], []);
        for (int attempt = 0; attempt < 3; attempt++)
        {
            var netlink = LiveNetworkReader.TryNetlink();
            Assert.NotNull(netlink);
            last = (Describe(reader.ReadWithIp(CancellationToken.None)), Describe(netlink));
            if (last.Ip.SequenceEqual(last.Netlink)) break;
        }
        Assert.Equal(last.Ip, last.Netlink);
        Assert.Contains(last.Netlink, line => line.StartsWith("link lo ", StringComparison.Ordinal));
    }

    [Fact]
    public void Policy_rules_are_read_only_when_first_asked()
    {
        var runner = new ScriptedRunner().On("ip", "rule", 0, "0:\tfrom all lookup local\n32766:\tfrom all lookup main\n");
        var state = HostSystem.LiveThrough(runner, CancellationToken.None).Running!.ReadNetwork();
        Assert.DoesNotContain(runner.Requests, r => r.Program == "ip");
        Assert.Equal(4, state.Rules.Count); // two from each family's "ip rule show"
        Assert.Equal(2, runner.Requests.Count(r => r.Program == "ip"));
        _ = state.Rules;
        Assert.Equal(2, runner.Requests.Count(r => r.Program == "ip"));
    }

    internal static string[] Describe(LiveNetworkState state) =>
    [
        .. state.Links.Select(l => $"link {l.Name} kind={l.Kind} mac={l.MacAddress} perm={l.PermanentMacAddress} mtu={l.Mtu} up={l.Up} master={l.Master} "
            + string.Join(' ', l.Addresses.Select(a => $"{a.Cidr}/{a.Scope}/dynamic={a.Dynamic}/noprefixroute={a.NoPrefixRoute}"))),
        .. state.Routes.Select(r => $"route v6={r.IPv6} {r.Destination} via={r.Gateway} dev={r.Device} proto={r.Protocol} metric={r.Metric} scope={r.Scope} src={r.PreferredSource} table={r.Table}"),
    ];
}
