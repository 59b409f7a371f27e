using KvmHost.Core.Cpu;
using KvmHost.Core.Platform;
using Xunit;

namespace KvmHost.Core.Tests.Cpu;

public class KvmCpuProbeTests
{
    private static ScratchRoot Host(string cpuinfo, bool dev = false, string? module = null, string? nested = null, string[]? alsoLoaded = null)
    {
        var scratch = new ScratchRoot().PutFixture("/proc/cpuinfo", "cpuinfo/" + cpuinfo);
        if (dev) scratch.Put("/dev/kvm", "");
        if (module is not null) scratch.Dir($"/sys/module/{module}");
        if (nested is not null) scratch.Put($"/sys/module/{module}/parameters/nested", nested + "\n");
        foreach (string other in alsoLoaded ?? []) scratch.Dir($"/sys/module/{other}");
        return scratch;
    }

    // A PVM host as some build machines are: a KVM guest without vmx/svm, kvm and kvm_pvm loaded, /dev/kvm there.
    [Fact]
    public void A_pvm_host_names_its_modules_and_says_only_pvm_guests_get_kvm()
    {
        using var scratch = Host("x86-kvm-guest-sandybridge-hypervisor-novmx.txt", dev: true, alsoLoaded: ["kvm", "kvm_pvm"]);
        var result = KvmCpuProbe.Probe(scratch.Image);
        Assert.False(result.Supported);
        Assert.Equal(CpuSupportStatus.PvmGuestsOnly, result.Status);
        Assert.Equal(KvmAcceleration.PvmGuestsOnly, result.Acceleration);
        Assert.Equal(["kvm", "kvm_pvm"], result.KvmModules);
        Assert.Equal("kvm_pvm", result.KvmModule);
        Assert.Contains("PVM", result.Reason);
        Assert.Contains("TCG", result.Hint);
        var module = Assert.Single(result.Checks, c => c.Name == "KVM kernel module");
        Assert.Equal(CheckResult.Warn, module.Result);
        Assert.Contains("kvm_pvm", module.Detail);
        Assert.DoesNotContain(result.Checks, c => c.Detail.Contains("no KVM module", StringComparison.Ordinal));
        Assert.DoesNotContain(result.Checks, c => c.Hint?.Contains("modprobe", StringComparison.Ordinal) == true);
    }

    [Fact]
    public void Kvm_without_a_vendor_module_is_named_and_the_missing_flag_is_the_hint_not_modprobe()
    {
        using var scratch = Host("x86-kvm-guest-sandybridge-hypervisor-novmx.txt", alsoLoaded: ["kvm"]);
        var result = KvmCpuProbe.Probe(scratch.Image);
        Assert.Equal(CpuSupportStatus.NestedVirtualizationUnavailable, result.Status);
        Assert.Equal(KvmAcceleration.Tcg, result.Acceleration);
        Assert.Equal(["kvm"], result.KvmModules);
        var module = Assert.Single(result.Checks, c => c.Name == "KVM kernel module");
        Assert.Equal("kvm loaded, but not kvm_intel or kvm_amd", module.Detail);
        Assert.Contains("cannot load without the CPU's vmx flag", module.Hint);
    }

    [Fact]
    public void A_guest_without_vmx_gives_one_nested_virtualization_hint_everywhere()
    {
        using var scratch = Host("x86-kvm-guest-sandybridge-hypervisor-novmx.txt");
        var result = KvmCpuProbe.Probe(scratch.Image);
        Assert.Equal(KvmCpuProbe.NestedVirtualizationHint, result.Hint);
        Assert.Equal(KvmCpuProbe.NestedVirtualizationHint, Assert.Single(result.Checks, c => c.Name == "Hardware virtualization").Hint);
        Assert.All(result.Checks.Where(c => c.Hint is not null && c.Hint.Contains("nested", StringComparison.OrdinalIgnoreCase)),
            c => Assert.Equal(KvmCpuProbe.NestedVirtualizationHint, c.Hint));
    }

    [Fact]
    public void A_pvm_module_next_to_kvm_intel_does_not_hide_hardware_kvm()
    {
        using var scratch = Host("intel-xeon-e5-2650v3-2s-vmx.txt", dev: true, module: "kvm_intel", alsoLoaded: ["kvm", "kvm_pvm"]);
        var result = KvmCpuProbe.Probe(scratch.Image);
        Assert.True(result.Supported);
        Assert.Equal(KvmAcceleration.Kvm, result.Acceleration);
        Assert.Equal("kvm_intel", result.KvmModule);
        Assert.Equal(["kvm", "kvm_intel", "kvm_pvm"], result.KvmModules);
    }

