using KvmHost.Core.Guests;
using KvmHost.Core.Platform;
using KvmHost.Core.Tests.Packages;
using Xunit;

namespace KvmHost.Core.Tests.Guests;

/// <summary>
/// New-KvmGuest -WhatIf where no libvirt answers yet (a fresh host): the plan checks what this machine can tell (a
/// scratch root standing for it: its files, osinfo-db, /proc/meminfo, CPU) and lists what only libvirt knows. The
/// refusal comes from real libvirt, asked at a socket that does not exist; a scripted runner proves that nothing but
/// iproute2 is started (no virt-install, so nothing is created).
/// </summary>
public sealed class GuestPreviewPlanTests : IDisposable
{
    private readonly string _nowhere = Directory.CreateTempSubdirectory("kvmhost-preview-").FullName;
    private readonly ScratchRoot _machine = new ScratchRoot()
        .Put("/boot/vmlinuz", "kernel").Put("/boot/initrd.gz", "initrd")
        .Put("/proc/meminfo", "MemTotal:        2097152 kB\nMemFree:          524288 kB\n")
        .PutFixture("/proc/cpuinfo", "cpuinfo/x86-kvm-guest-sandybridge-hypervisor-novmx.txt")
        .Put("/usr/share/osinfo/os/libosinfo.org/linux-2022.xml",
            "<libosinfo><os id='http://libosinfo.org/linux/2022'><short-id>linux2022</short-id><name>Generic Linux 2022</name></os></libosinfo>")
        .Put("/usr/share/osinfo/os/redhat.com/rhel-9.4.xml",
            "<libosinfo><os id='http://redhat.com/rhel/9.4'><short-id>rhel9.4</short-id><name>Red Hat Enterprise Linux 9.4</name></os></libosinfo>");

    public void Dispose()
    {
        _machine.Dispose();
        Directory.Delete(_nowhere, recursive: true);
    }

    private string Uri => $"qemu+unix:///system?socket={_nowhere}/none";

    /// <summary>What libvirt itself says when nothing listens at the socket.</summary>
    private KvmHostException Unreachable()
    {
        var failure = Assert.Throws<KvmHostException>(() => LibvirtConnection.Open(Uri, LibvirtAccess.PreferReadWrite, CancellationToken.None));
        Assert.Equal(ErrorIds.LibvirtNotReachable, failure.ErrorId);
        return failure;
    }

    private static NewGuestRequest Request(string name = "vm01") => new()
    {
        Name = name, Source = GuestInstallSource.Kernel, Kernel = "/boot/vmlinuz", Initrd = "/boot/initrd.gz", KernelArguments = "console=ttyS0",
        MemoryBytes = 256L << 20, DiskSizeBytes = 16L << 20, AllowEmulation = true,
    };

    private static ScriptedRunner Runner() => new ScriptedRunner()
        .On("ip", "br0", 0, """[{"ifindex":4,"ifname":"br0","linkinfo":{"info_kind":"bridge"}}]""")
        .On("ip", "eth0", 0, """[{"ifindex":2,"ifname":"eth0"}]""")
        .On("ip", "br9", 1, "", "Device \"br9\" does not exist.");

    private GuestCreator Offline(ScriptedRunner runner, bool local = true) => GuestCreator.WithoutLibvirt(Uri, Unreachable(), runner, _machine.Image, local);

    private OsInfoDatabase OsInfo() => OsInfoDatabase.Load(_machine.Root, ["/usr/share/osinfo"]);

