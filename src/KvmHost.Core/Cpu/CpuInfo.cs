using System.Text;

namespace KvmHost.Core.Cpu;

/// <summary>
/// What KvmHost needs from /proc/cpuinfo. Only the first processor's block carries information we use; the rest
/// (a 4096-CPU file is about 8 MB) is only counted. The text can arrive in chunks (<see cref="Reader"/>), so the
/// file is parsed as it is read, in one pass, without ever being held whole.
/// </summary>
internal sealed class CpuInfo
{
    public string? VendorId { get; private set; }
    public string? ModelName { get; private set; }

    /// <summary>The x86 "flags" line of the first CPU (never RHEL 9's "vmx flags" line).</summary>
    public string? Flags { get; private set; }

    /// <summary>s390x "features" / aarch64 "Features".</summary>
    public string? Features { get; private set; }

    /// <summary>ppc64 "cpu" line, e.g. "POWER8 (architected), altivec supported".</summary>
    public string? PowerCpu { get; private set; }

    public string? CpuImplementer { get; private set; }
    public string? CpuPart { get; private set; }

    /// <summary>s390x machine type from the "processor 0: version = .., identification = .., machine = 2964" line.</summary>
    public string? S390Machine { get; private set; }

    public int ProcessorCount { get; private set; }

    public static CpuInfo Parse(string text) => Parse(Encoding.UTF8.GetBytes(text));

    public static CpuInfo Parse(ReadOnlySpan<byte> text)
    {
        var reader = new Reader();
        reader.Append(text);
        return reader.Complete();
    }

    /// <summary>
    /// Parses cpuinfo text handed over in chunks of any size. Lines of the first block are parsed one by one (a line
    /// cut by a chunk boundary is carried over); after it, lines starting with "processor" are counted with a
    /// vectorized search, so the cost grows with the bytes, never with the product of CPUs and bytes.
    /// </summary>
    public sealed class Reader
    {
        private static ReadOnlySpan<byte> NextProcessor => "\nprocessor"u8;

        private readonly CpuInfo _info = new();
        private byte[] _partialLine = new byte[256];
        private int _partialLength;
        private int _processorLines;
        private int? _s390Count;
        private bool _firstBlockDone;
        // Counting mode: the last bytes of the previous chunk, for a "\nprocessor" cut by the chunk boundary.
        private readonly byte[] _tail = new byte[16];
        private int _tailLength;

        /// <summary>True once any chunk held a NUL byte: then this is not cpuinfo text.</summary>
        public bool ContainsNul { get; private set; }

        public void Append(ReadOnlySpan<byte> chunk)
        {
            if (!ContainsNul && chunk.IndexOf((byte)0) >= 0) ContainsNul = true;
            while (!chunk.IsEmpty)
            {
                if (_firstBlockDone)
                {
                    CountProcessorLines(chunk);
                    return;
                }
                int newline = chunk.IndexOf((byte)'\n');
                if (newline < 0)
                {
                    Carry(chunk);
                    return;
                }
                if (_partialLength > 0)
                {
                    Carry(chunk[..newline]);
                    ParseLine(_partialLine.AsSpan(0, _partialLength));
                    _partialLength = 0;
                }
                else
                {
                    ParseLine(chunk[..newline]);
                }
                // Counting starts at this line's newline, so that a "processor" line right after it is seen.
                chunk = _firstBlockDone ? chunk[newline..] : chunk[(newline + 1)..];
            }
        }

        public CpuInfo Complete()
        {
            if (!_firstBlockDone && _partialLength > 0) ParseLine(_partialLine.AsSpan(0, _partialLength));
            _partialLength = 0;
            _info.ProcessorCount = _s390Count ?? _processorLines;
            return _info;
        }

        private void Carry(ReadOnlySpan<byte> bytes)
        {
            if (_partialLength + bytes.Length > _partialLine.Length)
                Array.Resize(ref _partialLine, Math.Max(_partialLine.Length * 2, _partialLength + bytes.Length));
            bytes.CopyTo(_partialLine.AsSpan(_partialLength));
            _partialLength += bytes.Length;
        }

