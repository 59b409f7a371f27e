using KvmHost.Core.Cpu;
using KvmHost.Core.Guests;
using KvmHost.Core.Platform;
using Xunit;

namespace KvmHost.Core.Tests.Guests;

/// <summary>
/// KVM or TCG for a new guest, from Test-KvmCpuSupport's real probe run on scratch roots that stand for each kind of
/// host, and from libvirt capabilities captured on real hosts (tests/fixtures/libvirt/capabilities-*.xml): a KVM host
/// (Intel, AMD), this project's PVM machines (libvirt offers kvm there, and a plain guest would hang), and the guest
/// lab's libvirt, which cannot use /dev/kvm.
/// </summary>
public sealed class GuestAccelerationTests
{
    private const string Uri = "qemu:///system";

    private static HypervisorCapabilities Capabilities(string fixture) =>
        HypervisorCapabilities.Parse(File.ReadAllText(ScratchRoot.Fixture("libvirt/" + fixture)));

    private static KvmCpuSupport Probe(string cpuinfo, bool dev, params string[] modules)
    {
        using var scratch = new ScratchRoot().PutFixture("/proc/cpuinfo", "cpuinfo/" + cpuinfo);
        if (dev) scratch.Put("/dev/kvm", "");
        foreach (string module in modules) scratch.Dir($"/sys/module/{module}");
        return KvmCpuProbe.Probe(scratch.Image);
    }

    private static KvmCpuSupport CapableHost() => Probe("intel-xeon-e5-2650v3-2s-vmx.txt", dev: true, "kvm", "kvm_intel");
    private static KvmCpuSupport PvmHost() => Probe("x86-kvm-guest-sandybridge-hypervisor-novmx.txt", dev: true, "kvm", "kvm_pvm");
    private static KvmCpuSupport NoKvmHost() => Probe("x86-kvm-guest-sandybridge-hypervisor-novmx.txt", dev: false);

    [Fact]
    public void Capabilities_name_the_domain_types_of_the_hosts_own_architecture()
    {
        var kvm = Capabilities("capabilities-kvm-x86_64-intel.xml");
        Assert.Equal("x86_64", kvm.HostArchitecture);
        Assert.True(kvm.OffersKvm);
        Assert.Contains("vmx", kvm.HostCpuFeatures);
        Assert.NotNull(kvm.HostCpuXml);
        Assert.True(Capabilities("capabilities-pvm-host-debian12.xml").OffersKvm); // libvirt on a PVM host offers kvm
        var lab = Capabilities("capabilities-kvm-hidden-debian12.xml");
        Assert.False(lab.OffersKvm);
        Assert.Equal(["qemu"], lab.DomainTypes);
    }

    [Fact]
    public void A_host_that_can_run_kvm_guests_gets_kvm_without_a_word()
    {
        var verdict = CapableHost();
        Assert.Equal(KvmAcceleration.Kvm, verdict.Acceleration); // the scratch root really is a KVM host to the probe
        var choice = GuestAcceleration.Decide("vm01", Uri, verdict, Capabilities("capabilities-kvm-x86_64-intel.xml"), allowEmulation: false);
        Assert.Equal(new AccelerationChoice("kvm", false, null), choice);
        var args = VirtInstallCommand.Arguments(new NewGuestRequest { Name = "vm01", Source = GuestInstallSource.ImportDisk, ImportDisk = "/d.qcow2" },
            Uri, "linux2022", choice.VirtType, preview: false);
        Assert.Equal("kvm", args[args.ToList().IndexOf("--virt-type") + 1]);
    }

