using KvmHost.Core.Guests;
using KvmHost.Core.Platform;
using KvmHost.Core.Tests.Packages;
using Xunit;

namespace KvmHost.Core.Tests.Guests;

/// <summary>
/// Remove-KvmGuest's plan and its undefine, Set-KvmGuest's changes, New-KvmGuest's checks and rollback, against
/// libvirt's own test driver (in-process, a fresh copy of tests/fixtures/libvirt/definition-world.xml per test): real
/// libvirt calls, real error codes, nothing on the machine. The lab tests do the same against QEMU guests.
/// </summary>
public sealed class GuestDefinitionTests : IDisposable
{
    private readonly LibvirtConnection _connection;
    private readonly GuestCatalog _catalog;

    public GuestDefinitionTests()
    {
        _connection = LibvirtConnection.Open(WorldUri, LibvirtAccess.ReadWrite, CancellationToken.None);
        _catalog = GuestCatalog.List(_connection);
    }

    private static string WorldUri => "test://" + ScratchRoot.Fixture("libvirt/definition-world.xml");

    public void Dispose()
    {
        _catalog.Dispose();
        _connection.Dispose();
    }

    private GuestEntry Guest(string name) => _catalog.FindByName(name) ?? throw new InvalidOperationException($"no {name} in the world");

    private GuestRemovalPlan RemovalPlan(string name, bool force = false, bool deleteStorage = true) =>
        GuestRemover.Plan(Guest(name), force, deleteStorage, _catalog.Guests);

    private bool Exists(string name)
    {
        using var domain = _connection.TryLookupByName(name);
        return domain is not null;
    }

    // ---- Remove-KvmGuest ------------------------------------------------------------------------------------

    [Fact]
    public void Deletes_only_unshared_pool_volumes_and_names_every_disk_it_keeps_with_the_reason()
    {
        var plan = RemovalPlan("web1");
        Assert.Equal([new StorageVolumeRef("pool-a", "web1.qcow2", "/pool-a/web1.qcow2")], plan.DeleteVolumes);
        Assert.Equal(
            [("vdb", "/srv/images/outside.img", "not in a libvirt storage pool"), ("sda", "/pool-a/install.iso", "a cdrom image: install media is never deleted")],
            plan.KeptDisks.Select(k => (k.Target, k.Source, k.Reason)));
        Assert.Equal("/var/lib/libvirt/qemu/nvram/web1_VARS.fd", plan.Nvram);
        Assert.Contains("Remove the definition of 'web1' with its UEFI variables /var/lib/libvirt/qemu/nvram/web1_VARS.fd", plan.Steps);
        Assert.Contains("Delete volume pool-a/web1.qcow2 (/pool-a/web1.qcow2)", plan.Steps);
        Assert.Contains("Keep /srv/images/outside.img (not in a libvirt storage pool)", plan.Steps);
    }

    [Fact]
    public void A_volume_another_guest_uses_as_its_disk_or_as_its_backing_file_is_kept()
    {
        var web2 = RemovalPlan("web2");
        Assert.Equal(["web2-data.qcow2"], web2.DeleteVolumes.Select(v => v.Name)); // a <disk type='volume'> is found by pool and name
        Assert.Equal("also used by guest 'web3'", Assert.Single(web2.KeptDisks).Reason);

        var golden = RemovalPlan("golden");
        Assert.Empty(golden.DeleteVolumes);
        Assert.Equal(("/pool-a/base.qcow2", "also used by guest 'web3'"), (golden.KeptDisks[0].Source, golden.KeptDisks[0].Reason));
    }

    [Fact]
    public void Without_delete_storage_every_disk_is_kept_and_said_so()
    {
        var plan = RemovalPlan("web3", deleteStorage: false);
        Assert.Empty(plan.DeleteVolumes);
        Assert.All(plan.KeptDisks, k => Assert.Equal("-DeleteStorage was not given", k.Reason));
        Assert.Equal(2, plan.KeptDisks.Count);
    }

