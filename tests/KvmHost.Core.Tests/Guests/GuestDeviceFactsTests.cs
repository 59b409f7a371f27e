using KvmHost.Core.Guests;
using Xunit;

namespace KvmHost.Core.Tests.Guests;

/// <summary>Disks, firmware and serial ports read from real domain XML of the tests' tiny guest (libvirt 9.0.0).</summary>
public class GuestDeviceFactsTests
{
    [Theory]
    [InlineData("qemu-running-tiny-guest.xml")]
    [InlineData("qemu-shutoff-tiny-guest.xml")]
    public void Reads_the_tiny_guests_volume_disk_and_its_logged_serial_console(string fixture)
    {
        var facts = GuestDeviceFacts.Parse(File.ReadAllText(ScratchRoot.Fixture("libvirt/" + fixture)));

        var disk = Assert.Single(facts.Disks);
        Assert.Equal(("vda", "disk", "volume", "qcow2", "default", "web1.qcow2", true), (disk.Target, disk.Device, disk.Type, disk.Format, disk.Pool, disk.Volume, disk.Included));
        Assert.False(facts.Uefi);
        Assert.True(facts.HasConsole);
        Assert.Equal("/var/log/libvirt/qemu/web1-serial.log", facts.SerialLogFile);
    }

    [Fact]
    public void A_file_serial_port_is_its_own_log_and_a_tcp_one_is_no_console()
    {
        var facts = GuestDeviceFacts.Parse("""
            <domain><devices>
              <serial type='tcp'><source mode='bind' host='127.0.0.1' service='4555'/><target port='0'/></serial>
              <serial type='file'><source path='/var/log/g-ttyS1.txt'/><target port='1'/></serial>
            </devices></domain>
            """);
        Assert.False(facts.HasConsole);
        Assert.Equal("/var/log/g-ttyS1.txt", facts.SerialLogFile);
    }

    [Fact]
    public void A_guest_without_serial_ports_has_neither_console_nor_log()
    {
        var facts = GuestDeviceFacts.Parse("<domain><os><type>hvm</type></os><devices><disk type='block' device='disk'><source dev='/dev/vg/g'/><target dev='vda'/></disk></devices></domain>");
        Assert.False(facts.HasConsole);
        Assert.Null(facts.SerialLogFile);
        Assert.Equal("/dev/vg/g", Assert.Single(facts.Disks).File);
    }
}