    [Fact]
    public void Without_libvirt_the_plan_has_the_exact_command_the_blocker_and_what_only_libvirt_knows()
    {
        var runner = Runner();
        var plan = Offline(runner).Plan(Request(), OsInfo());

        Assert.Equal(
            ["--connect", Uri, "--name", "vm01", "--uuid", plan.Uuid.ToString(), "--memory", "256", "--vcpus", "1", "--os-variant", "linux2022",
             "--virt-type", "qemu", "--import", "--boot", "kernel=\"/boot/vmlinuz\",initrd=\"/boot/initrd.gz\",kernel_args=\"console=ttyS0\"",
             "--disk", "size=0.015625,format=qcow2", "--network", "network=\"default\"", "--graphics", "none",
             "--serial", "pty,log.file=\"/var/log/libvirt/qemu/vm01-serial.log\",log.append=on", "--noautoconsole"],
            plan.Arguments);
        Assert.Equal("qemu", plan.Acceleration.VirtType); // Test-KvmCpuSupport's verdict for this machine: no vmx, no /dev/kvm
        Assert.Contains(plan.Warnings, w => w.Contains("TCG", StringComparison.Ordinal));

        var blocker = Assert.Single(plan.Blockers);
        Assert.Contains("A real run stops there with LibvirtNotReachable", blocker);
        Assert.Contains($"{_nowhere}/none", blocker);
        Assert.Equal(4, plan.Unchecked.Count);
        Assert.Contains(plan.Unchecked, u => u.Contains("GuestExists", StringComparison.Ordinal));
        Assert.Contains(plan.Unchecked, u => u.StartsWith("the libvirt network 'default'", StringComparison.Ordinal));
        Assert.Contains(plan.Unchecked, u => u.StartsWith("the storage pool 'default'", StringComparison.Ordinal));
        Assert.Contains(plan.Unchecked, u => u.Contains("offers KVM guests", StringComparison.Ordinal));

        Assert.Equal("Allocate a new 16 MiB qcow2 volume in storage pool 'default' (virt-install names it vm01.qcow2)", plan.Steps[0]);
        Assert.EndsWith(plan.CommandLine, plan.Steps[1]);
        Assert.Equal("Start 'vm01' and wait until it runs", plan.Steps[2]);
        Assert.Equal("Remove the storage pools virt-install makes just to look at /boot (the folders and files stay)", plan.Steps[3]);
        Assert.Empty(runner.Requests); // no bridge to look at, and no virt-install: nothing is made
    }

    [Fact]
    public void The_preview_object_is_a_plan_never_a_state()
    {
        var plan = Offline(Runner()).Plan(Request() with { Network = NewGuestRequest.NoNetwork, DiskSizeBytes = null, NoStart = true, Autostart = true }, OsInfo());
        var preview = KvmGuestPreview.From(plan, libvirtReachable: false, domainXml: null, ["No domain XML: libvirt does not answer."]);
        Assert.Equal((true, false, false, null), (preview.WhatIf, preview.Changed, preview.LibvirtReachable, preview.DomainXml));
        Assert.Equal(plan.Arguments, preview.Arguments);
        Assert.Equal(["Define guest 'vm01'", "Start 'vm01' whenever its libvirt daemon starts (autostart)", "Leave 'vm01' shut off (-NoStart)"],
            preview.PlannedChanges.Take(3).Select(s => s.StartsWith("Define", StringComparison.Ordinal) ? s[..19] : s));
        Assert.Equal("No domain XML: libvirt does not answer.", preview.Notes[0]);
        Assert.All(preview.Notes.Skip(1), n => Assert.StartsWith("Not checked without libvirt: ", n));
        Assert.DoesNotContain(preview.Notes, n => n.Contains("network", StringComparison.Ordinal)); // -Network none needs no network
    }

    [Fact]
    public void Without_libvirt_bad_input_is_still_refused_with_its_own_id()
    {
        var runner = Runner();
        var creator = Offline(runner);
        var database = OsInfo();
        string Refused(NewGuestRequest request) => Assert.Throws<KvmHostException>(() => creator.Plan(request, database)).ErrorId;

        Assert.Equal(ErrorIds.GuestNameInvalid, Refused(Request("../vm01")));
        Assert.Equal(ErrorIds.GuestMemoryInvalid, Refused(Request() with { MemoryBytes = 0 }));
        Assert.Equal(ErrorIds.GuestMemoryInvalid, Refused(Request() with { MemoryBytes = 4L << 30 })); // /proc/meminfo says 2 GiB
        Assert.Equal(ErrorIds.GuestOsVariantUnknown, Refused(Request() with { OsVariant = "rhel99.9" }));
        Assert.Equal(ErrorIds.GuestMediaNotFound, Refused(Request() with { Kernel = "/boot/missing" }));
        Assert.Equal(ErrorIds.GuestDescriptionInvalid, Refused(Request() with { Description = "bell \a" }));
        Assert.Equal(ErrorIds.GuestParametersConflict, Refused(Request() with { Bridge = "br0", Network = "default" }));
        Assert.Equal(ErrorIds.GuestBridgeNotFound, Refused(Request() with { Bridge = "br9" }));
        Assert.Equal(ErrorIds.GuestBridgeNotFound, Refused(Request() with { Bridge = "eth0" }));
        Assert.Equal(ErrorIds.KvmAccelerationUnavailable, Refused(Request() with { AllowEmulation = false }));
        Assert.DoesNotContain(runner.Requests, r => r.Program != "ip");

        var fits = creator.Plan(Request() with { MemoryBytes = 2L << 30, ProcessorCount = 8, OsVariant = "rhel9.4", Bridge = "br0" }, database);
        Assert.Equal("rhel9.4", fits.OsVariant);
        Assert.Contains(fits.Warnings, w => w.Contains("more than the 4 logical CPUs", StringComparison.Ordinal)); // the fixture's cpuinfo
        Assert.Contains("bridge=\"br0\"", fits.Arguments);
        Assert.DoesNotContain(fits.Unchecked, u => u.Contains("network", StringComparison.Ordinal));
    }

