using System.Xml.Linq;
using KvmHost.Core.Guests;
using Xunit;

namespace KvmHost.Core.Tests.Guests;

/// <summary>Domain XML from real sources: libvirt's test driver and virt-manager's test-driver world.</summary>
public class DomainXmlTests
{
    private static string Fixture(string name) => File.ReadAllText(ScratchRoot.Fixture($"libvirt/{name}"));

    /// <summary>One &lt;domain&gt; of the virt-manager node file, exactly as written there.</summary>
    private static string DomainFromWorld(string name) =>
        XElement.Parse(Fixture("virt-manager-testdriver.xml")).Elements("domain").Single(d => d.Element("name")?.Value == name).ToString();

    [Fact]
    public void Reads_the_test_drivers_default_guest()
    {
        var xml = DomainXml.Parse(Fixture("test-default-domain.xml"));

        Assert.Equal(8388608, xml.MemoryKiB);
        Assert.Equal(2097152, xml.CurrentMemoryKiB);
        Assert.Equal(2, xml.Vcpus);
        var disk = Assert.Single(xml.Disks);
        Assert.Equal(new DomainDisk("vda", "disk", "virtio", "file", "/guest/diskimage1", null, false), disk);
        var nic = Assert.Single(xml.Interfaces);
        Assert.Equal(new DomainInterface("network", "aa:bb:cc:dd:ee:ff", null, "default", null, "testnet0"), nic);
        Assert.False(xml.AgentConnected);
        Assert.Null(xml.OsInfoId);
    }

    [Fact]
    public void Reads_a_running_qemu_guests_live_xml()
    {
        var xml = DomainXml.Parse(Fixture("qemu-running-tiny-guest.xml"));

        Assert.Equal(262144, xml.MemoryKiB);
        Assert.Equal(1, xml.Vcpus);
        Assert.Equal("a <web> & \"guest\"", xml.Description);
        var disk = Assert.Single(xml.Disks);
        Assert.Equal(new DomainDisk("vda", "disk", "virtio", "volume", "default/web1.qcow2", "qcow2", false, "default", "web1.qcow2"), disk);
        var nic = Assert.Single(xml.Interfaces);
        Assert.Equal(new DomainInterface("network", "52:54:00:b9:cf:af", "virbr0", "default", "virtio", "vnet0"), nic);
        Assert.False(xml.AgentConnected);
    }

    [Fact]
    public void The_same_guest_shut_off_has_no_runtime_device_or_bridge()
    {
        var nic = Assert.Single(DomainXml.Parse(Fixture("qemu-shutoff-tiny-guest.xml")).Interfaces);
        Assert.Equal(("default", null, null), (nic.Network, nic.Bridge, nic.Device));
    }

    [Fact]
    public void Reads_osinfo_description_bridge_and_a_connected_agent()
    {
        var xml = DomainXml.Parse(DomainFromWorld("test-alternate-devs"));

        Assert.Equal("http://microsoft.com/msdos/6.22", xml.OsInfoId);
        Assert.Equal("msdos6.22", DomainXml.ShortOsVariant(xml.OsInfoId));
        Assert.StartsWith("Test alternate devices that can't be crammed in", xml.Description);
        var nic = Assert.Single(xml.Interfaces);
        Assert.Equal("bridge", nic.Type);
        Assert.Equal("blahbr0", nic.Bridge);
        Assert.Equal("22:11:11:11:72:72", nic.MacAddress);
        Assert.True(xml.AgentConnected);
    }

    [Fact]
    public void Reads_every_kind_of_disk_source_of_a_guest_with_many_devices()
    {
        var xml = DomainXml.Parse(DomainFromWorld("test-many-devices"));

        Assert.Equal(xml.Disks.Count, xml.Disks.Select(d => d.Target).Distinct().Count());
        Assert.Contains(xml.Disks, d => d.Device == "cdrom");
        Assert.Contains(xml.Disks, d => d.Type == "block" && d.Source is not null && d.Source.StartsWith("/dev/", StringComparison.Ordinal));
        Assert.Contains(xml.Disks, d => d.Type == "network" && d.Source is not null && d.Source.Contains(':'));
        Assert.Contains(xml.Disks, d => d.ReadOnly);
        Assert.All(xml.Interfaces, n => Assert.False(string.IsNullOrEmpty(n.Type)));
        Assert.Equal("http://fedoraproject.org/fedora/unknown", xml.OsInfoId);
    }