    [Fact]
    public void A_pvm_host_is_refused_although_its_libvirt_offers_kvm_and_allowed_emulation_gets_tcg_with_a_warning()
    {
        var verdict = PvmHost();
        var capabilities = Capabilities("capabilities-pvm-host-debian12.xml");
        var refused = Assert.Throws<KvmHostException>(() => GuestAcceleration.Decide("vm01", Uri, verdict, capabilities, allowEmulation: false));
        Assert.Equal(ErrorIds.KvmAccelerationUnavailable, refused.ErrorId);
        Assert.Equal(FailureKind.ResourceUnavailable, refused.Kind);
        Assert.Equal("vm01", refused.Target);
        Assert.Contains("PvmGuestsOnly", refused.Message);
        Assert.StartsWith("Add -AllowEmulation", refused.Hint);

        var choice = GuestAcceleration.Decide("vm01", Uri, verdict, capabilities, allowEmulation: true);
        Assert.Equal("qemu", choice.VirtType);
        Assert.True(choice.Emulated);
        Assert.Contains("TCG", choice.Warning);
    }

    [Fact]
    public void A_host_without_kvm_is_refused_the_same_way()
    {
        var failure = Assert.Throws<KvmHostException>(() =>
            GuestAcceleration.Decide("vm01", Uri, NoKvmHost(), Capabilities("capabilities-kvm-hidden-debian12.xml"), allowEmulation: false));
        Assert.Equal(ErrorIds.KvmAccelerationUnavailable, failure.ErrorId);
    }

    [Fact]
    public void A_capable_cpu_behind_a_libvirt_that_cannot_use_dev_kvm_is_refused_naming_libvirt()
    {
        var failure = Assert.Throws<KvmHostException>(() =>
            GuestAcceleration.Decide("vm01", Uri, CapableHost(), Capabilities("capabilities-kvm-hidden-debian12.xml"), allowEmulation: false));
        Assert.Contains("offers no KVM guests", failure.Message);
        Assert.Contains("qemu", failure.Message);
    }

    /// <summary>
    /// For another host only libvirt's view exists. Capabilities list only the features beyond the CPU model (the AMD
    /// host's Opteron_G4 has svm without listing it): libvirt itself expands the model (here through its test driver,
    /// which uses the same CPU map), so the AMD host is seen as able while the PVM host's kvm64 stays without vmx/svm.
    /// </summary>
    [Fact]
    public void For_a_remote_host_the_cpu_model_is_expanded_by_libvirt_before_vmx_or_svm_are_looked_for()
    {
        using var connection = LibvirtConnection.Open("test:///default", LibvirtAccess.ReadWrite, CancellationToken.None);
        HypervisorCapabilities Expanded(string fixture)
        {
            var capabilities = Capabilities(fixture);
            var features = connection.ExpandCpuFeatures(capabilities.HostCpuXml!);
            Assert.NotNull(features);
            return capabilities with { HostCpuFeatures = features!.Union(capabilities.HostCpuFeatures).ToHashSet() };
        }

        var amd = Capabilities("capabilities-kvm-x86_64-amd-fedora22.xml");
        Assert.DoesNotContain("svm", amd.HostCpuFeatures);
        Assert.Contains("svm", Expanded("capabilities-kvm-x86_64-amd-fedora22.xml").HostCpuFeatures);
        Assert.Equal("kvm", GuestAcceleration.Decide("vm01", "qemu+ssh://root@kvm2/system", null, Expanded("capabilities-kvm-x86_64-amd-fedora22.xml"), false).VirtType);
        Assert.Equal("kvm", GuestAcceleration.Decide("vm01", "qemu+ssh://root@kvm2/system", null, Expanded("capabilities-kvm-x86_64-intel.xml"), false).VirtType);

        var pvm = Expanded("capabilities-pvm-host-debian12.xml");
        Assert.DoesNotContain("vmx", pvm.HostCpuFeatures);
        Assert.DoesNotContain("svm", pvm.HostCpuFeatures);
        var failure = Assert.Throws<KvmHostException>(() => GuestAcceleration.Decide("vm01", "qemu+ssh://root@pvm1/system", null, pvm, false));
        Assert.Contains("neither vmx nor svm", failure.Message);
    }
}