    [Fact]
    public void Without_any_kvm_module_or_device_guests_get_tcg()
    {
        using var scratch = Host("x86-kvm-guest-sandybridge-hypervisor-novmx.txt");
        var result = KvmCpuProbe.Probe(scratch.Image);
        Assert.Empty(result.KvmModules);
        Assert.Null(result.KvmModule);
        Assert.Equal(KvmAcceleration.Tcg, result.Acceleration);
        Assert.Equal("no KVM module is loaded", Assert.Single(result.Checks, c => c.Name == "KVM kernel module").Detail);
    }

    [Fact]
    public void Bare_metal_intel_with_module_and_device_is_ready()
    {
        using var scratch = Host("intel-xeon-e5-2650v3-2s-vmx.txt", dev: true, module: "kvm_intel", nested: "N");
        var result = KvmCpuProbe.Probe(scratch.Image);
        Assert.True(result.Supported);
        Assert.Equal(CpuSupportStatus.Ready, result.Status);
        Assert.Equal("vmx", result.VirtualizationFeature);
        Assert.Equal("x86_64", result.Architecture);
        Assert.Equal("Intel", result.Vendor);
        Assert.Equal(40, result.LogicalProcessorCount);
        Assert.False(result.HypervisorPresent);
        Assert.Equal("kvm_intel", result.KvmModule);
        Assert.Equal(KvmAcceleration.Kvm, result.Acceleration);
        Assert.False(result.NestedVirtualization);
        Assert.DoesNotContain(result.Checks, c => c.Result == CheckResult.Fail);
    }

    [Fact]
    public void Amd_with_svm_but_no_module_says_ModuleNotLoaded_and_names_kvm_amd()
    {
        using var scratch = Host("amd-epyc-7451-2s-svm.txt");
        var result = KvmCpuProbe.Probe(scratch.Image);
        Assert.Equal(CpuSupportStatus.ModuleNotLoaded, result.Status);
        Assert.Equal("svm", result.VirtualizationFeature);
        Assert.Contains("kvm_amd", result.Hint);
    }

    [Fact]
    public void A_guest_without_vmx_needs_nested_virtualization()
    {
        using var scratch = Host("x86-kvm-guest-sandybridge-hypervisor-novmx.txt");
        var result = KvmCpuProbe.Probe(scratch.Image);
        Assert.False(result.Supported);
        Assert.Equal(CpuSupportStatus.NestedVirtualizationUnavailable, result.Status);
        Assert.True(result.HypervisorPresent);
        Assert.Contains(result.Checks, c => c.Name == "Running as a guest" && c.Result == CheckResult.Note);
    }

    [Fact]
    public void A_nested_guest_with_vmx_and_kvm_is_ready_and_reports_nesting()
    {
        using var scratch = Host("x86-kvm-guest-xeon-gold-5218r-vmx-hypervisor-nested.txt", dev: true, module: "kvm_intel", nested: "Y");
        var result = KvmCpuProbe.Probe(scratch.Image);
        Assert.True(result.Supported);
        Assert.True(result.HypervisorPresent);
        Assert.True(result.NestedVirtualization);
    }

    [Fact]
    public void Bare_metal_without_the_flag_has_no_hardware_support_with_a_firmware_hint()
    {
        using var scratch = Host("intel-xeon-e5345-2s-vmx-flag-absent.txt");
        var result = KvmCpuProbe.Probe(scratch.Image);
        Assert.Equal(CpuSupportStatus.NoHardwareSupport, result.Status);
        Assert.Contains("firmware", result.Hint);
    }

    [Fact]
    public void Firmware_lock_bits_report_DisabledInFirmware_like_kvm_ok()
    {
        using var scratch = Host("intel-xeon-e5345-2s-vmx-flag-absent.txt").Dir("/dev/cpu/0");
        // IA32_FEATURE_CONTROL (MSR 0x3a) = locked, VMX outside SMX clear: read at that offset like /dev/cpu/0/msr.
        var msr = new byte[0x3a + 8];
        msr[0x3a] = 0x1;
        File.WriteAllBytes(scratch.HostPath("/dev/cpu/0/msr"), msr);
        var result = KvmCpuProbe.Probe(scratch.Image);
        Assert.Equal(CpuSupportStatus.DisabledInFirmware, result.Status);
        Assert.Contains(result.Checks, c => c.Name == "Firmware setting" && c.Result == CheckResult.Fail);
    }

