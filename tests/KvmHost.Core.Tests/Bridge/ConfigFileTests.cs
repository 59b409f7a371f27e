using KvmHost.Core.Bridge;
using KvmHost.Core.Platform;
using Xunit;

namespace KvmHost.Core.Tests.Bridge;

public class ConfigFileTests
{
    private static string Fixture(string path) => File.ReadAllText(ScratchRoot.Fixture(path));

    [Theory]
    [InlineData("keyfile/nm-writer-Test_Write_Bridge_Main.nmconnection")]
    [InlineData("keyfile/nm-writer-Test_Write_Bridge_Component.nmconnection")]
    [InlineData("keyfile/nm-writer-Test_Write_Wired.nmconnection")]
    public void Keyfiles_written_by_NetworkManager_render_back_byte_for_byte(string fixture)
    {
        string text = Fixture(fixture);
        string rendered = Keyfile.Parse(text).Render();
        // The writer's files end without a newline after an empty last group; ours always end with one.
        Assert.Equal(text.TrimEnd('\n') + "\n", rendered);
    }

    [Theory]
    [InlineData("ifcfg/initscripts-example-ifcfg-br0")]
    [InlineData("ifcfg/nm-test-ifcfg-test-bridge-main")]
    [InlineData("ifcfg/nm-writer-ifcfg-Test_Write_Bridge_Component.cexpected")]
    public void Ifcfg_files_keep_comments_and_quoting_when_untouched(string fixture)
    {
        string text = Fixture(fixture);
        Assert.Equal(text.TrimEnd('\n') + "\n", IfcfgFile.Parse(text).Render());
    }

    [Fact]
    public void Ifcfg_values_are_read_like_the_shell_reads_them()
    {
        var file = IfcfgFile.Parse(Fixture("ifcfg/nm-test-ifcfg-test-bridge-main"));
        Assert.Equal("priority=32744 hello_time=7 max_age=39 ageing_time=235352 multicast_snooping=0 group_fwd_mask=24 vlan_filtering=1 default_pvid=99", file.Get("BRIDGING_OPTS"));
        Assert.Equal("Bridge", file.Get("TYPE"));
        Assert.Equal("00:16:41:11:22:33", file.Get("MACADDR"));
    }

    [Theory]
    [InlineData("a b", "\"a b\"")]
    [InlineData("$(reboot)", "\"\\$(reboot)\"")]
    [InlineData("a\"b`c\\d", "\"a\\\"b\\`c\\\\d\"")]
    [InlineData("192.0.2.1", "192.0.2.1")]
    public void Ifcfg_values_are_quoted_so_bash_cannot_run_them(string value, string expected)
    {
        Assert.Equal(expected, IfcfgFile.Quote(value, "X"));
        Assert.Equal(value, IfcfgFile.Parse($"X={expected}\n").Get("X"));
    }

    [Theory]
    [InlineData("a\nIPADDR=6.6.6.6")]
    [InlineData("a\rb")]
    [InlineData("a\0b")]
    public void No_value_can_inject_a_line(string value)
    {
        Assert.Equal(ErrorIds.UnsafeConfigurationValue, Assert.Throws<KvmHostException>(() => IfcfgFile.Empty().Set("NAME", value)).ErrorId);
        Assert.Equal(ErrorIds.UnsafeConfigurationValue, Assert.Throws<KvmHostException>(() => new Keyfile().Set("connection", "id", value).Render()).ErrorId);
    }

    [Fact]
    public void Keyfile_escapes_a_leading_space_and_backslashes_like_GKeyFile()
    {
        string text = new Keyfile().Set("connection", "id", " a\\b").Render();
        Assert.Equal("[connection]\nid=\\sa\\\\b\n", text);
        Assert.Equal(" a\\b", Keyfile.Parse(text).Get("connection", "id"));
    }

    [Fact]
    public void Nmcli_versions_pick_the_property_names()
    {
        Assert.False(BridgeConfigs.VersionUsesNewNetworkManagerNames("nmcli tool, version 1.42.4"));
        Assert.True(BridgeConfigs.VersionUsesNewNetworkManagerNames("nmcli tool, version 1.46.0"));
        Assert.True(BridgeConfigs.VersionUsesNewNetworkManagerNames("nmcli tool, version 1.52.0-1.el10"));
        Assert.Null(BridgeConfigs.VersionUsesNewNetworkManagerNames("garbage"));
    }

    [Theory]
    [InlineData("rhel-9.4.os-release", false)]
    [InlineData("rhel-8.10.os-release", false)]
    [InlineData("rhel-10.0.os-release", true)]
    [InlineData("fedora-42.os-release", true)]
    [InlineData("debian-12.os-release", false)]
    [InlineData("ubuntu-24.04.os-release", true)]
    public void Offline_the_release_picks_the_property_names(string osRelease, bool newNames)
    {
        var release = ReleaseProfile.FromOsRelease(OsRelease.Parse(Fixture("os-release/" + osRelease)));
        Assert.Equal(newNames, BridgeConfigs.ReleaseUsesNewNetworkManagerNames(release));
    }

    [Theory]
    [InlineData("DEVICE=eth0\nIPADDR=\"10.0.0.2\nreboot\"\nPREFIX=24\n", 2)]
    [InlineData("DEVICE=eth0\nNAME='a\nb'\n", 2)]
    [InlineData("DEVICE=eth0\nIPADDR=10.0.0.2\\\nPREFIX=24\n", 2)]
    public void An_ifcfg_value_that_runs_onto_the_next_line_is_refused_with_the_file_and_line(string text, int line)
    {
        var e = Assert.Throws<KvmHostException>(() => IfcfgFile.Parse(text, "/etc/sysconfig/network-scripts/ifcfg-eth0"));
        Assert.Equal(ErrorIds.IfcfgFileMalformed, e.ErrorId);
        Assert.Contains($"ifcfg-eth0 line {line}", e.Message);
    }

    [Fact]
    public void Quotes_closed_on_their_line_and_comments_with_quotes_are_fine()
    {
        var file = IfcfgFile.Parse("NAME=\"System eth0\" # it's the uplink\nIPADDR='10.0.0.2'\n# don't touch\n", "/etc/sysconfig/network-scripts/ifcfg-eth0");
        Assert.Equal("System eth0", file.Get("NAME"));
        Assert.Equal("10.0.0.2", file.Get("IPADDR"));
    }
}
