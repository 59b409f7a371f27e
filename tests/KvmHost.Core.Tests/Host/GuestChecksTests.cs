using KvmHost.Core.Guests;
using KvmHost.Core.Host;
using Xunit;

namespace KvmHost.Core.Tests.Host;

public class GuestChecksTests
{
    private static KvmGuest Guest(string name, GuestState state, bool autostart, params KvmGuestDisk[] disks) => new()
    {
        Name = name, Uuid = Guid.NewGuid(), State = state, StateReason = "Unknown", Autostart = autostart,
        Disks = disks, ComputerName = "kvm1", Uri = "qemu:///system",
    };

    private static KvmGuestDisk Disk(string guest, string target, long? capacity, string device = "disk", string type = "file", string? source = "/var/lib/libvirt/images/x.qcow2") => new()
    {
        GuestName = guest, Target = target, Device = device, Type = type, Source = source, CapacityBytes = capacity,
    };

    [Fact]
    public void Warns_about_autostart_guests_that_are_not_running_and_names_them()
    {
        var check = GuestChecks.Autostart([Guest("web1", GuestState.ShutOff, true), Guest("web2", GuestState.Running, true), Guest("lab", GuestState.ShutOff, false)]);
        Assert.Equal(CheckResult.Warn, check.Result);
        Assert.Equal("Guests", check.Area);
        Assert.Contains("1 of 2", check.Detail);
        Assert.Contains("web1", check.Detail);
        Assert.DoesNotContain("lab", check.Detail);
        Assert.StartsWith("Start-KvmGuest web1", check.Hint);
    }

    [Fact]
    public void Passes_when_every_autostart_guest_runs_or_none_is_set()
    {
        Assert.Equal(CheckResult.Pass, GuestChecks.Autostart([Guest("web1", GuestState.Paused, true)]).Result);
        Assert.Equal("no guest is set to start with the host", GuestChecks.Autostart([Guest("a", GuestState.ShutOff, false)]).Detail);
    }

    [Fact]
    public void Fails_for_a_disk_image_libvirt_cannot_read_but_not_for_an_empty_cdrom_or_a_network_disk()
    {
        var check = GuestChecks.Disks([
            Guest("db1", GuestState.ShutOff, false, Disk("db1", "vda", null), Disk("db1", "vdb", 1024)),
            Guest("web1", GuestState.ShutOff, false, Disk("web1", "sda", null, device: "cdrom"), Disk("web1", "vdc", null, type: "network", source: "rbd:pool/img")),
        ]);
        Assert.Equal(CheckResult.Fail, check.Result);
        Assert.Contains("1 of 2", check.Detail);
        Assert.Contains("db1 vda (/var/lib/libvirt/images/x.qcow2)", check.Detail);
        Assert.DoesNotContain("web1", check.Detail);
    }

    [Fact]
    public void Passes_when_every_image_is_readable()
    {
        var check = GuestChecks.Disks([Guest("db1", GuestState.Running, false, Disk("db1", "vda", 16L << 20))]);
        Assert.Equal((CheckResult.Pass, "1 disk images of 1 guests"), (check.Result, check.Detail));
    }
}