    [Fact]
    public void A_running_guest_is_refused_without_force_and_powered_off_first_with_it()
    {
        var refused = Assert.Throws<KvmHostException>(() => RemovalPlan("run1"));
        Assert.Equal((ErrorIds.GuestStateInvalid, FailureKind.InvalidOperation, "run1"), (refused.ErrorId, refused.Kind, refused.Target));
        Assert.Contains("-Force", refused.Hint);
        Assert.True(Exists("run1"));

        var plan = RemovalPlan("run1", force: true);
        Assert.True(plan.PowerOff);
        Assert.Equal("Power off 'run1'", plan.Steps[0]);
        var (result, failures) = GuestRemover.Apply(Guest("run1"), plan);
        Assert.Empty(failures);
        Assert.True(result.Removed && result.PoweredOff);
        Assert.Equal(["pool-a/run1.qcow2 (/pool-a/run1.qcow2)"], result.DeletedVolumes);
        Assert.False(Exists("run1"));
        Assert.Null(_connection.FindVolume("pool-a", "run1.qcow2"));
    }

    [Fact]
    public void Undefine_takes_the_snapshot_metadata_and_the_managed_save_along_with_libvirts_flags()
    {
        var snap = RemovalPlan("snap1");
        Assert.Equal(1, snap.Snapshots);
        Assert.Equal(LibvirtNative.UndefineSnapshotsMetadata, snap.UndefineFlags);
        Assert.Contains("Remove the definition of 'snap1' with the metadata of 1 snapshot(s)", snap.Steps);
        var saved = RemovalPlan("saved1");
        Assert.True(saved.ManagedSave);
        Assert.Equal(LibvirtNative.UndefineManagedSave, saved.UndefineFlags);
        Assert.Equal(0u, RemovalPlan("web2").UndefineFlags); // a guest that needs no flag gets none

        foreach (var name in new[] { "snap1", "saved1" })
        {
            var (result, _) = GuestRemover.Apply(Guest(name), RemovalPlan(name));
            Assert.True(result.Removed);
            Assert.False(Exists(name));
        }
    }

    [Fact]
    public void A_refused_undefine_changes_nothing_not_even_the_volumes()
    {
        // The test driver has no NVRAM undefine flag: the refusal comes before any volume is touched.
        var plan = RemovalPlan("web1");
        Assert.Equal(LibvirtNative.UndefineNvram, plan.UndefineFlags);
        var failure = Assert.Throws<KvmHostException>(() => GuestRemover.Apply(Guest("web1"), plan));
        Assert.Equal(ErrorIds.LibvirtCallFailed, failure.ErrorId);
        Assert.True(Exists("web1"));
        Assert.NotNull(_connection.FindVolume("pool-a", "web1.qcow2"));
    }

    [Fact]
    public void A_preview_lists_the_steps_and_changes_nothing()
    {
        var preview = GuestRemover.Preview(Guest("web2"), RemovalPlan("web2"));
        Assert.True(preview.WhatIf);
        Assert.False(preview.Removed);
        Assert.Empty(preview.DeletedVolumes);
        Assert.Contains("Delete volume pool-a/web2-data.qcow2 (/pool-a/web2-data.qcow2)", preview.PlannedChanges);
        Assert.True(Exists("web2"));
    }

    [Fact]
    public void A_guest_removed_meanwhile_is_GuestNotFound_not_a_failure_without_an_error()
    {
        var golden = Guest("golden");
        GuestRemover.Apply(golden, RemovalPlan("golden", deleteStorage: false));
        // The handle outlives the guest; libvirt's error must survive the name being read for the message.
        foreach (var call in new Action[] { () => golden.Connection.IsPersistent(golden.Handle), () => golden.Connection.GetState(golden.Handle),
            () => golden.Connection.GetXml(golden.Handle), () => golden.Connection.HasManagedSave(golden.Handle) })
        {
            var failure = Assert.Throws<KvmHostException>(call);
            Assert.Equal(ErrorIds.GuestNotFound, failure.ErrorId);
            Assert.Equal("golden", failure.Target);
        }
    }

    [Fact]
    public void One_volume_lookup_answers_by_pool_and_name_and_says_none_for_a_missing_pool_or_volume()
    {
        Assert.Equal(new StorageVolumeRef("pool-a", "web1.qcow2", "/pool-a/web1.qcow2"), _connection.FindVolume("pool-a", "web1.qcow2"));
        Assert.Equal("/pool-a/web1.qcow2", _connection.VolumePath("pool-a", "web1.qcow2"));
        foreach (var (pool, volume) in new[] { ("pool-a", "nothing.qcow2"), ("no-such-pool", "web1.qcow2") })
        {
            Assert.Null(_connection.FindVolume(pool, volume));
            Assert.Null(_connection.VolumePath(pool, volume));
        }
    }

