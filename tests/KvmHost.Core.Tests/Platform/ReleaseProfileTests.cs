using KvmHost.Core.Platform;
using Xunit;

namespace KvmHost.Core.Tests.Platform;

public class ReleaseProfileTests
{
    private static ReleaseProfile FromFixture(string name) =>
        ReleaseProfile.FromOsRelease(OsRelease.Parse(File.ReadAllText(ScratchRoot.Fixture("os-release/" + name))));

    [Theory]
    [InlineData("rhel-7.5.os-release", 7, PackageManagerKind.Yum, LibvirtLayout.Monolithic, BridgeBackend.NetworkScripts)]
    [InlineData("centos-7.os-release", 7, PackageManagerKind.Yum, LibvirtLayout.Monolithic, BridgeBackend.NetworkScripts)]
    [InlineData("ol-7.5.os-release", 7, PackageManagerKind.Yum, LibvirtLayout.Monolithic, BridgeBackend.NetworkScripts)]
    [InlineData("rhel-8.0.os-release", 8, PackageManagerKind.Dnf, LibvirtLayout.Monolithic, BridgeBackend.NetworkManager)]
    [InlineData("rhel-8.10.os-release", 8, PackageManagerKind.Dnf, LibvirtLayout.Monolithic, BridgeBackend.NetworkManager)]
    [InlineData("centos-8.os-release", 8, PackageManagerKind.Dnf, LibvirtLayout.Monolithic, BridgeBackend.NetworkManager)]
    [InlineData("centos-stream-8.os-release", 8, PackageManagerKind.Dnf, LibvirtLayout.Monolithic, BridgeBackend.NetworkManager)]
    [InlineData("rocky-8.10.os-release", 8, PackageManagerKind.Dnf, LibvirtLayout.Monolithic, BridgeBackend.NetworkManager)]
    [InlineData("ol-8.9.os-release", 8, PackageManagerKind.Dnf, LibvirtLayout.Monolithic, BridgeBackend.NetworkManager)]
    [InlineData("rhel-9.4.os-release", 9, PackageManagerKind.Dnf, LibvirtLayout.Modular, BridgeBackend.NetworkManager)]
    [InlineData("rhel-9.6.os-release", 9, PackageManagerKind.Dnf, LibvirtLayout.Modular, BridgeBackend.NetworkManager)]
    [InlineData("centos-stream-9.os-release", 9, PackageManagerKind.Dnf, LibvirtLayout.Modular, BridgeBackend.NetworkManager)]
    [InlineData("rocky-9.3.os-release", 9, PackageManagerKind.Dnf, LibvirtLayout.Modular, BridgeBackend.NetworkManager)]
    [InlineData("almalinux-9.6.os-release", 9, PackageManagerKind.Dnf, LibvirtLayout.Modular, BridgeBackend.NetworkManager)]
    [InlineData("rhel-10.0.os-release", 10, PackageManagerKind.Dnf, LibvirtLayout.Modular, BridgeBackend.NetworkManager)]
    [InlineData("almalinux-10.0.os-release", 10, PackageManagerKind.Dnf, LibvirtLayout.Modular, BridgeBackend.NetworkManager)]
    [InlineData("fedora-42.os-release", 42, PackageManagerKind.Dnf, LibvirtLayout.Modular, BridgeBackend.NetworkManager)]
    [InlineData("debian-12.os-release", 12, PackageManagerKind.Apt, LibvirtLayout.Monolithic, BridgeBackend.NetworkManager)]
    [InlineData("debian-13.os-release", 13, PackageManagerKind.Apt, LibvirtLayout.Monolithic, BridgeBackend.NetworkManager)]
    public void Real_os_release_files_map_to_the_right_profile(string fixture, int major, PackageManagerKind pm, LibvirtLayout layout, BridgeBackend bridge)
    {
        var profile = FromFixture(fixture);
        Assert.Equal(major, profile.MajorVersion);
        Assert.Equal(pm, profile.PackageManager);
        Assert.Equal(layout, profile.LibvirtLayout);
        Assert.Equal(bridge, profile.BridgeBackend);
        Assert.NotEmpty(profile.KvmPackages);
    }

    [Theory]
    [InlineData("amzn-2.os-release")]
    [InlineData("opensuse-leap-15.6.os-release")]
    [InlineData("opensuse-tumbleweed.os-release")]
    public void Other_releases_are_refused_with_what_was_found(string fixture)
    {
        var e = Assert.Throws<KvmHostException>(() => FromFixture(fixture));
        Assert.Equal(ErrorIds.UnsupportedRelease, e.ErrorId);
        Assert.Contains("ID=", e.Message);
    }

    [Fact]
    public void Rhel7_keeps_the_procedures_package_list_and_rhel9_renames_it()
    {
        Assert.Equal(["qemu-kvm", "qemu-img", "libvirt", "libvirt-python", "libguestfs-tools", "virt-install"], FromFixture("rhel-7.5.os-release").KvmPackages);
        var rhel9 = FromFixture("rhel-9.6.os-release").KvmPackages;
        Assert.Contains("python3-libvirt", rhel9);
        Assert.Contains("guestfs-tools", rhel9);
        Assert.Equal("virt", FromFixture("rhel-8.10.os-release").DnfModule);
    }

    [Fact]
    public void Rhel6_from_redhat_release_is_refused()
    {
        using var scratch = new ScratchRoot().PutFixture("/etc/redhat-release", "os-release/rhel-6.5.redhat-release");
        Assert.Equal(ErrorIds.UnsupportedRelease, Assert.Throws<KvmHostException>(() => ReleaseProfile.Detect(scratch.Root)).ErrorId);
    }

    [Fact]
    public void Redhat_release_alone_is_enough_for_centos7_with_its_trailing_space()
    {
        using var scratch = new ScratchRoot().PutFixture("/etc/redhat-release", "os-release/centos-7.1.1503.centos-release");
        var profile = ReleaseProfile.Detect(scratch.Root);
        Assert.Equal(7, profile.MajorVersion);
        Assert.Equal("centos", profile.Id);
    }

    [Fact]
    public void Usr_lib_os_release_is_the_fallback_and_no_file_is_OsReleaseNotFound()
    {
        using var scratch = new ScratchRoot().PutFixture("/usr/lib/os-release", "os-release/rocky-9.3.os-release");
        Assert.Equal(9, ReleaseProfile.Detect(scratch.Root).MajorVersion);
        using var empty = new ScratchRoot();
        Assert.Equal(ErrorIds.OsReleaseNotFound, Assert.Throws<KvmHostException>(() => ReleaseProfile.Detect(empty.Root)).ErrorId);
    }

    [Fact]
    public void Quoting_and_escapes_follow_the_os_release_spec()
    {
        var release = OsRelease.Parse("NAME=\"Quoted \\\"name\\\"\"\nID='single'\n# VERSION=commented\nVERSION_ID=9.4\n");
        Assert.Equal("Quoted \"name\"", release.Get("NAME"));
        Assert.Equal("single", release.Id);
        Assert.Null(release.Get("VERSION"));
    }
}
