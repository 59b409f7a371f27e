using KvmHost.Core.Services;
using Xunit;

namespace KvmHost.Core.Tests.Services;

public class SystemctlShowParserTests
{
    private static string Fixture(string name) => File.ReadAllText(ScratchRoot.Fixture("cmdoutput/" + name));

    [Fact]
    public void Reads_the_five_properties_from_a_full_show_of_one_unit()
    {
        var unit = Assert.Single(SystemctlShowParser.Parse(Fixture("systemctl-show-nginx.service-full.txt")));
        Assert.Equal(new SystemdUnitState("nginx.service", "loaded", "active", "running", "enabled"), unit);
        Assert.True(unit.IsActive && unit.IsEnabled && unit.Exists);
    }

    [Fact]
    public void Reads_a_property_subset_without_UnitFileState()
    {
        var unit = Assert.Single(SystemctlShowParser.Parse(Fixture("systemctl-show-nginx.service-property-subset.txt")));
        Assert.Equal("nginx.service", unit.Name);
        Assert.Equal("running", unit.SubState);
        Assert.Equal(string.Empty, unit.UnitFileState);
        Assert.False(unit.IsEnabled);
    }

    [Fact]
    public void Drops_a_truncated_block_that_names_no_unit()
    {
        // systemd-219 output cut off before Id=: a unit without a name cannot be matched to what was asked.
        Assert.Empty(SystemctlShowParser.Parse(Fixture("systemctl-show-sshd.service-rhel7-partial.txt")));
    }

    [Fact]
    public void Splits_several_units_in_order_and_marks_the_missing_one_not_found()
    {
        var units = SystemctlShowParser.Parse(Fixture("systemctl-show-libvirtd-units-debian12.txt"));
        Assert.Equal(["libvirtd.service", "libvirtd.socket", "virtqemud.socket", "libvirtd-ro.socket"], units.Select(u => u.Name));
        Assert.False(units[2].Exists);
        Assert.All(units.Where(u => u.Name != "virtqemud.socket"), u => Assert.True(u.IsActive && u.IsExplicitlyEnabled));
    }

    [Theory]
    [InlineData("masked", "masked", true, false)]
    [InlineData("loaded", "static", false, true)]
    [InlineData("loaded", "enabled-runtime", false, false)]
    [InlineData("loaded", "indirect", false, true)]
    public void Classifies_unit_file_states(string load, string file, bool masked, bool bootReady)
    {
        var unit = new SystemdUnitState("x.socket", load, "inactive", "dead", file);
        Assert.Equal(masked, unit.IsMasked);
        Assert.Equal(bootReady, unit.IsEnabled);
        Assert.True(unit.Exists);
    }
}