    [Fact]
    public void A_piped_bridge_that_is_not_on_this_host_yet_is_a_blocker_of_the_preview_not_a_refusal()
    {
        var creator = Offline(Runner());
        var plan = creator.Plan(Request() with { Bridge = "br9" }, OsInfo(), bridgeElsewhere: "the piped bridge is New-HostBridge's -WhatIf preview, which created nothing");
        Assert.Equal(2, plan.Blockers.Count);
        Assert.Equal("There is no bridge 'br9' on this host yet: the piped bridge is New-HostBridge's -WhatIf preview, which created nothing. "
            + "A real run is refused with GuestBridgeNotFound until it is there.", plan.Blockers[1]);
        Assert.Contains("bridge=\"br9\"", plan.Arguments);
        // An interface that is there but is no bridge stays a refusal: a real run of the whole pipeline would not change it.
        var plain = Assert.Throws<KvmHostException>(() => creator.Plan(Request() with { Bridge = "eth0" }, OsInfo(), bridgeElsewhere: "in an image"));
        Assert.Equal(ErrorIds.GuestBridgeNotFound, plain.ErrorId);
    }

    [Fact]
    public void Another_hosts_libvirt_that_does_not_answer_leaves_memory_and_kvm_unchecked_and_says_so()
    {
        var runner = Runner();
        var plan = Offline(runner, local: false).Plan(Request() with { MemoryBytes = 64L << 30, AllowEmulation = false, Bridge = "br9" }, OsInfo());
        Assert.Equal("kvm", plan.Acceleration.VirtType);
        Assert.Contains(plan.Unchecked, u => u.StartsWith("-MemoryBytes against the memory of the host behind", StringComparison.Ordinal));
        Assert.Contains(plan.Unchecked, u => u.Contains("assumes it can (--virt-type kvm)", StringComparison.Ordinal));
        Assert.Empty(runner.Requests); // the bridge is that host's to check
    }

    [Fact]
    public void Only_an_unreachable_uninstalled_or_refused_libvirt_is_planned_past()
    {
        Assert.True(GuestCreator.CanPlanWithout(Unreachable()));
        Assert.True(GuestCreator.CanPlanWithout(new KvmHostException(ErrorIds.LibvirtNotInstalled, FailureKind.NotInstalled, "no libvirt.so.0", "libvirt.so.0")));
        Assert.True(GuestCreator.CanPlanWithout(new KvmHostException(ErrorIds.LibvirtAccessDenied, FailureKind.PermissionDenied, "denied", Uri)));
        var badUri = new KvmHostException(ErrorIds.LibvirtUriInvalid, FailureKind.InvalidArgument, "not a URI", "x");
        Assert.False(GuestCreator.CanPlanWithout(badUri));
        Assert.Throws<ArgumentException>(() => GuestCreator.WithoutLibvirt(Uri, badUri, Runner(), _machine.Image));
    }

    [Fact]
    public void A_creator_without_libvirt_can_neither_preview_the_xml_nor_create()
    {
        var creator = Offline(Runner());
        var plan = creator.Plan(Request(), OsInfo());
        Assert.Throws<InvalidOperationException>(() => creator.Preview(plan, TimeSpan.FromSeconds(5), null, CancellationToken.None));
        Assert.Throws<InvalidOperationException>(() => creator.Create(plan, TimeSpan.FromSeconds(5), null, null, CancellationToken.None));
    }
}
