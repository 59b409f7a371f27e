using KvmHost.Core.Guests;
using Xunit;

namespace KvmHost.Core.Tests.Guests;

/// <summary>Snapshot XML as libvirt writes it (formatsnapshot), and the XML a checkpoint is asked for with.</summary>
public class SnapshotXmlTests
{
    // virsh snapshot-dumpxml of an internal snapshot of a running tiny guest (libvirt 9.0.0), the domain cut short.
    private const string Running = """
        <domainsnapshot>
          <name>before</name>
          <description>first &lt;one&gt; &amp; more</description>
          <state>running</state>
          <parent>
            <name>root</name>
          </parent>
          <creationTime>1796225489</creationTime>
          <memory snapshot='internal'/>
          <disks>
            <disk name='vda' snapshot='internal'/>
          </disks>
          <domain type='qemu'>
            <name>g1</name>
            <devices><disk type='file' device='disk'><source file='/i/a.qcow2'/><target dev='vda'/></disk></devices>
          </domain>
          <inactiveDomain type='qemu'><name>g1</name></inactiveDomain>
          <cookie><cpu mode='custom'/></cookie>
        </domainsnapshot>
        """;

    [Fact]
    public void Reads_name_parent_description_state_time_and_kind()
    {
        var snapshot = SnapshotXml.Parse(Running);

        Assert.Equal(("before", "root", "first <one> & more"), (snapshot.Name, snapshot.Parent, snapshot.Description));
        Assert.Equal(GuestCheckpointState.Running, snapshot.State);
        Assert.Equal(DateTimeOffset.FromUnixTimeSeconds(1796225489), snapshot.Created);
        Assert.Equal((GuestCheckpointKind.Internal, true), (snapshot.Kind, snapshot.HasMemory));
        Assert.Equal(["internal"], snapshot.DiskModes); // the domain's own <disk> is not taken for a snapshot disk
    }

    [Fact]
    public void An_external_disk_only_snapshot_is_external_without_memory()
    {
        var snapshot = SnapshotXml.Parse("""
            <domainsnapshot><name>ext1</name><state>disk-snapshot</state><creationTime>1</creationTime><memory snapshot='no'/>
              <disks><disk name='vda' snapshot='external' type='file'><driver type='qcow2'/><source file='/i/f1.ext1'/></disk></disks>
            </domainsnapshot>
            """);
        Assert.Equal((GuestCheckpointKind.External, false, GuestCheckpointState.DiskOnly, null), (snapshot.Kind, snapshot.HasMemory, snapshot.State, snapshot.Parent));
    }

    [Fact]
    public void A_snapshot_older_than_the_memory_element_has_memory_when_it_was_taken_running()
    {
        var old = SnapshotXml.Parse("<domainsnapshot><name>x</name><state>paused</state><disks/></domainsnapshot>");
        Assert.True(old.HasMemory);
        Assert.Null(old.Created);
        Assert.Empty(old.DiskModes);
    }

    [Fact]
    public void Builds_the_request_with_the_name_and_description_escaped()
    {
        string xml = SnapshotXml.Build("a&b", "<script> & \"quotes\"");
        var back = SnapshotXml.Parse(xml);
        Assert.Equal(("a&b", "<script> & \"quotes\""), (back.Name, back.Description));
        Assert.DoesNotContain("<script>", xml, StringComparison.Ordinal);
        Assert.DoesNotContain("description", SnapshotXml.Build("n", null), StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("<domain/>")]
    [InlineData("<domainsnapshot><state>running</state></domainsnapshot>")]
    [InlineData("<domainsnapshot><name>x</name>")]
    [InlineData("<!DOCTYPE d [<!ENTITY e 'x'>]><domainsnapshot><name>&e;</name></domainsnapshot>")]
    public void Refuses_what_is_not_a_snapshot(string xml) => Assert.Throws<InvalidDataException>(() => SnapshotXml.Parse(xml));
}