    [Theory]
    [InlineData("http://redhat.com/rhel/9.2", "rhel9.2")]
    [InlineData("http://fedoraproject.org/fedora/40", "fedora40")]
    [InlineData("http://microsoft.com/win/2k19", "win2k19")]
    [InlineData("http://centos.org/centos-stream/9", "centos-stream9")]
    [InlineData("http://libosinfo.org/linux/2022", "linux2022")]
    [InlineData("not a uri", null)]
    [InlineData(null, null)]
    public void Derives_the_short_os_variant(string? id, string? expected) => Assert.Equal(expected, DomainXml.ShortOsVariant(id));

    [Theory]
    [InlineData("b", 4, 0)]
    [InlineData("KiB", 4, 4)]
    [InlineData("MiB", 4, 4096)]
    [InlineData("GiB", 2, 2097152)]
    [InlineData("KB", 1024, 1000)]
    public void Honours_a_hand_written_memory_unit(string unit, long value, long expectedKiB)
    {
        var xml = DomainXml.Parse($"<domain type='kvm'><name>a</name><memory unit='{unit}'>{value}</memory></domain>");
        Assert.Equal(expectedKiB, xml.MemoryKiB);
    }

    [Fact]
    public void Takes_each_disks_own_source_not_its_backing_stores_and_reads_every_sibling()
    {
        var xml = DomainXml.Parse("""
            <domain type='kvm'><name>a</name><!-- a comment -->
              <devices>
                <disk type='file' device='disk'><driver name='qemu' type='qcow2'/><source file='/img/top.qcow2'/>
                  <backingStore type='file'><format type='raw'/><source file='/img/base.raw'/></backingStore>
                  <target dev='vda' bus='virtio'/></disk>
                <disk type='file' device='disk'><source file='/img/second.qcow2'/><target dev='vdb' bus='virtio'/></disk>
                <interface type='bridge'><source bridge='br0'/><mac address='52:54:00:AA:BB:CC'/></interface>
                <interface type='network'><source network='default'/></interface>
              </devices>
              <description>after the devices</description>
            </domain>
            """);
        Assert.Equal(["/img/top.qcow2", "/img/second.qcow2"], xml.Disks.Select(d => d.Source));
        Assert.Equal(["vda", "vdb"], xml.Disks.Select(d => d.Target));
        Assert.Equal(["br0", null], xml.Interfaces.Select(n => n.Bridge));
        Assert.Equal("52:54:00:aa:bb:cc", xml.Interfaces[0].MacAddress);
        Assert.Equal("after the devices", xml.Description);
    }

    [Fact]
    public void A_missing_or_strange_value_stays_unknown()
    {
        var xml = DomainXml.Parse("<domain type='kvm'><name>a</name><memory unit='parsecs'>1</memory><vcpu>many</vcpu><devices><disk/></devices></domain>");
        Assert.Null(xml.MemoryKiB);
        Assert.Null(xml.Vcpus);
        var disk = Assert.Single(xml.Disks);
        Assert.Equal("file", disk.Type);
        Assert.Null(disk.Source);
    }

    [Fact]
    public void Refuses_malformed_xml_and_any_document_type_definition()
    {
        Assert.Throws<InvalidDataException>(() => DomainXml.Parse("<domain><name>a</domain>"));
        Assert.Throws<InvalidDataException>(() => DomainXml.Parse("<network/>"));
        Assert.Throws<InvalidDataException>(() => DomainXml.Parse(
            "<!DOCTYPE domain [<!ENTITY x SYSTEM 'file:///etc/passwd'>]><domain><description>&x;</description></domain>"));
    }
}
