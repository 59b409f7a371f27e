using System.Text;
using KvmHost.Core.Cpu;
using Xunit;

namespace KvmHost.Core.Tests.Cpu;

public class CpuInfoTests
{
    private static CpuInfo Load(string fixture) => CpuInfo.Parse(File.ReadAllBytes(ScratchRoot.Fixture("cpuinfo/" + fixture)));

    [Theory]
    [InlineData("intel-xeon-e5-2650v3-2s-vmx.txt", 40, "GenuineIntel", true, false, false)]
    [InlineData("intel-xeon-x7550-4s-vmx.txt", 64, "GenuineIntel", true, false, false)]
    [InlineData("amd-epyc-7451-2s-svm.txt", 96, "AuthenticAMD", false, true, false)]
    [InlineData("amd-opteron-6328-2s-svm.txt", 16, "AuthenticAMD", false, true, false)]
    [InlineData("x86-kvm-guest-sandybridge-hypervisor-novmx.txt", 4, "GenuineIntel", false, false, true)]
    [InlineData("x86-kvm-guest-xeon-gold-5218r-vmx-hypervisor-nested.txt", 32, "GenuineIntel", true, false, true)]
    [InlineData("x86-virtualbox-guest-no-hypervisor-flag.txt", 2, "GenuineIntel", false, false, false)]
    [InlineData("intel-xeon-e5345-2s-vmx-flag-absent.txt", 8, "GenuineIntel", false, false, false)]
    [InlineData("i386-pentium4-32bit-novmx.txt", 2, "GenuineIntel", false, false, false)]
    public void X86_fixtures_give_count_vendor_and_flags(string fixture, int count, string vendor, bool vmx, bool svm, bool hypervisor)
    {
        var cpu = Load(fixture);
        Assert.Equal(count, cpu.ProcessorCount);
        Assert.Equal(vendor, cpu.VendorId);
        Assert.Equal(vmx, cpu.HasFlag("vmx"));
        Assert.Equal(svm, cpu.HasFlag("svm"));
        Assert.Equal(hypervisor, cpu.HasFlag("hypervisor"));
        Assert.NotNull(cpu.ModelName);
    }

    [Fact]
    public void S390x_counts_from_the_header_and_finds_sie_in_features()
    {
        var cpu = Load("s390x-z13-lpar-sie.txt");
        Assert.Equal(8, cpu.ProcessorCount);
        Assert.True(cpu.HasFlag("sie"));
        Assert.Equal("2964", cpu.S390Machine);
    }

    [Fact]
    public void Ppc64le_and_aarch64_have_no_flag_but_are_counted()
    {
        var power = Load("ppc64le-power8-24cpu.txt");
        Assert.Equal(24, power.ProcessorCount);
        Assert.StartsWith("POWER8", power.PowerCpu);
        var arm = Load("aarch64-graviton3-excerpt.txt");
        Assert.Equal(1, arm.ProcessorCount);
        Assert.Equal("0xd40", arm.CpuPart);
        Assert.False(arm.HasFlag("vmx"));
    }

    [Fact]
    public void Rhel9_vmx_flags_lines_are_not_taken_for_the_flags_line()
    {
        const string text = "processor\t: 0\nvendor_id\t: GenuineIntel\nmodel name\t: X\nflags\t\t: fpu lm hypervisor\nvmx flags\t: vnmi preemption_timer ept\n\nprocessor\t: 1\nflags\t\t: fpu lm hypervisor\nvmx flags\t: vnmi\n";
        var cpu = CpuInfo.Parse(text);
        Assert.Equal(2, cpu.ProcessorCount);
        Assert.Equal("fpu lm hypervisor", cpu.Flags);
        Assert.False(cpu.HasFlag("vmx"));
    }

    [Fact]
    public void A_flag_must_be_a_whole_word()
    {
        var cpu = CpuInfo.Parse("processor : 0\nflags : vmxfoo svm_lock\n");
        Assert.False(cpu.HasFlag("vmx"));
        Assert.False(cpu.HasFlag("svm"));
    }