        private void CountProcessorLines(ReadOnlySpan<byte> chunk)
        {
            // A match that starts in the previous chunk's tail and ends in this one; none lies within either alone
            // (the tail is shorter than the needle, and matches inside this chunk are counted below).
            if (_tailLength > 0)
            {
                Span<byte> seam = stackalloc byte[32];
                int head = Math.Min(chunk.Length, NextProcessor.Length - 1);
                _tail.AsSpan(0, _tailLength).CopyTo(seam);
                chunk[..head].CopyTo(seam[_tailLength..]);
                if (seam[..(_tailLength + head)].IndexOf(NextProcessor) >= 0) _processorLines++;
            }
            for (ReadOnlySpan<byte> rest = chunk; ;)
            {
                int at = rest.IndexOf(NextProcessor);
                if (at < 0) break;
                _processorLines++;
                rest = rest[(at + NextProcessor.Length)..];
            }
            // Keep what could begin a match cut by the next boundary (the tail joins a short chunk's bytes).
            ReadOnlySpan<byte> keep = chunk.Length >= NextProcessor.Length - 1
                ? chunk[^(NextProcessor.Length - 1)..]
                : [.. _tail.AsSpan(0, _tailLength), .. chunk];
            if (keep.Length > NextProcessor.Length - 1) keep = keep[^(NextProcessor.Length - 1)..];
            keep.CopyTo(_tail);
            _tailLength = keep.Length;
        }

        private void ParseLine(ReadOnlySpan<byte> line)
        {
            int colon = line.IndexOf((byte)':');
            if (colon < 0)
            {
                if (line.Trim(" \t\r"u8).IsEmpty && _processorLines > 0) _firstBlockDone = true;
                return;
            }
            ReadOnlySpan<byte> key = line[..colon].TrimEnd(" \t"u8);
            ReadOnlySpan<byte> value = line[(colon + 1)..].Trim(" \t\r"u8);

            if (key.SequenceEqual("processor"u8))
            {
                _processorLines++;
                if (_processorLines > 1) _firstBlockDone = true;
            }
            else if (key.StartsWith("processor "u8))
            {
                // s390x lists each CPU as "processor N: version = ..."; the count comes from "# processors".
                _info.S390Machine ??= ValueAfter(value, "machine = "u8);
            }
            else if (key.SequenceEqual("flags"u8)) _info.Flags ??= Encoding.ASCII.GetString(value);
            else if (key.SequenceEqual("features"u8) || key.SequenceEqual("Features"u8)) _info.Features ??= Encoding.ASCII.GetString(value);
            else if (key.SequenceEqual("vendor_id"u8)) _info.VendorId ??= Encoding.ASCII.GetString(value);
            else if (key.SequenceEqual("model name"u8)) _info.ModelName ??= Encoding.UTF8.GetString(value);
            else if (key.SequenceEqual("cpu"u8)) _info.PowerCpu ??= Encoding.UTF8.GetString(value);
            else if (key.SequenceEqual("CPU implementer"u8)) _info.CpuImplementer ??= Encoding.ASCII.GetString(value);
            else if (key.SequenceEqual("CPU part"u8)) _info.CpuPart ??= Encoding.ASCII.GetString(value);
            else if (key.SequenceEqual("# processors"u8) && int.TryParse(value, out int count)) _s390Count = count;
        }
    }

    /// <summary>True when <paramref name="flag"/> is a whole word of the flags or features line.</summary>
    public bool HasFlag(string flag) => HasWord(Flags, flag) || HasWord(Features, flag);

    private static bool HasWord(string? line, string word)
    {
        if (line is null) return false;
        int at = 0;
        while ((at = line.IndexOf(word, at, StringComparison.Ordinal)) >= 0)
        {
            bool startOk = at == 0 || line[at - 1] == ' ' || line[at - 1] == '\t';
            int end = at + word.Length;
            bool endOk = end == line.Length || line[end] == ' ' || line[end] == '\t';
            if (startOk && endOk) return true;
            at = end;
        }
        return false;
    }

    private static string? ValueAfter(ReadOnlySpan<byte> value, ReadOnlySpan<byte> marker)
    {
        int at = value.IndexOf(marker);
        if (at < 0) return null;
        var rest = value[(at + marker.Length)..];
        int end = rest.IndexOfAny(" ,"u8);
        return Encoding.ASCII.GetString(end < 0 ? rest : rest[..end]);
    }
}