    // ---- Set-KvmGuest ------------------------------------------------------------------------------------------

    [Fact]
    public void Settings_reach_the_definition_and_the_running_guest()
    {
        var run1 = Guest("run1");
        var state = GuestSettingsState.Read(run1);
        Assert.Equal((2L << 20, 1L << 20, 2, 1, true), (state.MaximumMemoryKiB, state.MemoryKiB, state.MaximumProcessors, state.Processors, state.Active));
        var plan = GuestSettingsPlanner.Plan(state, new GuestSettingsRequest { MemoryBytes = 1536L << 20, ProcessorCount = 2, Description = "a <b> & \"c\"" }, 16L << 30);
        Assert.Empty(GuestSettingsApplier.Apply(run1, plan));

        var after = GuestSettingsState.Read(run1);
        Assert.Equal((1536L << 10, 2, "a <b> & \"c\""), (after.MemoryKiB, after.Processors, after.Description));
        Assert.Equal((1536L << 10, 2, "a <b> & \"c\""), (after.LiveMemoryKiB!.Value, after.LiveProcessors!.Value, after.LiveDescription));
        Assert.Contains("<description>a &lt;b&gt; &amp; &quot;c&quot;</description>", _connection.GetXml(run1.Handle, inactive: true)); // escaped, not injected
        Assert.False(GuestSettingsPlanner.Plan(after, new GuestSettingsRequest { MemoryBytes = 1536L << 20, ProcessorCount = 2, Description = "a <b> & \"c\"" }, 16L << 30).Changes);
    }

    [Fact]
    public void A_guest_that_is_off_is_renamed_and_raised_above_its_maximums()
    {
        var web2 = Guest("web2");
        var plan = GuestSettingsPlanner.Plan(GuestSettingsState.Read(web2), new GuestSettingsRequest { MemoryBytes = 3L << 30, ProcessorCount = 3, NewName = "web2b" }, 16L << 30);
        Assert.Empty(GuestSettingsApplier.Apply(web2, plan));
        Assert.False(Exists("web2"));
        using var catalog = GuestCatalog.List(_connection);
        var renamed = GuestSettingsState.Read(catalog.FindByName("web2b")!);
        Assert.Equal((3L << 20, 3L << 20, 3, 3), (renamed.MaximumMemoryKiB, renamed.MemoryKiB, renamed.MaximumProcessors, renamed.Processors));
    }

    // ---- New-KvmGuest: checks and rollback ----------------------------------------------------------------------

    private static NewGuestRequest Request(string name = "vm01") => new()
    {
        Name = name, Source = GuestInstallSource.Kernel, Kernel = "/boot/vmlinuz", MemoryBytes = 256L << 20, AllowEmulation = true,
        Network = NewGuestRequest.NoNetwork,
    };

    /// <summary>A creator that checks files in a scratch root standing for this machine (its kernel, its osinfo-db).</summary>
    private GuestCreator Creator(ScratchRoot root, ScriptedRunner? runner = null) =>
        new(_connection, runner ?? new ScriptedRunner(), root.Image, local: true);

    private static ScratchRoot Machine() => new ScratchRoot()
        .Put("/boot/vmlinuz", "kernel").Put("/home/admin/.ssh/id_ed25519.pub", "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIK3 admin@desk\n")
        .Put("/home/admin/.ssh/id_ed25519", "-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjEAAAAA\n-----END OPENSSH PRIVATE KEY-----\n")
        .PutFixture("/proc/cpuinfo", "cpuinfo/x86-kvm-guest-sandybridge-hypervisor-novmx.txt")
        .Put("/usr/share/osinfo/os/libosinfo.org/linux-2022.xml",
            "<libosinfo><os id='http://libosinfo.org/linux/2022'><short-id>linux2022</short-id><name>Generic Linux 2022</name></os></libosinfo>");

    private static OsInfoDatabase OsInfo(ScratchRoot root) => OsInfoDatabase.Load(root.Root, ["/usr/share/osinfo"]);