    [Fact]
    public void A_generated_384_cpu_file_is_counted_exactly()
    {
        var builder = new StringBuilder();
        string block = File.ReadAllText(ScratchRoot.Fixture("cpuinfo/intel-xeon-e5-2650v3-2s-vmx.txt")).Split("\n\n")[0];
        for (int i = 0; i < 384; i++)
            builder.Append(block.Replace("processor\t: 0", $"processor\t: {i}")).Append("\nvmx flags\t: vnmi preemption_timer\n\n");
        var cpu = CpuInfo.Parse(builder.ToString());
        Assert.Equal(384, cpu.ProcessorCount);
        Assert.True(cpu.HasFlag("vmx"));
    }

    [Fact]
    public void Empty_input_gives_zero_processors()
    {
        Assert.Equal(0, CpuInfo.Parse("").ProcessorCount);
    }
}

public class CpuInfoReaderTests
{
    public static TheoryData<string, int> FixturesAndChunkSizes()
    {
        var data = new TheoryData<string, int>();
        foreach (string path in Directory.GetFiles(ScratchRoot.Fixture("cpuinfo"), "*.txt"))
            foreach (int size in new[] { 1, 2, 9, 10, 11, 64, 4096 })
                data.Add(Path.GetFileName(path), size);
        return data;
    }

    [Theory]
    [MemberData(nameof(FixturesAndChunkSizes))]
    public void Chunks_of_any_size_give_what_the_whole_text_gives(string fixture, int chunkSize)
    {
        byte[] bytes = File.ReadAllBytes(ScratchRoot.Fixture("cpuinfo/" + fixture));
        CpuInfo whole = CpuInfo.Parse(bytes);
        var reader = new CpuInfo.Reader();
        for (int at = 0; at < bytes.Length; at += chunkSize)
            reader.Append(bytes.AsSpan(at, Math.Min(chunkSize, bytes.Length - at)));
        CpuInfo chunked = reader.Complete();

        Assert.False(reader.ContainsNul);
        Assert.Equal(whole.ProcessorCount, chunked.ProcessorCount);
        Assert.Equal(whole.VendorId, chunked.VendorId);
        Assert.Equal(whole.ModelName, chunked.ModelName);
        Assert.Equal(whole.Flags, chunked.Flags);
        Assert.Equal(whole.Features, chunked.Features);
        Assert.Equal(whole.PowerCpu, chunked.PowerCpu);
        Assert.Equal(whole.CpuPart, chunked.CpuPart);
        Assert.Equal(whole.S390Machine, chunked.S390Machine);
    }

    [Theory]
    [InlineData(1)]
    [InlineData(7)]
    [InlineData(10)]
    [InlineData(131072)]
    public void A_4096_cpu_file_is_counted_exactly_whatever_the_chunk_boundaries(int chunkSize)
    {
        var builder = new StringBuilder();
        string block = File.ReadAllText(ScratchRoot.Fixture("cpuinfo/intel-xeon-e5-2650v3-2s-vmx.txt")).Split("\n\n")[0];
        for (int i = 0; i < 4096; i++)
            builder.Append(block.Replace("processor\t: 0", $"processor\t: {i}")).Append("\nvmx flags\t: vnmi preemption_timer\n\n");
        byte[] bytes = Encoding.ASCII.GetBytes(builder.ToString());
        var reader = new CpuInfo.Reader();
        for (int at = 0; at < bytes.Length; at += chunkSize)
            reader.Append(bytes.AsSpan(at, Math.Min(chunkSize, bytes.Length - at)));
        CpuInfo cpu = reader.Complete();
        Assert.Equal(4096, cpu.ProcessorCount);
        Assert.True(cpu.HasFlag("vmx"));
    }

    [Fact]
    public void A_last_line_without_a_newline_still_counts()
    {
        Assert.Equal(2, CpuInfo.Parse("processor\t: 0\nflags\t: lm vmx\n\nprocessor\t: 1").ProcessorCount);
        Assert.Equal("lm vmx", CpuInfo.Parse("processor\t: 0\nflags\t: lm vmx").Flags);
    }

    [Fact]
    public void A_nul_byte_in_any_chunk_is_reported()
    {
        var reader = new CpuInfo.Reader();
        reader.Append("processor\t: 0\n"u8);
        reader.Append("flags\t: \0vmx\n"u8);
        reader.Complete();
        Assert.True(reader.ContainsNul);
    }
}
