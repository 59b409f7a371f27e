using KvmHost.Core.Guests;
using KvmHost.Core.Platform;
using Xunit;

namespace KvmHost.Core.Tests.Guests;

public class GuestNameTests
{
    [Theory]
    [InlineData("web01")]
    [InlineData("rhel9.2-test_vm")]
    [InlineData("db+replica:2@rack")]
    [InlineData("web*")]
    [InlineData("w?b[0-9]")]
    [InlineData("gäst")]
    public void Accepts_names_and_patterns(string name) => GuestName.Validate(name);

    [Theory]
    [InlineData("a/b", "'/'")]
    [InlineData("..", "'..'")]
    [InlineData("a..b", "'..'")]
    [InlineData("web\n01", "control character")]
    [InlineData("web\t01", "control character")]
    [InlineData("<web>", "'<'")]
    [InlineData("a&b", "'&'")]
    [InlineData("it's", "'''")]
    [InlineData("say\"hi\"", "'\"'")]
    [InlineData("`cmd`", "'`'")]
    [InlineData("a\\b", "'\\'")]
    [InlineData("-rf", "starts with '-'")]
    [InlineData("", "empty")]
    [InlineData("   ", "empty")]
    [InlineData(" web", "white space")]
    public void Refuses_hostile_names_with_the_reason(string name, string reason)
    {
        var failure = Assert.Throws<KvmHostException>(() => GuestName.Validate(name));
        Assert.Equal(ErrorIds.GuestNameInvalid, failure.ErrorId);
        Assert.Equal(FailureKind.InvalidArgument, failure.Kind);
        Assert.Equal(name, failure.Target);
        Assert.Contains(reason, failure.Message);
        Assert.DoesNotContain('\n', failure.Message);
    }

    [Fact]
    public void Refuses_an_over_long_name_counting_bytes()
    {
        GuestName.Validate(new string('a', GuestName.MaxBytes));
        Assert.Throws<KvmHostException>(() => GuestName.Validate(new string('a', GuestName.MaxBytes + 1)));
        Assert.Throws<KvmHostException>(() => GuestName.Validate(new string('ä', GuestName.MaxBytes / 2 + 1)));
    }

    [Fact]
    public void Refuses_null() => Assert.Equal(ErrorIds.GuestNameInvalid, Assert.Throws<KvmHostException>(() => GuestName.Validate(null)).ErrorId);
}

public class LibvirtUriTests
{
    [Theory]
    [InlineData("qemu+ssh://root@kvm1/system", "test:///default", "qemu+ssh://root@kvm1/system")]
    [InlineData(null, "test:///default", "test:///default")]
    [InlineData("", "  ", "qemu:///system")]
    [InlineData(null, null, "qemu:///system")]
    public void Chooses_the_parameter_then_the_environment_then_the_system_daemon(string? requested, string? environment, string expected) =>
        Assert.Equal(expected, LibvirtUri.Resolve(requested, environment));

    [Theory]
    [InlineData("system")]
    [InlineData("qemu:///system\n")]
    [InlineData("qemu:///sys tem")]
    [InlineData(":///system")]
    [InlineData("qe mu:///system")]
    public void Refuses_what_is_not_a_uri(string uri)
    {
        var failure = Assert.Throws<KvmHostException>(() => LibvirtUri.Validate(uri));
        Assert.Equal(ErrorIds.LibvirtUriInvalid, failure.ErrorId);
        Assert.DoesNotContain('\n', failure.Message);
    }

    [Theory]
    [InlineData("qemu:///system", true)]
    [InlineData("qemu+unix:///system?socket=/tmp/lab/run/libvirt/libvirt-sock", true)]
    [InlineData("qemu+ssh://root@kvm1/system", false)]
    [InlineData("qemu+tcp://kvm1/system", false)]
    [InlineData("test:///default", false)]
    public void Knows_which_daemons_run_on_this_machine(string uri, bool local) => Assert.Equal(local, LibvirtUri.IsLocal(uri));
}
