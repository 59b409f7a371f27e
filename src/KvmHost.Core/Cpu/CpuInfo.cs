using System.Text;

namespace KvmHost.Core.Cpu;

/// <summary>
/// What KvmHost needs from /proc/cpuinfo. Parsed from bytes in one pass: a 384-CPU file is about
/// 0.8 MB, and only the first processor's block carries information we use; the rest is counted.
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
        var info = new CpuInfo();
        int processorLines = 0;
        int? s390Count = null;
        bool firstBlockDone = false;

        while (!text.IsEmpty)
        {
            int newline = text.IndexOf((byte)'\n');
            ReadOnlySpan<byte> line = newline < 0 ? text : text[..newline];
            text = newline < 0 ? ReadOnlySpan<byte>.Empty : text[(newline + 1)..];

            if (firstBlockDone)
            {
                // Past the first CPU only the count matters; skip straight to the next "processor" line.
                if (line.StartsWith("processor"u8)) processorLines++;
                int next = text.IndexOf("\nprocessor"u8);
                if (next < 0) break;
                text = text[(next + 1)..];
                continue;
            }

            int colon = line.IndexOf((byte)':');
            if (colon < 0)
            {
                if (line.Trim(" \t\r"u8).IsEmpty && processorLines > 0) firstBlockDone = true;
                continue;
            }
            ReadOnlySpan<byte> key = line[..colon].TrimEnd(" \t"u8);
            ReadOnlySpan<byte> value = line[(colon + 1)..].Trim(" \t\r"u8);

            if (key.SequenceEqual("processor"u8))
            {
                processorLines++;
                if (processorLines > 1) firstBlockDone = true;
            }
            else if (key.StartsWith("processor "u8))
            {
                // s390x lists each CPU as "processor N: version = ..."; the count comes from "# processors".
                info.S390Machine ??= ValueAfter(value, "machine = "u8);
            }
            else if (key.SequenceEqual("flags"u8)) info.Flags ??= Encoding.ASCII.GetString(value);
            else if (key.SequenceEqual("features"u8) || key.SequenceEqual("Features"u8)) info.Features ??= Encoding.ASCII.GetString(value);
            else if (key.SequenceEqual("vendor_id"u8)) info.VendorId ??= Encoding.ASCII.GetString(value);
            else if (key.SequenceEqual("model name"u8)) info.ModelName ??= Encoding.UTF8.GetString(value);
            else if (key.SequenceEqual("cpu"u8)) info.PowerCpu ??= Encoding.UTF8.GetString(value);
            else if (key.SequenceEqual("CPU implementer"u8)) info.CpuImplementer ??= Encoding.ASCII.GetString(value);
            else if (key.SequenceEqual("CPU part"u8)) info.CpuPart ??= Encoding.ASCII.GetString(value);
            else if (key.SequenceEqual("# processors"u8) && int.TryParse(value, out int count)) s390Count = count;
        }
        info.ProcessorCount = s390Count ?? processorLines;
        return info;
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
