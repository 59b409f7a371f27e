using KvmHost.Core.Sysctl;
using Xunit;

namespace KvmHost.Core.Tests.Sysctl;

public class SysctlKeyTests
{
    [Theory]
    [InlineData("net.ipv4.ip_forward", "net/ipv4/ip_forward")]
    [InlineData("net/ipv4/ip_forward", "net/ipv4/ip_forward")]
    [InlineData("  net.ipv6.conf.all.forwarding ", "net/ipv6/conf/all/forwarding")]
    [InlineData("net.ipv4.conf.enp3s0/200.forwarding", "net/ipv4/conf/enp3s0.200/forwarding")]
    [InlineData("net/ipv4/conf/enp3s0.200/forwarding", "net/ipv4/conf/enp3s0.200/forwarding")]
    public void Both_spellings_of_sysctl_d_5_normalize_to_the_proc_sys_path(string name, string expected) =>
        Assert.Equal(expected, SysctlKey.Normalize(name));

    [Fact]
    public void The_dotted_form_swaps_back() =>
        Assert.Equal("net.ipv4.conf.enp3s0/200.forwarding", SysctlKey.ToDotted("net/ipv4/conf/enp3s0.200/forwarding"));

    [Theory]
    [InlineData("net/ipv6/conf/*/forwarding", "net/ipv6/conf/all/forwarding", true)]
    [InlineData("net/ipv4/conf/*/rp_filter", "net/ipv4/ip_forward", false)]
    [InlineData("net/*/ip_forward", "net/ipv4/ip_forward", true)]
    [InlineData("net/*", "net/ipv4/ip_forward", false)] // "*" never crosses a "/"
    [InlineData("net/ipv[46]/ip_forward", "net/ipv4/ip_forward", true)]
    [InlineData("net/ipv[!4]/ip_forward", "net/ipv4/ip_forward", false)]
    [InlineData("net/ipv?/ip_forward", "net/ipv4/ip_forward", true)]
    public void Globs_match_like_glob_7_on_proc_sys_paths(string pattern, string key, bool matches)
    {
        Assert.True(SysctlKey.IsGlob(pattern));
        Assert.Equal(matches, SysctlKey.GlobMatches(pattern, key));
    }
}