    [Fact]
    public void A_checked_request_gets_its_uuid_tcg_and_the_generic_linux_into_the_command()
    {
        using var machine = Machine();
        var plan = Creator(machine).Plan(Request(), OsInfo(machine));
        Assert.Equal("linux2022", plan.OsVariant);
        Assert.Equal("qemu", plan.Acceleration.VirtType);
        Assert.Contains(plan.Warnings, w => w.Contains("TCG", StringComparison.Ordinal));
        Assert.Equal(["--connect", WorldUri, "--name", "vm01", "--uuid", plan.Uuid.ToString()], plan.Arguments.Take(6));
        Assert.StartsWith("virt-install --connect ", plan.CommandLine);
        Assert.Empty(plan.Blockers); // libvirt answered: it checked the name, the network and the pool itself
        Assert.Empty(plan.Unchecked);
    }

    [Fact]
    public void Each_problem_is_refused_with_its_own_id_before_anything_is_made()
    {
        using var machine = Machine();
        var creator = Creator(machine);
        var database = OsInfo(machine);
        string Refused(NewGuestRequest request) => Assert.Throws<KvmHostException>(() => creator.Plan(request, database)).ErrorId;

        Assert.Equal(ErrorIds.GuestExists, Refused(Request("web1")));
        Assert.Equal(ErrorIds.GuestNameInvalid, Refused(Request("../web1")));
        Assert.Equal(ErrorIds.GuestMemoryInvalid, Refused(Request() with { MemoryBytes = 0 }));
        Assert.Equal(ErrorIds.GuestMemoryInvalid, Refused(Request() with { MemoryBytes = 1L << 40 })); // the test driver's host has far less
        Assert.Equal(ErrorIds.GuestProcessorCountInvalid, Refused(Request() with { ProcessorCount = 0 }));
        Assert.Equal(ErrorIds.GuestDiskSizeInvalid, Refused(Request() with { DiskSizeBytes = 5 }));
        Assert.Equal(ErrorIds.GuestDescriptionInvalid, Refused(Request() with { Description = "nul \0" }));
        Assert.Equal(ErrorIds.GuestMediaNotFound, Refused(Request() with { Kernel = "/boot/missing" }));
        Assert.Equal(ErrorIds.PathNotAbsolute, Refused(Request() with { Kernel = "boot/vmlinuz" }));
        Assert.Equal(ErrorIds.GuestMediaNotFound, Refused(new NewGuestRequest { Name = "vm01", Source = GuestInstallSource.IsoPath, IsoPath = "/isos/none.iso" }));
        Assert.Equal(ErrorIds.GuestOsVariantUnknown, Refused(Request() with { OsVariant = "rhel99" }));
        Assert.Equal(ErrorIds.GuestOsVariantUnknown, Refused(Request() with { OsVariant = "linux2022,detect=on" }));
        Assert.Equal(ErrorIds.GuestNetworkUnavailable, Refused(Request() with { Network = "isolated" }));
        Assert.Equal(ErrorIds.GuestNetworkUnavailable, Refused(Request() with { Network = "<net>" }));
        Assert.Equal(ErrorIds.StoragePoolUnavailable, Refused(Request() with { DiskSizeBytes = 1L << 30, StoragePool = "fast" }));
        Assert.Equal(ErrorIds.InvalidInterfaceName, Refused(Request() with { Network = null, Bridge = "br0; reboot" }));
        Assert.Equal(ErrorIds.GuestParametersConflict, Refused(Request() with { Bridge = "br0", Network = "default" }));
        Assert.Equal(ErrorIds.GuestParametersConflict, Refused(new NewGuestRequest { Name = "vm01", Source = GuestInstallSource.IsoPath, IsoPath = "/boot/vmlinuz", NoStart = true }));
        Assert.Equal(ErrorIds.GuestParametersConflict, Refused(new NewGuestRequest { Name = "vm01", Source = GuestInstallSource.CloudImage, CloudImage = "/boot/vmlinuz" }));
        Assert.Equal(ErrorIds.GuestSshKeyInvalid, Refused(new NewGuestRequest
            { Name = "vm01", Source = GuestInstallSource.CloudImage, CloudImage = "/boot/vmlinuz", SshPublicKey = "/home/admin/.ssh/id_ed25519" }));
        Assert.Equal(ErrorIds.KvmAccelerationUnavailable, Refused(Request() with { AllowEmulation = false }));
        using var again = GuestCatalog.List(_connection);
        Assert.Equal(8, again.Guests.Count); // the world is unchanged: its eight guests, as loaded
    }

