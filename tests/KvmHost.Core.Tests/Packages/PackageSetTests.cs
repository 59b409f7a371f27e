using KvmHost.Core.Packages;
using KvmHost.Core.Platform;
using Xunit;

namespace KvmHost.Core.Tests.Packages;

public class PackageSetTests
{
    private static ReleaseProfile Profile(string fixture) =>
        ReleaseProfile.FromOsRelease(OsRelease.Parse(File.ReadAllText(ScratchRoot.Fixture("os-release/" + fixture))));

    [Fact]
    public void Additions_follow_the_release_set_once_each()
    {
        var names = PackageSet.Resolve(Profile("rhel-9.6.os-release"), ["virt-viewer", "libvirt", "virt-viewer"], withoutDefaults: false);
        Assert.Equal(["qemu-kvm", "qemu-img", "libvirt", "python3-libvirt", "guestfs-tools", "virt-install", "virt-viewer"], names);
    }

    [Fact]
    public void Without_defaults_only_the_given_names_remain_and_none_at_all_is_an_error()
    {
        Assert.Equal(["virt-top"], PackageSet.Resolve(Profile("fedora-42.os-release"), ["virt-top"], withoutDefaults: true));
        Assert.Equal(ErrorIds.PackageNameInvalid,
            Assert.Throws<KvmHostException>(() => PackageSet.Resolve(Profile("fedora-42.os-release"), [], withoutDefaults: true)).ErrorId);
    }

    [Theory]
    [InlineData("fedora-42.os-release")]
    [InlineData("rhel-8.10.os-release")]
    [InlineData("debian-12.os-release")]
    public void Every_release_set_is_made_of_valid_names_that_rpm_or_dpkg_can_query(string fixture)
    {
        foreach (string name in Profile(fixture).KvmPackages) PackageSet.Validate(name);
    }

    [Theory]
    [InlineData("-y")]
    [InlineData("--installroot=/")]
    [InlineData("qemu kvm")]
    [InlineData("libvirt\n")]
    [InlineData("virt*")]
    [InlineData("a;reboot")]
    [InlineData("$(id)")]
    [InlineData("@virtualization")]
    [InlineData("")]
    public void Names_that_could_be_options_globs_or_shell_are_refused(string name)
    {
        var e = Assert.Throws<KvmHostException>(() => PackageSet.Validate(name));
        Assert.Equal(ErrorIds.PackageNameInvalid, e.ErrorId);
        Assert.NotNull(e.Hint);
    }

    [Theory]
    [InlineData("libstdc++")]
    [InlineData("qemu-kvm")]
    [InlineData("python3.11-libvirt")]
    [InlineData("libvirt_daemon")]
    public void Real_package_names_pass(string name) => PackageSet.Validate(name);
}
