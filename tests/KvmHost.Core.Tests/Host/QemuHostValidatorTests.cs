using KvmHost.Core.Host;
using KvmHost.Core.Platform;
using Xunit;

namespace KvmHost.Core.Tests.Host;

public class QemuHostValidatorTests
{
    private static HostCheck Find(IEnumerable<HostCheck> checks, string name) => Assert.Single(checks, c => c.Name == name);

    [Fact]
    public void Missing_tun_fails_and_missing_vhost_net_only_warns()
    {
        using var scratch = new ScratchRoot().Dir("/dev");
        var checks = QemuHostValidator.Validate(scratch.Root);
        Assert.Equal(CheckResult.Fail, Find(checks, "/dev/net/tun exists").Result);
        Assert.Equal(CheckResult.Warn, Find(checks, "/dev/vhost-net exists").Result);
        scratch.Put("/dev/net/tun", "").Put("/dev/vhost-net", "");
        checks = QemuHostValidator.Validate(scratch.Root);
        Assert.Equal(CheckResult.Pass, Find(checks, "/dev/net/tun exists").Result);
        Assert.Equal(CheckResult.Pass, Find(checks, "/dev/vhost-net exists").Result);
    }

    [Fact]
    public void Cgroup_v2_maps_cpuacct_to_cpu_and_blkio_to_io()
    {
        using var scratch = new ScratchRoot().Put("/sys/fs/cgroup/cgroup.controllers", "cpuset cpu io memory hugetlb pids rdma misc\n");
        var checks = QemuHostValidator.CgroupChecks(scratch.Root).ToList();
        Assert.Equal(6, checks.Count);
        Assert.All(checks, c => Assert.Equal(CheckResult.Pass, c.Result));
        Assert.Contains("'io'", Find(checks, "cgroup 'blkio' controller").Detail);
    }

    [Fact]
    public void Cgroup_v2_without_memory_warns_with_a_hint()
    {
        using var scratch = new ScratchRoot().Put("/sys/fs/cgroup/cgroup.controllers", "cpuset cpu io pids\n");
        var memory = Find(QemuHostValidator.CgroupChecks(scratch.Root), "cgroup 'memory' controller");
        Assert.Equal(CheckResult.Warn, memory.Result);
        Assert.NotNull(memory.Hint);
    }

    [Fact]
    public void Cgroup_v1_needs_the_controller_enabled_and_mounted()
    {
        using var scratch = new ScratchRoot()
            .Put("/proc/cgroups", "#subsys_name\thierarchy\tnum_cgroups\tenabled\ncpuset\t2\t1\t1\ncpu\t3\t1\t1\ncpuacct\t3\t1\t1\nblkio\t4\t1\t1\nmemory\t5\t1\t1\ndevices\t6\t1\t0\n")
            .Put("/proc/self/mountinfo",
                "30 25 0:26 / /sys/fs/cgroup/cpu,cpuacct rw,nosuid shared:9 - cgroup cgroup rw,cpu,cpuacct\n" +
                "31 25 0:27 / /sys/fs/cgroup/cpuset rw shared:10 - cgroup cgroup rw,cpuset\n" +
                "32 25 0:28 / /sys/fs/cgroup/memory rw shared:11 - cgroup cgroup rw,memory\n");
        var checks = QemuHostValidator.CgroupChecks(scratch.Root).ToList();
        Assert.Equal(CheckResult.Pass, Find(checks, "cgroup 'cpuacct' controller").Result);
        Assert.Equal(CheckResult.Pass, Find(checks, "cgroup 'memory' controller").Result);
        Assert.Equal(CheckResult.Warn, Find(checks, "cgroup 'devices' controller").Result);
        Assert.Contains("not mounted", Find(checks, "cgroup 'blkio' controller").Detail);
    }

    [Fact]
    public void Iommu_needs_an_acpi_table_and_populated_groups()
    {
        using var scratch = new ScratchRoot().Put("/proc/cmdline", "BOOT_IMAGE=/vmlinuz ro quiet\n").Put("/sys/firmware/acpi/tables/DMAR", "x");
        var checks = QemuHostValidator.IommuChecks(scratch.Root).ToList();
        Assert.Equal(CheckResult.Pass, Find(checks, "Device assignment IOMMU support").Result);
        var kernel = Find(checks, "IOMMU enabled by kernel");
        Assert.Equal(CheckResult.Warn, kernel.Result);
        Assert.Contains("intel_iommu=on", kernel.Hint);
        using var amd = new ScratchRoot().PutFixture("/proc/cpuinfo", "cpuinfo/amd-epyc-7451-2s-svm.txt");
        Assert.Contains("amd_iommu=on", Find(QemuHostValidator.IommuChecks(amd.Root), "IOMMU enabled by kernel").Hint);
        scratch.Dir("/sys/kernel/iommu_groups/0");
        Assert.Equal(CheckResult.Pass, Find(QemuHostValidator.IommuChecks(scratch.Root), "IOMMU enabled by kernel").Result);
    }

    [Theory]
    [InlineData(DistroFamily.Debian, "GRUB_CMDLINE_LINUX in /etc/default/grub, run update-grub", "grubby")]
    [InlineData(DistroFamily.RedHat, "grubby --update-kernel=ALL --args='intel_iommu=on iommu=pt'", "update-grub")]
    [InlineData(DistroFamily.Fedora, "grubby --update-kernel=ALL", "update-grub")]
    public void The_iommu_hint_names_the_release_s_own_boot_loader_tool(DistroFamily family, string expected, string foreign)
    {
        using var scratch = new ScratchRoot().Put("/sys/firmware/acpi/tables/DMAR", "x");
        string hint = Find(QemuHostValidator.IommuChecks(scratch.Root, family), "IOMMU enabled by kernel").Hint!;
        Assert.Contains(expected, hint);
        Assert.DoesNotContain(foreign, hint);
        Assert.Contains("intel_iommu=on iommu=pt", Find(QemuHostValidator.Validate(scratch.Root, family), "IOMMU enabled by kernel").Hint);
    }

    [Fact]
    public void Without_any_acpi_table_device_assignment_warns()
    {
        using var scratch = new ScratchRoot();
        Assert.Equal(CheckResult.Warn, Find(QemuHostValidator.IommuChecks(scratch.Root), "Device assignment IOMMU support").Result);
    }

    [Fact]
    public void Sev_is_reported_from_kvm_amd_and_dev_sev()
    {
        using var scratch = new ScratchRoot().Put("/sys/module/kvm_amd/parameters/sev", "Y\n");
        Assert.Equal(CheckResult.Warn, QemuHostValidator.SecureGuestCheck(scratch.Root).Result);
        scratch.Put("/dev/sev", "");
        Assert.Equal(CheckResult.Pass, QemuHostValidator.SecureGuestCheck(scratch.Root).Result);
    }

    [Fact]
    public void No_secure_guest_technology_is_only_a_note()
    {
        using var scratch = new ScratchRoot().PutFixture("/proc/cpuinfo", "cpuinfo/intel-xeon-e5-2650v3-2s-vmx.txt");
        Assert.Equal(CheckResult.Note, QemuHostValidator.SecureGuestCheck(scratch.Root).Result);
    }

    [Fact]
    public void The_live_host_can_be_validated_without_errors()
    {
        var checks = QemuHostValidator.Validate(HostRoot.Live);
        Assert.Contains(checks, c => c.Area == "Cgroups");
        Assert.Contains(checks, c => c.Name == "/dev/net/tun exists");
    }
}