    [Fact]
    public void The_bridge_must_be_a_linux_bridge_where_libvirt_runs()
    {
        using var machine = Machine();
        var database = OsInfo(machine);
        var runner = new ScriptedRunner()
            .On("ip", "br0", 0, """[{"ifindex":4,"ifname":"br0","linkinfo":{"info_kind":"bridge"}}]""")
            .On("ip", "eth0", 0, """[{"ifindex":2,"ifname":"eth0"}]""")
            .On("ip", "br9", 1, "", "Device \"br9\" does not exist.");
        var creator = Creator(machine, runner);
        Assert.Contains("--network", creator.Plan(Request() with { Network = null, Bridge = "br0" }, database).Arguments);
        var plain = Assert.Throws<KvmHostException>(() => creator.Plan(Request() with { Network = null, Bridge = "eth0" }, database));
        Assert.Equal(ErrorIds.GuestBridgeNotFound, plain.ErrorId);
        Assert.Contains("not a Linux bridge", plain.Message);
        var missing = Assert.Throws<KvmHostException>(() => creator.Plan(Request() with { Network = null, Bridge = "br9" }, database));
        Assert.Equal((ErrorIds.GuestBridgeNotFound, FailureKind.ObjectNotFound, "br9"), (missing.ErrorId, missing.Kind, missing.Target));
        Assert.Equal(["-j", "-d", "link", "show", "dev", "br9"], runner.Requests.Last().Arguments);
    }

    [Fact]
    public void A_rollback_removes_the_guest_with_its_uuid_and_the_volumes_named_after_it_that_are_new()
    {
        using var machine = Machine();
        // As if virt-install had made the world's vm9 (running, its disk vm9.qcow2) and a vm9-1.qcow2 next to it.
        var plan = Creator(machine).Plan(Request("vm9new"), OsInfo(machine)) with
        {
            Request = Request("vm9") with { DiskSizeBytes = 1L << 30, StoragePool = "pool-a" },
            Uuid = Guid.Parse("11111111-0000-4000-8000-000000000009"),
        };
        var creation = new GuestCreation(_connection, plan, _connection.ListStoragePools(), ["other.qcow2", "vm90.qcow2"], null);
        Assert.Empty(creation.RollBack());
        Assert.False(Exists("vm9"));
        var left = _connection.ListVolumeNames("pool-a");
        Assert.DoesNotContain("vm9.qcow2", left);
        Assert.DoesNotContain("vm9-1.qcow2", left);
        Assert.Contains("vm90.qcow2", left); // another guest's name that starts the same
        Assert.Contains("other.qcow2", left);
    }

    [Fact]
    public void A_rollback_never_touches_a_guest_of_the_same_name_that_another_run_made()
    {
        using var machine = Machine();
        var plan = Creator(machine).Plan(Request("vm9") with { Name = "vm9x" }, OsInfo(machine)) with { Request = Request("vm9") };
        var creation = new GuestCreation(_connection, plan, _connection.ListStoragePools(), _connection.ListVolumeNames("default"), null);
        Assert.Empty(creation.RollBack());
        Assert.True(Exists("vm9")); // its UUID is not the plan's
    }

    [Fact]
    public void Pools_virt_install_made_for_the_folders_of_the_files_are_forgotten_and_older_pools_stay()
    {
        using var machine = Machine();
        var plan = Creator(machine).Plan(Request() with { Kernel = "/boot/vmlinuz" }, OsInfo(machine)) with
        {
            Request = Request() with { Kernel = "/srv/kernels/vmlinuz", ImportDisk = "/srv/images/golden.qcow2" },
        };
        var before = _connection.ListStoragePools().Where(p => p.Name != "kernels").ToList(); // as if "kernels" appeared during the run
        new GuestCreation(_connection, plan, before, [], null).ForgetNewPools();
        var pools = _connection.ListStoragePools().Select(p => p.Name).ToList();
        Assert.DoesNotContain("kernels", pools);
        Assert.Contains("images", pools); // it was there before the run
        Assert.Contains("pool-a", pools);
    }
}
