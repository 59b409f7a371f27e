using System.Runtime.InteropServices;
using System.Text;
using KvmHost.Core.Guests;
using Xunit;

namespace KvmHost.Core.Tests.Guests;

/// <summary>virTypedParameter arrays as libvirt lays them out in memory, built byte by byte.</summary>
public class TypedParametersTests
{
    private delegate void ValueWriter(Span<byte> value);

    private sealed class ParameterBuffer
    {
        private readonly List<byte[]> _entries = [];
        private readonly Dictionary<long, string> _strings = [];

        public ParameterBuffer Add(string field, int type, ValueWriter writeValue, int? nameBytes = null)
        {
            var entry = new byte[TypedParameters.EntrySize];
            byte[] name = Encoding.UTF8.GetBytes(field);
            name.AsSpan(0, Math.Min(name.Length, nameBytes ?? TypedParameters.FieldLength - 1)).CopyTo(entry);
            MemoryMarshal.Write(entry.AsSpan(80, 4), in type);
            writeValue(entry.AsSpan(88, 8));
            _entries.Add(entry);
            return this;
        }

        public ParameterBuffer Int(string f, int v) => Add(f, TypedParameters.TypeInt, s => MemoryMarshal.Write(s, in v));
        public ParameterBuffer UInt(string f, uint v) => Add(f, TypedParameters.TypeUInt, s => MemoryMarshal.Write(s, in v));
        public ParameterBuffer Long(string f, long v) => Add(f, TypedParameters.TypeLong, s => MemoryMarshal.Write(s, in v));
        public ParameterBuffer ULong(string f, ulong v) => Add(f, TypedParameters.TypeULong, s => MemoryMarshal.Write(s, in v));
        public ParameterBuffer Double(string f, double v) => Add(f, TypedParameters.TypeDouble, s => MemoryMarshal.Write(s, in v));
        public ParameterBuffer Bool(string f, bool v) => Add(f, TypedParameters.TypeBoolean, s => s[0] = (byte)(v ? 1 : 0));

        public ParameterBuffer String(string f, string v)
        {
            long handle = 0x1000 + _strings.Count * 8; // a stand-in pointer the reader resolves
            _strings[handle] = v;
            return Add(f, TypedParameters.TypeString, s => MemoryMarshal.Write(s, in handle));
        }

        public Dictionary<string, object> Parse(int? count = null) =>
            TypedParameters.Parse(_entries.SelectMany(e => e).ToArray(), count ?? _entries.Count, p => _strings.GetValueOrDefault(p));
    }

    [Fact]
    public void Reads_every_type_libvirt_defines()
    {
        var values = new ParameterBuffer()
            .Int("state.state", 1).UInt("vcpu.current", 4).Long("offset", -5).ULong("cpu.time", 123456789012UL)
            .Double("ratio", 0.25).Bool("flag", true).String("block.0.name", "vda").Parse();

        Assert.Equal(1, values["state.state"]);
        Assert.Equal(4u, values["vcpu.current"]);
        Assert.Equal(-5L, values["offset"]);
        Assert.Equal(123456789012UL, values["cpu.time"]);
        Assert.Equal(0.25, values["ratio"]);
        Assert.Equal(true, values["flag"]);
        Assert.Equal("vda", values["block.0.name"]);
        Assert.Equal(123456789012L, TypedParameters.Integer(values, "cpu.time"));
        Assert.Equal(4L, TypedParameters.Integer(values, "vcpu.current"));
        Assert.Null(TypedParameters.Integer(values, "ratio"));
        Assert.Null(TypedParameters.Integer(values, "missing"));
    }

    [Fact]
    public void Skips_an_unknown_type_and_a_name_without_its_terminator()
    {
        var values = new ParameterBuffer()
            .Add("future.kind", 99, s => s.Fill(0xff))
            .Add(new string('x', 90), TypedParameters.TypeInt, s => s[0] = 7, nameBytes: 80) // fills all 80 bytes: no NUL
            .Int("state.reason", 2)
            .Parse();

        Assert.Equal(["state.reason"], values.Keys);
    }

    [Fact]
    public void Refuses_a_count_larger_than_the_memory_it_was_given()
    {
        var buffer = new ParameterBuffer().Int("state.state", 1);
        Assert.Throws<InvalidDataException>(() => buffer.Parse(count: 2));
        Assert.Throws<InvalidDataException>(() => buffer.Parse(count: -1));
    }

    [Fact]
    public void An_unsigned_value_beyond_long_is_not_made_negative()
    {
        var values = new ParameterBuffer().ULong("huge", ulong.MaxValue).Parse();
        Assert.Null(TypedParameters.Integer(values, "huge"));
    }

    [Fact]
    public void A_null_string_pointer_gives_no_entry()
    {
        var values = new ParameterBuffer().Add("block.0.path", TypedParameters.TypeString, s => s.Clear()).Parse();
        Assert.Empty(values);
    }

    [Fact]
    public void Domain_statistics_pick_their_fields_and_pair_block_sizes_with_names()
    {
        var values = new ParameterBuffer()
            .Int("state.state", 1).Int("state.reason", 1).ULong("cpu.time", 2_500_000_000)
            .ULong("balloon.current", 262144).ULong("balloon.maximum", 524288)
            .UInt("vcpu.current", 2).UInt("vcpu.maximum", 4)
            .UInt("block.count", 2)
            .String("block.0.name", "vda").String("block.0.path", "/var/lib/libvirt/images/a.qcow2")
            .ULong("block.0.capacity", 1073741824).ULong("block.0.allocation", 200704)
            .String("block.1.name", "sda")
            .Parse();

        var stats = DomainStats.From(values);

        Assert.Equal(1, stats.State);
        Assert.Equal(1, stats.Reason);
        Assert.Equal(2_500_000_000, stats.CpuTimeNanoseconds);
        Assert.Equal(262144, stats.BalloonCurrentKiB);
        Assert.Equal(524288, stats.BalloonMaximumKiB);
        Assert.Equal(2, stats.VcpuCurrent);
        Assert.Equal(4, stats.VcpuMaximum);
        Assert.Equal(2, stats.Blocks.Count);
        Assert.Equal(new BlockStats("vda", "/var/lib/libvirt/images/a.qcow2", 1073741824, 200704), stats.Blocks[0]);
        Assert.Equal(new BlockStats("sda", null, null, null), stats.Blocks[1]);
    }

    [Fact]
    public void Domain_statistics_of_a_driver_that_reports_only_state_leave_the_rest_unknown()
    {
        var stats = DomainStats.From(new ParameterBuffer().Int("state.state", 5).Int("state.reason", 2).Parse());
        Assert.Equal(5, stats.State);
        Assert.Null(stats.BalloonCurrentKiB);
        Assert.Null(stats.VcpuCurrent);
        Assert.Empty(stats.Blocks);
    }
}
