using KvmHost.Core.Platform;
using KvmHost.Core.Services;
using Xunit;

namespace KvmHost.Core.Tests.Services;

public class LibvirtPackagesTests
{
    [Theory]
    [InlineData("libvirt", "Installed")]
    [InlineData("libvirt-daemon-system", "AlreadyInstalled")]
    [InlineData("@virtualization", "Installed")]
    public void Accepts_an_installed_libvirt(string name, string status) =>
        Assert.False(LibvirtPackages.EnsureInstalled([new("qemu-kvm", "Installed", false), new(name, status, false)], previewing: false));

    [Theory]
    [InlineData("Failed")]
    [InlineData("Missing")]
    [InlineData("WouldInstall")]
    public void Refuses_a_libvirt_that_is_not_installed(string status)
    {
        var e = Assert.Throws<KvmHostException>(() => LibvirtPackages.EnsureInstalled([new("libvirt", status, false)], previewing: false));
        Assert.Equal(ErrorIds.LibvirtPackageNotInstalled, e.ErrorId);
        Assert.Contains(status, e.Message);
    }

    [Fact]
    public void A_preview_of_the_install_is_accepted_only_by_a_preview_and_says_the_units_are_pending()
    {
        var preview = new PipedPackage("libvirt", "Missing", WhatIf: true);
        Assert.True(LibvirtPackages.EnsureInstalled([preview], previewing: true));
        var e = Assert.Throws<KvmHostException>(() => LibvirtPackages.EnsureInstalled([preview], previewing: false));
        Assert.Contains("-WhatIf", e.Hint);
        // A read (Get-KvmPackages) saying Missing is no plan to install it.
        Assert.Throws<KvmHostException>(() => LibvirtPackages.EnsureInstalled([new("libvirt", "Missing", false)], previewing: true));
    }

    [Fact]
    public void Refuses_packages_without_libvirt()
    {
        var e = Assert.Throws<KvmHostException>(() => LibvirtPackages.EnsureInstalled([new("qemu-kvm", "Installed", false)], previewing: false));
        Assert.Equal(ErrorIds.LibvirtPackageNotInstalled, e.ErrorId);
    }
}
