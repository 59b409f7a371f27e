using KvmHost.Core.Platform;
using KvmHost.Core.Sysctl;
using Xunit;

namespace KvmHost.Core.Tests.Sysctl;

public class ForwardingPlannerTests
{
    private static ForwardingPlanner Planner(ScratchRoot scratch) => new(scratch.Image);

    private static ScratchRoot WithOldSysctlConf()
    {
        var scratch = new ScratchRoot()
            .PutFixture("/usr/lib/sysctl.d/50-default.conf", "sysctl/rhel9.6-usr-lib-sysctl.d-50-default.conf")
            .Put("/etc/sysctl.conf", "# RHEL 6 era\nnet.ipv4.ip_forward = 0\n")
            .Dir("/etc/sysctl.d");
        File.CreateSymbolicLink(scratch.HostPath("/etc/sysctl.d/99-sysctl.conf"), "../sysctl.conf");
        return scratch;
    }

    [Fact]
    public void A_scratch_root_plans_only_files_and_never_the_running_kernel()
    {
        using var scratch = new ScratchRoot();
        var plan = Planner(scratch).Plan(new ForwardingRequest { Families = [ForwardingFamily.IPv4, ForwardingFamily.IPv6] });
        Assert.Empty(plan.RuntimeWrites);
        var file = Assert.Single(plan.Files);
        Assert.Equal(ForwardingPlanner.DefaultDropIn, file.Path);
        Assert.True(file.Creates);
        Assert.Contains("net.ipv4.ip_forward = 1\nnet.ipv6.conf.all.forwarding = 1\n", file.NewText);
        Assert.All(plan.After, s => Assert.False(s.RuntimeApplied));
        Assert.All(plan.After, s => Assert.Null(s.RuntimeValue));
        Assert.False(File.Exists(scratch.HostPath(ForwardingPlanner.DefaultDropIn)));
    }

    [Fact]
    public void An_older_sysctl_conf_that_wins_at_boot_is_reported_not_hidden()
    {
        using var scratch = WithOldSysctlConf();
        var plan = Planner(scratch).Plan(new ForwardingRequest { Families = [ForwardingFamily.IPv4] });
        var state = Assert.Single(plan.After);
        Assert.True(state.Overridden);
        Assert.Equal(0, state.PersistentValue);
        Assert.Equal(1, state.ConfiguredValue);
        Assert.Equal("/etc/sysctl.conf", state.EffectiveFile);
        Assert.Equal("/etc/sysctl.d/99-sysctl.conf", state.EffectiveEntry);
        Assert.Contains(state.Warnings, w => w.Contains("/etc/sysctl.conf line 2", StringComparison.Ordinal));
    }

    [Fact]
    public void ResolveConflict_edits_the_overriding_line_in_place_and_then_the_drop_in_wins()
    {
        using var scratch = WithOldSysctlConf();
        var plan = Planner(scratch).Plan(new ForwardingRequest { Families = [ForwardingFamily.IPv4], ResolveConflict = true });
        var edit = Assert.Single(plan.Files, f => f.Path == "/etc/sysctl.conf");
        Assert.Equal("# RHEL 6 era\nnet.ipv4.ip_forward = 1\n", edit.NewText);
        var state = Assert.Single(plan.After);
        Assert.False(state.Overridden);
        Assert.Equal(1, state.PersistentValue);
        Assert.Empty(state.Warnings);
    }

    [Fact]
    public void ResolveConflict_refuses_to_edit_a_vendor_file_and_plans_nothing()
    {
        using var scratch = new ScratchRoot().Put("/usr/lib/sysctl.d/99-vendor.conf", "net.ipv4.ip_forward = 0\n");
        var e = Assert.Throws<KvmHostException>(() =>
            Planner(scratch).Plan(new ForwardingRequest { Families = [ForwardingFamily.IPv4], ResolveConflict = true }));
        Assert.Equal(ErrorIds.SysctlConflictNotResolvable, e.ErrorId);
        Assert.Contains("/etc/sysctl.d/99-vendor.conf", e.Hint);
    }

