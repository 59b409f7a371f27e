using System.Runtime.InteropServices;
using System.Text;

namespace KvmHost.Core.Guests;

/// <summary>
/// Reads libvirt's virTypedParameter arrays (the bulk statistics). Each entry is 96 bytes on every 64-bit
/// Linux: an 80-byte NUL-terminated field name, an int type, and an 8-byte value union at offset 88, all in
/// the machine's own byte order (s390x is big-endian).
/// Nothing from the daemon is trusted: a name without its NUL, an unknown type or an absurd count is
/// skipped or refused, never read past.
/// </summary>
internal static class TypedParameters
{
    internal const int FieldLength = 80;
    internal const int EntrySize = 96;
    private const int TypeOffset = 80;
    private const int ValueOffset = 88;
    private const int MaxCount = 1 << 20;

    internal const int TypeInt = 1, TypeUInt = 2, TypeLong = 3, TypeULong = 4, TypeDouble = 5, TypeBoolean = 6, TypeString = 7;

    /// <param name="raw">count * 96 bytes as libvirt laid them out.</param>
    /// <param name="readString">Reads the char* of a string entry (its pointer value); null when unreadable.</param>
    public static Dictionary<string, object> Parse(ReadOnlySpan<byte> raw, int count, Func<long, string?> readString)
    {
        if (count < 0 || count > MaxCount || (long)count * EntrySize > raw.Length)
            throw new InvalidDataException($"libvirt returned {count} typed parameters in {raw.Length} bytes.");
        var values = new Dictionary<string, object>(count, StringComparer.Ordinal);
        for (int i = 0; i < count; i++)
        {
            ReadOnlySpan<byte> entry = raw.Slice(i * EntrySize, EntrySize);
            int end = entry[..FieldLength].IndexOf((byte)0);
            if (end <= 0) continue; // no terminator inside the field, or an empty name: not a parameter to read
            string field = Encoding.UTF8.GetString(entry[..end]);
            ReadOnlySpan<byte> value = entry.Slice(ValueOffset, 8);
            object? parsed = MemoryMarshal.Read<int>(entry.Slice(TypeOffset, 4)) switch
            {
                TypeInt => MemoryMarshal.Read<int>(value),
                TypeUInt => MemoryMarshal.Read<uint>(value),
                TypeLong => MemoryMarshal.Read<long>(value),
                TypeULong => MemoryMarshal.Read<ulong>(value),
                TypeDouble => MemoryMarshal.Read<double>(value),
                TypeBoolean => value[0] != 0,
                TypeString => MemoryMarshal.Read<long>(value) is var pointer and not 0 ? readString(pointer) : null,
                _ => null, // a type newer than this reader
            };
            if (parsed is not null) values[field] = parsed;
        }
        return values;
    }

    /// <summary>An unsigned or signed integer entry as a long; null when absent, of another type, or beyond long.</summary>
    public static long? Integer(IReadOnlyDictionary<string, object> values, string field) =>
        values.TryGetValue(field, out object? value) ? value switch
        {
            int i => i,
            uint u => u,
            long l => l,
            ulong ul when ul <= long.MaxValue => (long)ul,
            _ => null,
        } : null;

    public static string? Text(IReadOnlyDictionary<string, object> values, string field) =>
        values.TryGetValue(field, out object? value) ? value as string : null;
}
