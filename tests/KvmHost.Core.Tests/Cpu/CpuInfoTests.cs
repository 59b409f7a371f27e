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
