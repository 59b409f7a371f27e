using KvmHost.Core.Sysctl;
using Xunit;

namespace KvmHost.Core.Tests.Sysctl;

public class SysctlFileTests
{
    private const string Key = "net/ipv4/ip_forward";
    private const string Dotted = "net.ipv4.ip_forward";

    [Theory]
    [InlineData("sysctl/rhel7-etc-sysctl.conf")]
    [InlineData("sysctl/rhel7.0-usr-lib-sysctl.d-00-system.conf")] // no final newline upstream
    [InlineData("sysctl/rhel9.6-usr-lib-sysctl.d-50-default.conf")]
    public void Parsing_and_writing_back_an_untouched_real_file_gives_the_same_bytes(string fixture)
    {
        string text = File.ReadAllText(ScratchRoot.Fixture(fixture));
        Assert.Equal(text, SysctlFile.Parse(text).Text);
    }

    [Fact]
    public void Appending_to_a_real_file_keeps_every_earlier_byte_and_adds_one_line()
    {
        string text = File.ReadAllText(ScratchRoot.Fixture("sysctl/rhel7-etc-sysctl.conf"));
        var file = SysctlFile.Parse(text);
        var edits = file.Set(Key, Dotted, "1");
        Assert.Equal(text + "net.ipv4.ip_forward = 1\n", file.Text);
        Assert.Null(Assert.Single(edits).Before);
    }

    [Fact]
    public void A_file_without_a_final_newline_gains_only_that_newline()
    {
        string text = File.ReadAllText(ScratchRoot.Fixture("sysctl/rhel7.0-usr-lib-sysctl.d-00-system.conf"));
        Assert.False(text.EndsWith('\n'));
        var file = SysctlFile.Parse(text);
        file.Set(Key, Dotted, "1");
        Assert.Equal(text + "\nnet.ipv4.ip_forward = 1\n", file.Text);
    }

    [Fact]
    public void An_existing_assignment_is_replaced_in_place_with_its_own_spacing()
    {
        var file = SysctlFile.Parse("# keep\n\nnet.ipv4.ip_forward=0\nkernel.sysrq = 16\n");
        var edits = file.Set(Key, Dotted, "1");
        Assert.Equal("# keep\n\nnet.ipv4.ip_forward=1\nkernel.sysrq = 16\n", file.Text);
        var edit = Assert.Single(edits);
        Assert.Equal(3, edit.LineNumber);
        Assert.Equal("net.ipv4.ip_forward=0", edit.Before);
    }

    [Fact]
    public void Commented_out_assignments_are_left_alone_and_the_key_is_appended()
    {
        const string text = "#net.ipv4.ip_forward=1\n; net.ipv4.ip_forward = 1\n";
        var file = SysctlFile.Parse(text);
        file.Set(Key, Dotted, "1");
        Assert.Equal(text + "net.ipv4.ip_forward = 1\n", file.Text);
    }

    [Fact]
    public void A_slash_spelled_or_dash_prefixed_assignment_is_the_same_key_and_keeps_its_spelling()
    {
        var file = SysctlFile.Parse("net/ipv4/ip_forward = 0\n-net.ipv4.ip_forward = 0  \n");
        var edits = file.Set(Key, Dotted, "1");
        Assert.Equal("net/ipv4/ip_forward = 1\n-net.ipv4.ip_forward = 1  \n", file.Text);
        Assert.Equal(2, edits.Count);
    }

    [Fact]
    public void A_value_that_is_already_right_is_not_an_edit()
    {
        var file = SysctlFile.Parse("net.ipv4.ip_forward = 1\n");
        Assert.Empty(file.Set(Key, Dotted, "1"));
        Assert.Equal("net.ipv4.ip_forward = 1\n", file.Text);
    }

    [Fact]
    public void Crlf_endings_are_kept_and_used_for_the_new_line()
    {
        var file = SysctlFile.Parse("a = 1\r\nb = 2\r\n");
        file.Set(Key, Dotted, "1");
        Assert.Equal("a = 1\r\nb = 2\r\nnet.ipv4.ip_forward = 1\r\n", file.Text);
    }

    [Fact]
    public void Dash_key_alone_is_an_exclusion_without_a_value()
    {
        var entries = SysctlFile.Parse(File.ReadAllText(ScratchRoot.Fixture("sysctl/rhel9.6-usr-lib-sysctl.d-50-default.conf"))).Entries().ToList();
        var exclusion = Assert.Single(entries, e => e.Key == "net/ipv4/conf/all/rp_filter");
        Assert.Null(exclusion.Value);
        var ping = Assert.Single(entries, e => e.Key == "net/ipv4/ping_group_range");
        Assert.True(ping.IgnoreFailure);
        Assert.Equal("0 2147483647", ping.Value);
    }
}