    [Fact]
    public void Firmware_enabled_bits_pass_the_firmware_check()
    {
        using var scratch = Host("intel-xeon-e5-2650v3-2s-vmx.txt", dev: true, module: "kvm_intel").Dir("/dev/cpu/0");
        var msr = new byte[0x3a + 8];
        msr[0x3a] = 0x5;
        File.WriteAllBytes(scratch.HostPath("/dev/cpu/0/msr"), msr);
        var result = KvmCpuProbe.Probe(scratch.Image);
        Assert.True(result.Supported);
        Assert.Contains(result.Checks, c => c.Name == "Firmware setting" && c.Result == CheckResult.Pass);
    }

    [Fact]
    public void Module_loaded_but_no_device_is_DeviceMissing()
    {
        using var scratch = Host("intel-xeon-x7550-4s-vmx.txt", module: "kvm_intel");
        Assert.Equal(CpuSupportStatus.DeviceMissing, KvmCpuProbe.Probe(scratch.Image).Status);
    }

    [Fact]
    public void S390x_with_sie_and_kvm_is_ready()
    {
        using var scratch = Host("s390x-z13-lpar-sie.txt", dev: true, module: "kvm");
        var result = KvmCpuProbe.Probe(scratch.Image);
        Assert.True(result.Supported);
        Assert.Equal("s390x", result.Architecture);
        Assert.Equal("sie", result.VirtualizationFeature);
        Assert.Equal(8, result.LogicalProcessorCount);
        Assert.Equal("IBM", result.Vendor);
    }

    [Fact]
    public void Ppc64le_is_decided_by_dev_kvm_and_kvm_hv()
    {
        using var without = Host("ppc64le-power8-24cpu.txt");
        var no = KvmCpuProbe.Probe(without.Image);
        Assert.Equal(CpuSupportStatus.ModuleNotLoaded, no.Status);
        Assert.Contains("kvm_hv", no.Hint);
        Assert.Null(no.VirtualizationFeature);
        using var with = Host("ppc64le-power8-24cpu.txt", dev: true, module: "kvm_hv");
        var yes = KvmCpuProbe.Probe(with.Image);
        Assert.True(yes.Supported);
        Assert.Equal("ppc64le", yes.Architecture);
    }

    [Fact]
    public void Aarch64_is_decided_by_dev_kvm()
    {
        using var scratch = Host("aarch64-graviton3-excerpt.txt", dev: true, module: "kvm");
        var result = KvmCpuProbe.Probe(scratch.Image);
        Assert.True(result.Supported);
        Assert.Equal("aarch64", result.Architecture);
        Assert.Equal("Neoverse-V1", result.ModelName);
        Assert.Equal("ARM", result.Vendor);
    }

    [Fact]
    public void Pentium4_is_i686_without_support()
    {
        using var scratch = Host("i386-pentium4-32bit-novmx.txt");
        var result = KvmCpuProbe.Probe(scratch.Image);
        Assert.Equal("i686", result.Architecture);
        Assert.Equal(CpuSupportStatus.NoHardwareSupport, result.Status);
    }

    [Fact]
    public void Missing_cpuinfo_is_CpuInfoNotFound()
    {
        using var scratch = new ScratchRoot();
        Assert.Equal(ErrorIds.CpuInfoNotFound, Assert.Throws<KvmHostException>(() => KvmCpuProbe.Probe(scratch.Image)).ErrorId);
    }

    [Fact]
    public void A_cpuinfo_that_is_a_directory_or_binary_is_CpuInfoUnreadable()
    {
        using var dir = new ScratchRoot().Dir("/proc/cpuinfo");
        Assert.Equal(ErrorIds.CpuInfoUnreadable, Assert.Throws<KvmHostException>(() => KvmCpuProbe.Probe(dir.Image)).ErrorId);
        using var binary = new ScratchRoot().Dir("/proc");
        File.WriteAllBytes(binary.HostPath("/proc/cpuinfo"), [1, 0, 2]);
        Assert.Equal(ErrorIds.CpuInfoUnreadable, Assert.Throws<KvmHostException>(() => KvmCpuProbe.Probe(binary.Image)).ErrorId);
    }
}