    [Fact]
    public void Writing_etc_sysctl_conf_as_the_RHEL_7_procedure_does_edits_its_line_and_it_wins_through_the_link()
    {
        using var scratch = WithOldSysctlConf();
        var plan = Planner(scratch).Plan(new ForwardingRequest { Families = [ForwardingFamily.IPv4], ConfigurationFile = "/etc/sysctl.conf" });
        var state = Assert.Single(plan.After);
        Assert.Equal("/etc/sysctl.conf", Assert.Single(plan.Files).Path);
        Assert.True(state.ConfigurationFileLoadedAtBoot);
        Assert.False(state.Overridden);
        Assert.Equal(1, state.PersistentValue);
    }

    [Fact]
    public void A_file_boot_never_reads_is_a_warning()
    {
        using var scratch = new ScratchRoot().Put("/etc/sysctl.conf", "");
        var plan = Planner(scratch).Plan(new ForwardingRequest { Families = [ForwardingFamily.IPv4], ConfigurationFile = "/etc/sysctl.conf" });
        var state = Assert.Single(plan.After);
        Assert.False(state.ConfigurationFileLoadedAtBoot);
        Assert.True(state.Overridden);
        Assert.Contains(state.Warnings, w => w.Contains("not read at boot", StringComparison.Ordinal));
    }

    [Fact]
    public void Applying_writes_through_the_99_link_and_keeps_the_link()
    {
        using var scratch = WithOldSysctlConf();
        var planner = Planner(scratch);
        var plan = planner.Plan(new ForwardingRequest { Families = [ForwardingFamily.IPv4], ConfigurationFile = "/etc/sysctl.d/99-sysctl.conf" });
        planner.Apply(plan, new AtomicFileWriter(scratch.Root), _ => true, _ => true);
        Assert.Equal("# RHEL 6 era\nnet.ipv4.ip_forward = 1\n", scratch.Read("/etc/sysctl.conf"));
        Assert.NotNull(new FileInfo(scratch.HostPath("/etc/sysctl.d/99-sysctl.conf")).LinkTarget);
        Assert.True(planner.Plan(new ForwardingRequest { Families = [ForwardingFamily.IPv4], ConfigurationFile = "/etc/sysctl.conf" }).IsEmpty);
    }

    [Theory]
    [InlineData("../../../etc")]
    [InlineData("br0 ")]
    [InlineData("a-name-longer-than-15")]
    public void An_uplink_that_is_not_an_interface_name_is_refused(string uplink)
    {
        using var scratch = new ScratchRoot();
        var e = Assert.Throws<KvmHostException>(() =>
            Planner(scratch).Plan(new ForwardingRequest { Families = [ForwardingFamily.IPv6], Uplink = uplink }));
        Assert.Equal(ErrorIds.ForwardingUplinkInvalid, e.ErrorId);
    }

    [Theory]
    [InlineData("etc/sysctl.conf", ErrorIds.SysctlPathInvalid)]
    [InlineData("/etc/../../outside.conf", ErrorIds.PathEscapesRoot)]
    [InlineData("/etc/sysctl.d", ErrorIds.NotADirectory)]
    [InlineData("/etc/binary.conf", ErrorIds.FileNotText)]
    [InlineData("/etc/passwd", ErrorIds.SysctlPathInvalid)]
    [InlineData("/etc/resolv.conf", ErrorIds.SysctlPathInvalid)]
    [InlineData("/etc/sysctl.d/a\nb.conf", ErrorIds.SysctlPathInvalid)]
    [InlineData("/etc/sysctl.d/90-forwarding.txt", ErrorIds.SysctlPathInvalid)]
    [InlineData("/etc/sysctl.d/../../tmp/x.conf", ErrorIds.SysctlPathInvalid)]
    public void Bad_paths_fail_before_anything_is_planned(string path, string errorId)
    {
        using var scratch = new ScratchRoot().Dir("/etc/sysctl.d");
        File.WriteAllBytes(scratch.HostPath("/etc/binary.conf"), [0x7f, 0x45, 0x4c, 0x46, 0, 0, 1]);
        var e = Assert.Throws<KvmHostException>(() =>
            Planner(scratch).Plan(new ForwardingRequest { Families = [ForwardingFamily.IPv4], ConfigurationFile = path }));
        Assert.Equal(errorId, e.ErrorId);
    }
}
