using KvmHost.Core.Sysctl;
using Xunit;

namespace KvmHost.Core.Tests.Sysctl;

public class SysctlBootOrderTests
{
    private const string IPv4 = "net/ipv4/ip_forward";
    private const string IPv6 = "net/ipv6/conf/all/forwarding";

    /// <summary>A RHEL 7 layout from real files: vendor 00-system and 50-default, /etc/sysctl.conf through 99-sysctl.conf.</summary>
    private static ScratchRoot Rhel7(string sysctlConf)
    {
        var scratch = new ScratchRoot()
            .PutFixture("/usr/lib/sysctl.d/00-system.conf", "sysctl/rhel7-usr-lib-sysctl.d-00-system.conf")
            .PutFixture("/usr/lib/sysctl.d/50-default.conf", "sysctl/rhel7.6-usr-lib-sysctl.d-50-default.conf")
            .Put("/etc/sysctl.conf", sysctlConf)
            .Dir("/etc/sysctl.d");
        File.CreateSymbolicLink(scratch.HostPath("/etc/sysctl.d/99-sysctl.conf"), "../sysctl.conf");
        return scratch;
    }

    private static SysctlBootValue Boot(ScratchRoot scratch, string key, Dictionary<string, string>? planned = null) =>
        new SysctlBootOrder(scratch.Root, planned).Evaluate([key])[key];

    [Fact]
    public void Etc_sysctl_conf_counts_through_its_99_link_and_beats_a_90_drop_in()
    {
        using var scratch = Rhel7("net.ipv4.ip_forward = 0\n").Put("/etc/sysctl.d/90-kvmhost-forwarding.conf", "net.ipv4.ip_forward = 1\n");
        var boot = Boot(scratch, IPv4);
        Assert.Equal("0", boot.Value);
        Assert.Equal("/etc/sysctl.conf", boot.Source!.RealPath);
        Assert.Equal("/etc/sysctl.d/99-sysctl.conf", boot.Source.ListedPath);
        Assert.Equal(1, boot.LineNumber);
    }

    [Fact]
    public void Without_the_99_link_etc_sysctl_conf_is_not_read_at_boot()
    {
        using var scratch = Rhel7("net.ipv4.ip_forward = 0\n").Put("/etc/sysctl.d/90-kvmhost-forwarding.conf", "net.ipv4.ip_forward = 1\n");
        File.Delete(scratch.HostPath("/etc/sysctl.d/99-sysctl.conf"));
        var order = new SysctlBootOrder(scratch.Root);
        Assert.Null(order.SourceFor("/etc/sysctl.conf"));
        Assert.Equal("1", order.Evaluate([IPv4])[IPv4].Value);
    }

    [Fact]
    public void Files_are_read_by_name_across_directories_and_etc_hides_the_same_name_in_usr_lib()
    {
        using var scratch = Rhel7("")
            .Put("/usr/lib/sysctl.d/95-vendor.conf", "net.ipv4.ip_forward = 0\n")
            .Put("/run/sysctl.d/60-run.conf", "net.ipv4.ip_forward = 1\n");
        Assert.Equal("/usr/lib/sysctl.d/95-vendor.conf", Boot(scratch, IPv4).Source!.ListedPath);

        scratch.Put("/etc/sysctl.d/95-vendor.conf", "# replaces the vendor file of the same name\n");
        var boot = Boot(scratch, IPv4);
        Assert.Equal("1", boot.Value);
        Assert.Equal("/run/sysctl.d/60-run.conf", boot.Source!.RealPath);
    }

    [Fact]
    public void A_link_to_dev_null_in_etc_masks_the_vendor_file()
    {
        using var scratch = Rhel7("").Put("/usr/lib/sysctl.d/95-vendor.conf", "net.ipv4.ip_forward = 1\n");
        File.CreateSymbolicLink(scratch.HostPath("/etc/sysctl.d/95-vendor.conf"), "/dev/null");
        Assert.False(Boot(scratch, IPv4).IsSet);
    }

    [Fact]
    public void The_globs_and_dash_keys_of_rhel_9_50_default_do_not_touch_forwarding()
    {
        using var scratch = new ScratchRoot()
            .PutFixture("/usr/lib/sysctl.d/50-default.conf", "sysctl/rhel9.6-usr-lib-sysctl.d-50-default.conf")
            .Put("/etc/sysctl.d/90-kvmhost-forwarding.conf", "net.ipv4.ip_forward = 1\n");
        var order = new SysctlBootOrder(scratch.Root);
        var values = order.Evaluate([IPv4, "net/ipv4/conf/eth0/rp_filter", "net/ipv4/conf/all/rp_filter"]);
        Assert.Equal("1", values[IPv4].Value);
        Assert.Equal("2", values["net/ipv4/conf/eth0/rp_filter"].Value);
        Assert.Equal("net.ipv4.conf.*.rp_filter", values["net/ipv4/conf/eth0/rp_filter"].Pattern);
        // "-net.ipv4.conf.all.rp_filter" keeps the glob away from "all": boot leaves it alone.
        Assert.False(values["net/ipv4/conf/all/rp_filter"].IsSet);
    }

    [Fact]
    public void An_explicit_key_beats_a_later_glob_but_a_glob_alone_decides()
    {
        using var scratch = Rhel7("")
            .Put("/etc/sysctl.d/90-kvmhost-forwarding.conf", "net.ipv6.conf.all.forwarding = 1\n")
            .Put("/etc/sysctl.d/95-globs.conf", "net.ipv6.conf.*.forwarding = 0\n");
        Assert.Equal("1", Boot(scratch, IPv6).Value);

        File.Delete(scratch.HostPath("/etc/sysctl.d/90-kvmhost-forwarding.conf"));
        var boot = Boot(scratch, IPv6);
        Assert.Equal("0", boot.Value);
        Assert.Equal("net.ipv6.conf.*.forwarding", boot.Pattern);
    }

    [Fact]
    public void A_later_dash_key_without_a_value_cancels_the_assignment()
    {
        using var scratch = Rhel7("-net.ipv4.ip_forward\n").Put("/etc/sysctl.d/90-kvmhost-forwarding.conf", "net.ipv4.ip_forward = 1\n");
        var boot = Boot(scratch, IPv4);
        Assert.False(boot.IsSet);
        Assert.Equal("/etc/sysctl.conf", boot.Source!.RealPath);
    }

    [Fact]
    public void The_same_value_later_keeps_the_earlier_file_as_the_source_like_systemd()
    {
        using var scratch = Rhel7("net/ipv4/ip_forward=1\n").Put("/etc/sysctl.d/90-kvmhost-forwarding.conf", "net.ipv4.ip_forward = 1\n");
        Assert.Equal("/etc/sysctl.d/90-kvmhost-forwarding.conf", Boot(scratch, IPv4).Source!.RealPath);
    }

    [Fact]
    public void Planned_content_counts_as_written_including_a_file_that_does_not_exist_yet()
    {
        using var scratch = Rhel7("# nothing\n");
        var planned = new Dictionary<string, string> { ["/etc/sysctl.d/90-kvmhost-forwarding.conf"] = "net.ipv4.ip_forward = 1\n" };
        Assert.Equal("1", Boot(scratch, IPv4, planned).Value);
        Assert.False(Boot(scratch, IPv4).IsSet);
        Assert.False(File.Exists(scratch.HostPath("/etc/sysctl.d/90-kvmhost-forwarding.conf")));
    }
}
