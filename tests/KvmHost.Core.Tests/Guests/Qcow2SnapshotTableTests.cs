using System.Buffers.Binary;
using System.Text;
using KvmHost.Core.Guests;
using Xunit;

namespace KvmHost.Core.Tests.Guests;

/// <summary>
/// The qcow2 snapshot table, built byte by byte after QEMU's docs/interop/qcow2.txt. (The Pester tests compare the
/// sizes read from real images with what qemu-img reports.)
/// </summary>
public class Qcow2SnapshotTableTests
{
    private sealed record Entry(string Id, string Name, uint Seconds, uint VmState32, ulong? VmState64);

    /// <summary>A version 3 image header with its snapshot table at 4096.</summary>
    private static MemoryStream Image(params Entry[] entries)
    {
        var image = new byte[8192];
        BinaryPrimitives.WriteUInt32BigEndian(image, 0x514649fb);
        BinaryPrimitives.WriteUInt32BigEndian(image.AsSpan(4), 3);
        BinaryPrimitives.WriteUInt32BigEndian(image.AsSpan(20), 16);
        BinaryPrimitives.WriteUInt32BigEndian(image.AsSpan(60), (uint)entries.Length);
        BinaryPrimitives.WriteUInt64BigEndian(image.AsSpan(64), 4096);
        int at = 4096;
        foreach (var entry in entries)
        {
            byte[] id = Encoding.UTF8.GetBytes(entry.Id), name = Encoding.UTF8.GetBytes(entry.Name);
            int extra = entry.VmState64 is null ? 0 : 16;
            var span = image.AsSpan(at);
            BinaryPrimitives.WriteUInt16BigEndian(span[12..], (ushort)id.Length);
            BinaryPrimitives.WriteUInt16BigEndian(span[14..], (ushort)name.Length);
            BinaryPrimitives.WriteUInt32BigEndian(span[16..], entry.Seconds);
            BinaryPrimitives.WriteUInt32BigEndian(span[32..], entry.VmState32);
            BinaryPrimitives.WriteUInt32BigEndian(span[36..], (uint)extra);
            if (entry.VmState64 is { } large) BinaryPrimitives.WriteUInt64BigEndian(span[40..], large);
            id.CopyTo(span[(40 + extra)..]);
            name.CopyTo(span[(40 + extra + id.Length)..]);
            at += (40 + extra + id.Length + name.Length + 7) & ~7;
        }
        return new MemoryStream(image);
    }

    [Fact]
    public void Reads_names_times_and_the_64_bit_memory_size_of_each_snapshot()
    {
        var snapshots = Qcow2SnapshotTable.Read(Image(
            new Entry("1", "before", 1796225489, 0, 95934433),
            new Entry("2", "a name", 1796225500, 0, 5_000_000_000),
            new Entry("10", "cold", 1796225600, 0, 0)));

        Assert.Equal(["before", "a name", "cold"], snapshots.Select(s => s.Name));
        Assert.Equal([95934433L, 5_000_000_000L, 0L], snapshots.Select(s => s.VmStateBytes));
        Assert.Equal("10", snapshots[2].Id);
        Assert.Equal(DateTimeOffset.FromUnixTimeSeconds(1796225489), snapshots[0].Created);
    }

    [Fact]
    public void Takes_the_32_bit_size_from_images_without_extra_data()
    {
        var snapshot = Assert.Single(Qcow2SnapshotTable.Read(Image(new Entry("1", "old", 1, 123456, null))));
        Assert.Equal(123456L, snapshot.VmStateBytes);
    }

    [Fact]
    public void Gives_nothing_for_what_is_not_a_qcow2_image_or_a_table_that_runs_past_the_end()
    {
        Assert.Empty(Qcow2SnapshotTable.Read(new MemoryStream(new byte[100])));
        Assert.Empty(Qcow2SnapshotTable.Read(new MemoryStream(Encoding.ASCII.GetBytes("state-0\n"))));
        var truncated = Image(new Entry("1", "x", 1, 0, 1));
        truncated.SetLength(4100);
        Assert.Empty(Qcow2SnapshotTable.Read(truncated));
        var noSnapshots = Image();
        Assert.Empty(Qcow2SnapshotTable.Read(noSnapshots));
    }
}
