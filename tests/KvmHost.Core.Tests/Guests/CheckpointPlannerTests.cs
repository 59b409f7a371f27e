using KvmHost.Core.Guests;
using KvmHost.Core.Platform;
using Xunit;

namespace KvmHost.Core.Tests.Guests;

/// <summary>What internal checkpoints can and cannot do, decided from the definition, the state and the libvirt version.</summary>
public class CheckpointPlannerTests
{
    private static GuestDeviceFacts Facts(string devices, string os = "<type>hvm</type>") =>
        GuestDeviceFacts.Parse($"<domain type='kvm'><name>g</name><os>{os}</os><devices>{devices}</devices></domain>");

    private const string Qcow2 = "<disk type='file' device='disk'><driver name='qemu' type='qcow2'/><source file='/i/a.qcow2'/><target dev='vda'/></disk>";
    private const string Raw = "<disk type='file' device='disk'><driver name='qemu' type='raw'/><source file='/i/b.img'/><target dev='vdb'/></disk>";

    [Fact]
    public void Qcow2_disks_of_a_running_guest_are_fine()
    {
        Assert.Empty(CheckpointPlanner.CheckCreate("g", GuestState.Running, Facts(Qcow2)));
    }

    [Fact]
    public void A_raw_disk_is_refused_naming_it()
    {
        var refused = Assert.Throws<KvmHostException>(() => CheckpointPlanner.CheckCreate("g", GuestState.ShutOff, Facts(Qcow2 + Raw)));
        Assert.Equal((ErrorIds.CheckpointDiskUnsupported, FailureKind.InvalidOperation, "g"), (refused.ErrorId, refused.Kind, refused.Target));
        Assert.Contains("disk vdb is raw", refused.Message, StringComparison.Ordinal);
        Assert.DoesNotContain("vda", refused.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("<disk type='file' device='disk' snapshot='no'><driver type='raw'/><source file='/i/s.img'/><target dev='vdc'/></disk>")]
    [InlineData("<disk type='file' device='cdrom'><driver type='raw'/><source file='/i/x.iso'/><target dev='sda'/><readonly/></disk>")]
    [InlineData("<disk type='file' device='disk'><driver type='raw'/><source file='/i/r.img'/><target dev='vdd'/><readonly/></disk>")]
    public void Disks_libvirt_leaves_out_of_internal_snapshots_do_not_count(string disk)
    {
        Assert.Empty(CheckpointPlanner.CheckCreate("g", GuestState.Running, Facts(Qcow2 + disk)));
    }

    [Fact]
    public void A_disk_without_a_stated_format_is_raw_to_libvirt()
    {
        var refused = Assert.Throws<KvmHostException>(() =>
            CheckpointPlanner.CheckCreate("g", GuestState.ShutOff, Facts("<disk type='file' device='disk'><source file='/i/c'/><target dev='vda'/></disk>")));
        Assert.Contains("no stated format", refused.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("<type>hvm</type><loader readonly='yes' type='pflash'>/usr/share/OVMF/OVMF_CODE_4M.fd</loader><nvram>/var/lib/libvirt/qemu/nvram/g_VARS.fd</nvram>")]
    [InlineData("<type>hvm</type><nvram>/var/lib/libvirt/qemu/nvram/g_VARS.fd</nvram>")]
    public void A_running_uefi_guest_is_refused_and_one_that_is_off_is_warned_about(string os)
    {
        var facts = Facts(Qcow2, os);
        foreach (var active in new[] { GuestState.Running, GuestState.Paused })
            Assert.Equal(ErrorIds.CheckpointUefiUnsupported, Assert.Throws<KvmHostException>(() => CheckpointPlanner.CheckCreate("g", active, facts)).ErrorId);
        Assert.Contains("UEFI variables", Assert.Single(CheckpointPlanner.CheckCreate("g", GuestState.ShutOff, facts)), StringComparison.Ordinal);
    }

    [Fact]
    public void Firmware_autoselection_of_efi_counts_as_uefi()
    {
        var facts = GuestDeviceFacts.Parse($"<domain><os firmware='efi'><type>hvm</type></os><devices>{Qcow2}</devices></domain>");
        Assert.True(facts.Uefi);
        Assert.False(Facts(Qcow2).Uefi);
    }

    [Theory]
    [InlineData("9.0.0", GuestCheckpointKind.External, true)]
    [InlineData("9.6.99", GuestCheckpointKind.External, true)]
    [InlineData("9.7.0", GuestCheckpointKind.External, false)]
    [InlineData("10.0.0", GuestCheckpointKind.External, false)]
    [InlineData("4.5.0", GuestCheckpointKind.Internal, false)]
    public void External_checkpoints_restore_only_from_libvirt_9_7(string version, GuestCheckpointKind kind, bool refused)
    {
        var checkpoint = new KvmGuestCheckpoint
        {
            GuestName = "g", Name = "c", Kind = kind, GuestUuid = Guid.Empty, ComputerName = "h", Uri = "qemu:///system",
        };
        var failure = Record.Exception(() => CheckpointPlanner.CheckRestore("g", checkpoint, Version.Parse(version)));
        Assert.Equal(refused, failure is KvmHostException { ErrorId: ErrorIds.CheckpointRestoreUnsupported, Kind: FailureKind.NotImplemented });
        if (refused) Assert.Contains(version, failure!.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData(GuestCheckpointState.Running, GuestState.Running)]
    [InlineData(GuestCheckpointState.Blocked, GuestState.Running)]
    [InlineData(GuestCheckpointState.Paused, GuestState.Paused)]
    [InlineData(GuestCheckpointState.ShutOff, GuestState.ShutOff)]
    [InlineData(GuestCheckpointState.DiskOnly, GuestState.ShutOff)]
    [InlineData(GuestCheckpointState.Crashed, GuestState.ShutOff)]
    public void A_restore_ends_in_the_state_the_checkpoint_was_taken_in(GuestCheckpointState taken, GuestState after) =>
        Assert.Equal(after, CheckpointPlanner.StateAfterRestore(taken));

    [Theory]
    [InlineData("../x")]
    [InlineData("a/b")]
    [InlineData("-x")]
    [InlineData("two\nlines")]
    [InlineData("<x>")]
    [InlineData("a&b")]
    [InlineData(" padded")]
    [InlineData("")]
    public void Hostile_checkpoint_names_are_refused(string name)
    {
        var refused = Assert.Throws<KvmHostException>(() => CheckpointName.Validate(name));
        Assert.Equal((ErrorIds.CheckpointNameInvalid, FailureKind.InvalidArgument), (refused.ErrorId, refused.Kind));
    }

    [Fact]
    public void A_long_guest_name_with_the_time_stamp_is_still_a_valid_checkpoint_name()
    {
        string guest = new('g', GuestName.MaxBytes);
        string name = CheckpointName.Default(guest, new DateTime(2026, 1, 2, 3, 4, 5, DateTimeKind.Utc), _ => false);
        Assert.Equal(guest + "-20260102T030405Z", name);
        CheckpointName.Validate(name);
        Assert.Throws<KvmHostException>(() => CheckpointName.Validate(new string('x', CheckpointName.MaxBytes + 1)));
    }

    [Fact]
    public void The_default_name_counts_up_past_names_in_use()
    {
        var used = new HashSet<string> { "g-20260102T030405Z", "g-20260102T030405Z-2" };
        Assert.Equal("g-20260102T030405Z-3", CheckpointName.Default("g", new DateTime(2026, 1, 2, 3, 4, 5, DateTimeKind.Utc), used.Contains));
    }
}
