using System.Buffers.Binary;
using System.Text;

namespace KvmHost.Core.Guests;

/// <summary>One internal snapshot as a qcow2 image records it.</summary>
internal sealed record Qcow2Snapshot(string Id, string Name, long VmStateBytes, DateTimeOffset Created);

/// <summary>
/// The snapshot table of a qcow2 image (QEMU's docs/interop/qcow2.txt), read without QEMU: libvirt has no call
/// for the size of an internal snapshot, and starting qemu-img for each disk of each guest is what the module
/// avoids. Read-only; a file that is not qcow2, or a table that does not add up, gives no snapshots, never a
/// failure (the size is a nicety).
/// </summary>
internal static class Qcow2SnapshotTable
{
    private const uint Magic = 0x514649fb; // "QFI\xfb"
    private const int HeaderBytes = 72;
    private const int MaxSnapshots = 65536;       // QCOW_MAX_SNAPSHOTS
    private const int MaxExtraData = 1024;        // QCOW_MAX_SNAPSHOT_EXTRA_DATA
    private const long MaxTableBytes = 64L << 20; // QCOW_MAX_SNAPSHOTS_SIZE

    public static IReadOnlyList<Qcow2Snapshot> Read(Stream image)
    {
        Span<byte> header = stackalloc byte[HeaderBytes];
        if (!ReadAt(image, 0, header)) return [];
        if (BinaryPrimitives.ReadUInt32BigEndian(header) != Magic) return [];
        uint version = BinaryPrimitives.ReadUInt32BigEndian(header[4..]);
        if (version is not (2 or 3)) return [];
        uint count = BinaryPrimitives.ReadUInt32BigEndian(header[60..]);
        ulong offset = BinaryPrimitives.ReadUInt64BigEndian(header[64..]);
        if (count == 0 || count > MaxSnapshots || offset == 0 || offset > long.MaxValue - MaxTableBytes) return [];

        // The table is contiguous: entry by entry from a buffered stream, it is a few reads of the file.
        var snapshots = new List<Qcow2Snapshot>((int)count);
        long position = (long)offset;
        long end = position + MaxTableBytes;
        Span<byte> fixedPart = stackalloc byte[40];
        for (uint i = 0; i < count; i++)
        {
            if (position + fixedPart.Length > end || !ReadAt(image, position, fixedPart)) return [];
            int idSize = BinaryPrimitives.ReadUInt16BigEndian(fixedPart[12..]);
            int nameSize = BinaryPrimitives.ReadUInt16BigEndian(fixedPart[14..]);
            uint seconds = BinaryPrimitives.ReadUInt32BigEndian(fixedPart[16..]);
            long vmState = BinaryPrimitives.ReadUInt32BigEndian(fixedPart[32..]);
            uint extraSize = BinaryPrimitives.ReadUInt32BigEndian(fixedPart[36..]);
            if (extraSize > MaxExtraData) return [];
            byte[] rest = new byte[extraSize + idSize + nameSize];
            if (!ReadAt(image, position + fixedPart.Length, rest)) return [];
            // Version 3 images (and QEMU since 1.1 for version 2) keep the 64-bit size in the extra data.
            if (extraSize >= 8) vmState = (long)Math.Min(BinaryPrimitives.ReadUInt64BigEndian(rest), long.MaxValue);
            string id = Encoding.UTF8.GetString(rest, (int)extraSize, idSize);
            string name = Encoding.UTF8.GetString(rest, (int)extraSize + idSize, nameSize);
            snapshots.Add(new Qcow2Snapshot(id, name, vmState, DateTimeOffset.FromUnixTimeSeconds(seconds)));
            long length = fixedPart.Length + rest.Length;
            position += (length + 7) & ~7L; // each entry is padded to a multiple of 8 bytes
        }
        return snapshots;
    }

    private static bool ReadAt(Stream image, long position, Span<byte> buffer)
    {
        if (position < 0 || position + buffer.Length > image.Length) return false;
        image.Position = position;
        image.ReadExactly(buffer);
        return true;
    }
}
